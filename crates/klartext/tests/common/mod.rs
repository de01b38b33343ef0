//! Shared helpers for the CLI integration tests: a temporary project, running the real
//! binary, and checks that a failed command left nothing behind.

#![allow(dead_code)]

pub mod server;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `klartext` binary built for these tests, with a clean environment: no inherited
/// project, failpoint or actor, so every test sees the same behaviour.
pub fn klartext() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_klartext"));
    c.env_remove("KLARTEXT_PROJECT")
        .env_remove("KLARTEXT_FAILPOINT")
        .env("KLARTEXT_ACTOR", "test")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Run {
    pub output: Output,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(output: Output) -> Run {
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        Run {
            output,
            stdout,
            stderr,
        }
    }

    pub fn ok(&self) -> bool {
        self.output.status.success()
    }

    /// Panic with everything printed unless the command succeeded.
    pub fn assert_ok(&self) -> &Run {
        assert!(
            self.ok(),
            "command failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            self.output.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// The one JSON document on stdout.
    pub fn json(&self) -> Value {
        self.assert_ok();
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }

    /// Assert a failure with exit code 1 (not a signal, not a panic) and exactly one line
    /// on stderr starting with `error: `; return that line.
    pub fn one_line_error(&self) -> String {
        assert!(
            !self.ok(),
            "command should have failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert_eq!(
            self.output.status.code(),
            Some(1),
            "expected exit code 1 (a handled error), got {:?}\nstderr:\n{}",
            self.output.status,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the binary panicked:\n{}",
            self.stderr
        );
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one error line on stderr, got:\n{}",
            self.stderr
        );
        assert!(
            lines[0].starts_with("error: "),
            "error line must start with `error: `: {}",
            lines[0]
        );
        lines[0].to_owned()
    }
}

/// Run a prepared command to completion.
pub fn run(cmd: &mut Command) -> Run {
    Run::from(cmd.output().expect("the klartext binary runs"))
}

/// A project in a temporary folder: `tmp/proj` is the project, `tmp` holds input files.
#[derive(Debug)]
pub struct Project {
    tmp: tempfile::TempDir,
    pub root: PathBuf,
}

/// A classification use case as PRODUCT.md writes one: target `churn`, positive `yes`.
pub const CHURN_USECASE: &str = r#"id = "churn"
title = "Churn risk for subscription customers"
goal = "Find customers likely to cancel in the next 90 days so that retention calls them first."
kpi = "retention rate of contacted customers"
kind = "classification"
owner = "crm-team@example.com"
risk = "limited"
legal_basis = "legitimate interest, GDPR Art. 6(1)(f)"
significant_effect = false

[data]
target = "churn"
positive = "yes"
id = "customer_id"

[fallback]
score = 0.0
"#;

/// A small valid data file for [`CHURN_USECASE`].
pub const SMALL_CSV: &str = "customer_id,age,plan,churn\n\
C001,34,basic,yes\n\
C002,45,pro,no\n\
C003,29,basic,no\n\
C004,52,premium,yes\n\
C005,41,pro,no\n\
C006,38,basic,no\n";

impl Project {
    /// `klartext init` a new project; it has no use cases yet.
    pub fn new() -> Project {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().join("proj");
        run(klartext().arg("init").arg(&root)).assert_ok();
        Project { tmp, root }
    }

    /// A new project with the `churn` use case.
    pub fn with_churn() -> Project {
        let p = Project::new();
        p.usecase("churn", CHURN_USECASE);
        p
    }

    /// The temporary folder around the project (for input files).
    pub fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    /// Write `usecases/<id>.toml`.
    pub fn usecase(&self, id: &str, toml: &str) {
        std::fs::write(self.root.join("usecases").join(format!("{id}.toml")), toml)
            .expect("write use case");
    }

    /// Write an input file beside the project and return its path.
    pub fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.tmp().join(name);
        std::fs::write(&path, bytes).expect("write input file");
        path
    }

    /// A `klartext` command with `--project DIR`.
    pub fn cmd(&self) -> Command {
        let mut c = klartext();
        c.arg("--project").arg(&self.root);
        c
    }

    /// Run `klartext --project DIR ARGS...`.
    pub fn run(&self, args: &[&str]) -> Run {
        run(self.cmd().args(args))
    }

    /// `data add FILE --usecase ID --json [EXTRA...]`.
    pub fn add(&self, file: &Path, usecase: &str, extra: &[&str]) -> Run {
        run(self
            .cmd()
            .args(["data", "add"])
            .arg(file)
            .args(["--usecase", usecase, "--json"])
            .args(extra))
    }

    /// `data list --json`, which must succeed.
    pub fn datasets(&self) -> Vec<Value> {
        match self.run(&["data", "list", "--json"]).json() {
            Value::Array(items) => items,
            other => panic!("data list --json is not an array: {other}"),
        }
    }

    /// `audit log --json`, which must succeed.
    pub fn audit_events(&self) -> Vec<Value> {
        match self.run(&["audit", "log", "--json"]).json() {
            Value::Array(items) => items,
            other => panic!("audit log --json is not an array: {other}"),
        }
    }

    /// The `dataset.registered` audit events.
    pub fn registered_events(&self) -> Vec<Value> {
        self.audit_events()
            .into_iter()
            .filter(|e| e["action"] == "dataset.registered")
            .collect()
    }

    /// `audit verify` succeeds and reports an intact chain.
    pub fn assert_audit_intact(&self) {
        let v = self.run(&["audit", "verify", "--json"]).json();
        assert_eq!(v["intact"], true, "audit chain broken: {v}");
    }

    /// Snapshot files in `store/snapshots` (complete ones, not temporary files).
    pub fn snapshot_files(&self) -> Vec<PathBuf> {
        self.store_files(|n| !n.starts_with('.'))
    }

    /// Temporary files a crashed write left in `store/snapshots`.
    pub fn temp_snapshot_files(&self) -> Vec<PathBuf> {
        self.store_files(|n| n.starts_with('.') && n.ends_with(".tmp"))
    }

    fn store_files(&self, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
        let dir = self.root.join("store").join("snapshots");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| keep(&e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect();
        out.sort();
        out
    }

    /// The failed command left no trace: no registration, no audit event, no snapshot.
    pub fn assert_nothing_registered(&self) {
        assert_eq!(
            self.datasets(),
            Vec::<Value>::new(),
            "a dataset was registered"
        );
        assert!(
            self.registered_events().is_empty(),
            "a dataset.registered audit event was written: {:?}",
            self.audit_events()
        );
        assert_eq!(
            self.snapshot_files(),
            Vec::<PathBuf>::new(),
            "a snapshot file was written"
        );
        self.assert_audit_intact();
    }
}

/// The JSON report's PII findings as (column, kind) pairs, sorted.
pub fn pii_pairs(report: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = report["report"]["pii"]
        .as_array()
        .expect("report.pii is an array")
        .iter()
        .map(|p| {
            (
                p["column"].as_str().unwrap().to_owned(),
                p["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The schema entry of one column in a `data add --json` answer.
pub fn column<'a>(added: &'a Value, name: &str) -> &'a Value {
    added["schema"]
        .as_array()
        .expect("schema is an array")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column `{name}` in schema: {}", added["schema"]))
}

/// The quality-report profile of one column in a `data add --json` answer.
pub fn profile<'a>(added: &'a Value, name: &str) -> &'a Value {
    added["report"]["columns"]
        .as_array()
        .expect("report.columns is an array")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column `{name}` in report"))
}

/// Gzip bytes (fast level; the exact bytes do not matter to the tests).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip in memory");
    enc.finish().expect("gzip in memory")
}

/// The example use case with gates any model of a small sample passes: for tests about
/// serving, monitoring and documents rather than model quality.
pub fn relaxed_usecase() -> String {
    klartext_data::generate::EXAMPLE_USECASE
        .replace("min_auc = 0.75", "min_auc = 0.5")
        .replace("max_overfit_gap = 0.05", "max_overfit_gap = 1.0")
        .replace(
            "min_demographic_parity_ratio = 0.8",
            "min_demographic_parity_ratio = 0.0",
        )
}

/// The example use case with gates a small model passes.
pub fn relaxed(extra_gates: &str, min_auc: &str) -> String {
    klartext_data::generate::EXAMPLE_USECASE
        .replace(
            "min_auc = 0.75",
            &format!("min_auc = {min_auc}{extra_gates}"),
        )
        .replace("max_overfit_gap = 0.05", "max_overfit_gap = 1.0")
        .replace(
            "min_demographic_parity_ratio = 0.8",
            "min_demographic_parity_ratio = 0.0",
        )
}

/// A project with two trained versions of `churn` (seeds 1 and 2), oldest first.
pub fn two_versions() -> (Project, String, String) {
    let p = Project::new();
    p.usecase("churn", &relaxed("", "0.5"));
    let csv = p.tmp().join("customers.csv");
    p.run(&[
        "data",
        "generate",
        "--rows",
        "1500",
        "--seed",
        "1",
        "-o",
        csv.to_str().unwrap(),
    ])
    .assert_ok();
    p.add(&csv, "churn", &[]).assert_ok();
    let v = |seed: &str| {
        p.run(&["train", "churn", "--seed", seed, "--json"]).json()["version"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let a = v("1");
    let b = v("2");
    assert_ne!(a, b);
    (p, a, b)
}
