//! What each use case serves right now, and how that follows the store.
//!
//! One rule names the version that answers ([`serving_version`]): the champion alias; a
//! use case whose champion was never set serves, as before aliases existed, the newest
//! version whose gates passed. The kill switch makes a use case answer its fallback.
//! Both live in the store, so every process sharing it polls the store's governance
//! version (a counter bumped by every alias or switch change, by objections, and by a key
//! revocation, which empties the cache of checked keys) and swaps what it serves without
//! a restart.

use crate::error::{GovernError, Result};
use crate::metrics::Series;
use klartext_core::UseCase;
use klartext_kinds::{Artifact, Kind, Lineage, Model};
use klartext_store::{AliasName, ChallengerMode, Governance, ModelRecord, Store, Switch};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

/// How often a process asks the store whether aliases or switches changed. A switch-off
/// reaches every process within this plus the time to answer one request.
pub const GOVERNANCE_POLL: Duration = Duration::from_millis(200);

/// A model version loaded for a use case.
pub struct Served {
    pub version: String,
    pub lineage: Lineage,
    pub model: Arc<dyn Model>,
    pub metrics: Series,
}

/// Why a use case serves the version it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChampionSource {
    /// The `champion` alias.
    Alias,
    /// No alias was ever set: the newest version whose gates passed.
    NewestPassed,
    /// Nothing to serve.
    None,
}

impl ChampionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ChampionSource::Alias => "champion alias",
            ChampionSource::NewestPassed => {
                "newest version whose gates passed (no champion alias was ever set)"
            }
            ChampionSource::None => "none",
        }
    }
}

/// The version that answers for `usecase` under the governance state `g`, and why.
/// `models` (newest first) is read only when no champion alias decides.
pub fn serving_version(
    g: &Governance,
    usecase: &str,
    models: impl FnOnce() -> Result<Vec<ModelRecord>>,
) -> Result<(Option<String>, ChampionSource)> {
    if let Some(a) = g
        .aliases
        .iter()
        .find(|a| a.usecase_id == usecase && a.alias == AliasName::Champion)
    {
        return Ok((Some(a.version.clone()), ChampionSource::Alias));
    }
    if g.champion_ever_set.iter().any(|u| u == usecase) {
        return Ok((None, ChampionSource::None));
    }
    Ok(match models()?.into_iter().find(|m| m.gates_passed) {
        Some(m) => (Some(m.version), ChampionSource::NewestPassed),
        None => (None, ChampionSource::None),
    })
}

/// A challenger beside the champion: in shadow mode it decides every request after the
/// champion and is logged but never answers; in canary mode it answers its share of
/// subjects.
#[derive(Clone)]
pub struct Challenger {
    pub served: Arc<Served>,
    pub mode: ChallengerMode,
    pub canary_share: Option<f64>,
}

/// What a use case serves at one moment: read once per request (or stream block), so
/// that a promotion in between never splits one request across states.
#[derive(Clone)]
pub struct Live {
    pub champion: Option<Arc<Served>>,
    pub source: ChampionSource,
    pub challenger: Option<Challenger>,
    /// `Some` while switched off: answer the fallback.
    pub switched_off: Option<Switch>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            champion: None,
            source: ChampionSource::None,
            challenger: None,
            switched_off: None,
        }
    }
}

impl Live {
    /// The version that answers `subject`, and the one that decides it in shadow.
    ///
    /// Canary: subjects in the challenger's share (a hash of use case and subject id, so
    /// sticky) are answered by the challenger; a request without a subject id cannot be
    /// routed stickily and is answered by the champion. Shadow: the champion answers and
    /// the challenger decides beside it.
    pub fn pick(
        &self,
        usecase: &str,
        subject: Option<&str>,
    ) -> Option<(&Arc<Served>, Option<&Arc<Served>>)> {
        let champion = self.champion.as_ref()?;
        Some(match &self.challenger {
            None => (champion, None),
            Some(c) => match c.mode {
                ChallengerMode::Shadow => (champion, Some(&c.served)),
                ChallengerMode::Canary => match (subject, c.canary_share) {
                    (Some(s), Some(share)) if in_canary(usecase, s, share) => (&c.served, None),
                    _ => (champion, None),
                },
            },
        })
    }
}

/// One use case as a process serves it.
pub struct UseCaseState {
    pub usecase: Arc<UseCase>,
    /// Its kind's module; `None` when this build has none (nothing can answer it).
    pub kind: Option<&'static dyn Kind>,
    live: RwLock<Live>,
    /// Versions loaded so far: a rollback to one of them is instant, and its metrics
    /// series keeps counting.
    loaded: Mutex<BTreeMap<String, Arc<Served>>>,
}

impl UseCaseState {
    pub fn new(usecase: UseCase) -> UseCaseState {
        UseCaseState {
            kind: klartext_kinds::kind_of(usecase.kind).ok(),
            usecase: Arc::new(usecase),
            live: RwLock::new(Live::default()),
            loaded: Mutex::new(BTreeMap::new()),
        }
    }

