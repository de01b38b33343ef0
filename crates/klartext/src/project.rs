//! A klartext project on disk: finding it, its config file, its use cases, its store.

use anyhow::{bail, Context, Result};
use klartext_core::UseCase;
use klartext_store::SqliteStore;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "klartext.toml";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub project: ProjectSection,
    #[serde(default)]
    pub store: StoreSection,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `sqlite` (embedded, the default).
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Folder of the embedded store, relative to the project.
    #[serde(default = "default_path")]
    pub path: String,
}

fn default_kind() -> String {
    "sqlite".into()
}
fn default_path() -> String {
    "store".into()
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            kind: default_kind(),
            path: default_path(),
        }
    }
}

#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
    pub config: Config,
}

impl Project {
    /// Create a project in `dir` (which may exist, but must not be a project yet).
    pub fn init(dir: &Path) -> Result<Project> {
        if dir.join(CONFIG_FILE).exists() {
            bail!("{} is already a klartext project", dir.display());
        }
        std::fs::create_dir_all(dir.join("usecases"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "klartext".into());
        let config = Config {
            project: ProjectSection { name },
            store: StoreSection::default(),
        };
        let text = format!(
            "# klartext project settings\n{}",
            toml::to_string(&config).context("cannot write the project settings")?
        );
        std::fs::write(dir.join(CONFIG_FILE), text)
            .with_context(|| format!("cannot write {}", dir.join(CONFIG_FILE).display()))?;
        let p = Project {
            root: dir.to_owned(),
            config,
        };
        p.open_store()?;
        p.secret_key()?;
        Ok(p)
    }

    /// The project at `explicit`, or the nearest folder upwards from the current one.
    pub fn find(explicit: Option<&Path>) -> Result<Project> {
        let root = match explicit {
            Some(p) => {
                if !p.join(CONFIG_FILE).is_file() {
                    bail!("{} is not a klartext project (no {CONFIG_FILE}); create one with `klartext init`", p.display());
                }
                p.to_owned()
            }
            None => {
                let cwd = std::env::current_dir().context("cannot read the current folder")?;
                cwd.ancestors()
                    .find(|d| d.join(CONFIG_FILE).is_file())
                    .map(Path::to_owned)
                    .with_context(|| {
                        format!("no klartext project in {} or above; run `klartext init` or pass --project DIR", cwd.display())
                    })?
            }
        };
        let path = root.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let config: Config = toml::from_str(&text).map_err(|e| {
            let (line, col) = e.span().map_or((0, 0), |s| line_col(&text, s.start));
            anyhow::anyhow!("{}:{line}:{col}: {}", path.display(), e.message().trim())
        })?;
        if config.store.kind != "sqlite" {
            bail!(
                "{}: store kind `{}` is not supported by this build; use `sqlite`",
                path.display(),
                config.store.kind
            );
        }
        Ok(Project { root, config })
    }

    pub fn usecase_dir(&self) -> PathBuf {
        self.root.join("usecases")
    }

    pub fn store_dir(&self) -> PathBuf {
        self.root.join(&self.config.store.path)
    }

    pub fn open_store(&self) -> Result<SqliteStore> {
        SqliteStore::open(&self.store_dir())
            .with_context(|| format!("cannot open the store in {}", self.store_dir().display()))
    }

    /// Every use-case file, parsed: (path, result).
    pub fn load_usecases(
        &self,
    ) -> Result<Vec<(PathBuf, Result<UseCase, klartext_core::UseCaseError>)>> {
        let dir = self.usecase_dir();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        Ok(paths
            .into_iter()
            .map(|p| {
                let r = load_usecase_file(&p);
                (p, r)
            })
            .collect())
    }

    /// One use case by id.
    pub fn usecase(&self, id: &str) -> Result<UseCase> {
        let path = self.usecase_dir().join(format!("{id}.toml"));
        if !path.is_file() {
            let known: Vec<String> = self
                .load_usecases()?
                .into_iter()
                .filter_map(|(p, _)| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect();
            bail!(
                "use case `{id}` does not exist (no {}); known use cases: {}",
                path.display(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            );
        }
        let uc = load_usecase_file(&path)?;
        self.record_usecase(&uc.id, &path)?;
        Ok(uc)
    }

    /// Audit the use-case file's content when klartext first acts on it or on a changed
    /// version of it: the file lives outside the store, its history in the audit trail.
    fn record_usecase(&self, id: &str, path: &Path) -> Result<()> {
        use sha2::Digest;
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        klartext_store::Store::record_usecase(&self.open_store()?, id, &sha256, &actor())?;
        Ok(())
    }

    /// Every use case that loads; a broken file is warned about and left out, so that
    /// it does not take every other use case offline.
    pub fn loadable_usecases(&self) -> Result<Vec<UseCase>> {
        let mut usecases = Vec::new();
        for (path, uc) in self.load_usecases()? {
            match uc {
                Ok(uc) => usecases.push(uc),
                Err(e) => eprintln!("warning: {} is left out: {e}", path.display()),
            }
        }
        Ok(usecases)
    }

    /// The governance layer over the project's store for `usecases`; `serve` for a
    /// long-running server (log writer, following the store).
    pub fn governor(
        &self,
        usecases: Vec<UseCase>,
        serve: bool,
    ) -> Result<klartext_govern::Governor> {
        let store: std::sync::Arc<dyn klartext_store::Store> =
            std::sync::Arc::new(self.open_store()?);
        Ok(klartext_govern::Governor::open(
            store,
            usecases,
            klartext_govern::Options {
                serve,
                pseudonym_key: Some(self.secret_key()?),
            },
        )?)
    }

    /// The project's secret key for keyed hashes, created on first use, readable by the owner only.
    pub fn secret_key(&self) -> Result<Vec<u8>> {
        let path = self.store_dir().join("secret.key");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return hex_decode(text.trim())
                .with_context(|| format!("{} is damaged", path.display()));
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)
            .map_err(|e| anyhow::anyhow!("no randomness for the project key: {e}"))?;
        std::fs::create_dir_all(self.store_dir())?;
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        write_private(&path, hex.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(key.to_vec())
    }
}

fn load_usecase_file(path: &Path) -> Result<UseCase, klartext_core::UseCaseError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| klartext_core::UseCaseError {
        file: shown.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    klartext_kinds::usecase::load(&shown, &text, stem.as_deref())
}

fn hex_decode(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        bail!("odd length");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(anyhow::Error::from))
        .collect()
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    (
        before.matches('\n').count() + 1,
        before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
    )
}

/// Who is acting: the operating-system user running the command (`cli:<name>`), with
/// `KLARTEXT_ACTOR`, when set, as a label beside it (`cli:anna (ticket 4711)`) — never
/// instead of it, so a label cannot hide who did it.
pub fn actor() -> String {
    let label = std::env::var("KLARTEXT_ACTOR")
        .ok()
        .map(|l| l.trim().chars().take(200).collect::<String>())
        .filter(|l| !l.is_empty());
    match label {
        Some(l) => format!("cli:{} ({l})", os_user()),
        None => format!("cli:{}", os_user()),
    }
}

/// The name of the user the process runs as, from the system's user database (not
/// from `$USER`, which anyone can set); `uid <n>` when it has no name.
#[cfg(unix)]
fn os_user() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let id: u32 = f.nth(1)?.parse().ok()?;
                (id == uid).then(|| name.to_owned())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

#[cfg(not(unix))]
fn os_user() -> String {
    std::env::var("USERNAME").unwrap_or_else(|_| "unknown".into())
}