    /// Everything served right now, consistently.
    pub fn live(&self) -> Live {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The version that answers, if any.
    pub fn served(&self) -> Option<Arc<Served>> {
        self.live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .champion
            .clone()
    }

    /// Every version loaded so far (for metrics).
    pub fn all_loaded(&self) -> Vec<Arc<Served>> {
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Load a version (or take it from those loaded).
    pub fn load(&self, store: &dyn Store, version: &str) -> Result<Arc<Served>> {
        if let Some(s) = self
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(version)
        {
            return Ok(s.clone());
        }
        let id = &self.usecase.id;
        let kind = self.kind.ok_or_else(|| GovernError::KindNotAvailable {
            usecase: id.clone(),
            kind: self.usecase.kind,
        })?;
        let m = store.model(id, version)?.ok_or_else(|| {
            GovernError::Store(klartext_store::StoreError::Refused(format!(
                "use case `{id}`: model version {version} is not in the store"
            )))
        })?;
        let bytes = store.model_bytes(&m)?;
        let model_error = |source| GovernError::Model {
            usecase: id.clone(),
            version: m.version.clone(),
            source,
        };
        let artifact = Artifact::from_bytes(&bytes).map_err(model_error)?;
        let model = kind.load(&artifact).map_err(model_error)?;
        let served = Arc::new(Served {
            metrics: Series::new(id, &m.version),
            version: m.version.clone(),
            lineage: artifact.header.lineage,
            model,
        });
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(served.version.clone(), served.clone());
        Ok(served)
    }

    /// Work out what to serve under `g` (loading versions as needed), then swap it in.
    pub fn refresh(&self, store: &dyn Store, g: &Governance) -> Result<()> {
        let id = &self.usecase.id;
        let (version, source) = serving_version(g, id, || Ok(store.models(id)?))?;
        // A kind without a module loads nothing; it answers no model (or its fallback).
        let champion = match (version, self.kind) {
            (Some(v), Some(_)) => Some(self.load(store, &v)?),
            _ => None,
        };
        let challenger = match g
            .aliases
            .iter()
            .find(|a| &a.usecase_id == id && a.alias == AliasName::Challenger)
        {
            Some(a) if self.kind.is_some() => Some(Challenger {
                served: self.load(store, &a.version)?,
                mode: a.mode.unwrap_or(ChallengerMode::Shadow),
                canary_share: a.canary_share,
            }),
            _ => None,
        };
        let switched_off = g
            .switches
            .iter()
            .find(|s| &s.usecase_id == id && !s.on)
            .cloned();
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = Live {
            champion,
            source,
            challenger,
            switched_off,
        };
        Ok(())
    }
}

/// Refresh every use case under the store's governance state now. A version that
/// cannot be loaded keeps the use case on what it served before (and is logged),
/// rather than taking it down.
pub(crate) fn refresh_all(inner: &crate::Inner) -> Result<i64> {
    let g = inner.store.governance()?;
    // Objections bump the same version: re-read them with aliases and switches.
    inner.objected.reload(inner.store.as_ref())?;
    for u in inner.usecases.values() {
        if let Err(e) = u.refresh(inner.store.as_ref(), &g) {
            tracing::error!(use_case = %u.usecase.id, error = %e, "cannot apply the new champion; still serving the previous one");
        }
    }
    Ok(g.version)
}

/// Poll the store's governance version until the governor is dropped.
pub(crate) fn start_poller(inner: Weak<crate::Inner>, mut seen: i64) {
    let spawned = std::thread::Builder::new()
        .name("klartext-governance".into())
        .spawn(move || loop {
            std::thread::sleep(GOVERNANCE_POLL);
            let Some(inner) = inner.upgrade() else {
                return;
            };
            match inner.store.governance_version() {
                Ok(v) if v != seen => {
                    // A key revocation bumps the version too: forget the checked keys.
                    inner.keys.clear();
                    match refresh_all(&inner) {
                        Ok(v) => {
                            tracing::info!(
                                governance_version = v,
                                "aliases, switches, objections or keys changed; now serving the new state"
                            );
                            seen = v;
                        }
                        Err(e) => tracing::error!(error = %e, "cannot read governance state"),
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "cannot poll governance state"),
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the governance poller; aliases and switches apply after a restart only");
    }
}

/// Sticky canary routing: does `subject` fall in a canary's `share` of subjects? The
/// same subject always lands on the same side (a hash, not a coin flip).
pub fn in_canary(usecase: &str, subject: &str, share: f64) -> bool {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{usecase}\n{subject}").as_bytes());
    let x = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
    (x as f64 / u64::MAX as f64) < share
}

#[cfg(test)]
mod tests {
    use super::in_canary;

    #[test]
    fn canary_share_is_within_two_points_over_10000_subjects_and_sticky() {
        for share in [0.05, 0.1, 0.25, 0.5] {
            let hits = (0..10_000)
                .filter(|i| in_canary("churn", &format!("c-{i}"), share))
                .count();
            let got = hits as f64 / 10_000.0;
            assert!((got - share).abs() < 0.02, "share {share}: got {got}");
            for i in 0..500 {
                let s = format!("c-{i}");
                assert_eq!(in_canary("churn", &s, share), in_canary("churn", &s, share));
            }
        }
        // A bigger share keeps every subject of a smaller one (raising the share only adds).
        assert!((0..2000)
            .map(|i| format!("c-{i}"))
            .filter(|s| in_canary("churn", s, 0.1))
            .all(|s| in_canary("churn", &s, 0.2)));
    }
}
