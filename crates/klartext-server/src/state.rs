//! What each use case serves right now, and how that follows the store.
//!
//! The champion alias names the model that answers; a use case whose champion was never
//! set serves, as before aliases existed, the newest version whose gates passed. The kill
//! switch makes a use case answer its fallback. Both live in the store, so every server
//! process sharing it polls the store's governance version (a counter bumped by every
//! alias or switch change, and by a key revocation, which empties the cache of checked
//! keys) and swaps what it serves without a restart.

use crate::error::ServerError;
use crate::metrics;
use klartext_core::UseCase;
use klartext_store::{AliasName, ChallengerMode, Governance, Store, Switch};
use klartext_train::Artifact;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

/// How often a server asks the store whether aliases or switches changed. A switch-off
/// reaches every process within this plus the time to answer one request.
pub const GOVERNANCE_POLL: Duration = Duration::from_millis(200);

/// A model being served for a use case.
pub(crate) struct Served {
    pub version: String,
    pub artifact: Artifact,
    pub metrics: metrics::Series,
}

/// Why a use case serves the model it serves.
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

/// A challenger beside the champion: in shadow mode it scores every request after the
/// champion and is logged but never answers; in canary mode it answers its share of
/// subjects (see [`Route::pick`]).
#[derive(Clone)]
pub(crate) struct Challenger {
    pub served: Arc<Served>,
    pub mode: ChallengerMode,
    pub canary_share: Option<f64>,
}

/// Which models a request goes to: read once per request (or stream block), so that a
/// promotion in between never splits one request across states.
#[derive(Clone)]
pub(crate) struct Route {
    pub champion: Arc<Served>,
    pub challenger: Option<Challenger>,
    /// Objections and human review (see `subjects`).
    pub policy: crate::subjects::Policy,
}

impl Route {
    /// The model that answers `subject`, and the one that scores it in shadow, if any.
    ///
    /// Canary: subjects in the challenger's share (a hash of use case and subject id, so
    /// sticky) are answered by the challenger; a request without a subject id cannot be
    /// routed stickily and is answered by the champion. Shadow: the champion answers and
    /// the challenger scores beside it.
    pub(crate) fn pick(
        &self,
        usecase: &str,
        subject: Option<&str>,
    ) -> (&Arc<Served>, Option<&Arc<Served>>) {
        match &self.challenger {
            None => (&self.champion, None),
            Some(c) => match c.mode {
                ChallengerMode::Shadow => (&self.champion, Some(&c.served)),
                ChallengerMode::Canary => match (subject, c.canary_share) {
                    (Some(s), Some(share)) if in_canary(usecase, s, share) => (&c.served, None),
                    _ => (&self.champion, None),
                },
            },
        }
    }
}

/// What a use case serves at this moment.
#[derive(Clone)]
pub(crate) struct Live {
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

pub(crate) struct UseCaseState {
    pub usecase: UseCase,
    live: RwLock<Live>,
    /// Models loaded so far, by version: a rollback to one of them is instant, and its
    /// metrics series keeps counting.
    loaded: Mutex<BTreeMap<String, Arc<Served>>>,
}

impl UseCaseState {
    pub(crate) fn new(usecase: UseCase) -> UseCaseState {
        UseCaseState {
            usecase,
            live: RwLock::new(Live::default()),
            loaded: Mutex::new(BTreeMap::new()),
        }
    }

    /// The model that answers, if any.
    pub(crate) fn served(&self) -> Option<Arc<Served>> {
        self.live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .champion
            .clone()
    }

    /// The champion and challenger, read together, for routing requests.
    pub(crate) fn route(&self) -> Option<Route> {
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        Some(Route {
            champion: live.champion.clone()?,
            challenger: live.challenger.clone(),
            policy: crate::subjects::Policy::default(),
        })
    }

    /// Everything served right now, consistently.
    pub(crate) fn live(&self) -> Live {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every model loaded so far (for metrics).
    pub(crate) fn all_loaded(&self) -> Vec<Arc<Served>> {
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn load(&self, store: &dyn Store, version: &str) -> Result<Arc<Served>, ServerError> {
        if let Some(s) = self
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(version)
        {
            return Ok(s.clone());
        }
        let id = &self.usecase.id;
        let m = store.model(id, version)?.ok_or_else(|| {
            ServerError::Store(klartext_store::StoreError::Refused(format!(
                "use case `{id}`: model version {version} is not in the store"
            )))
        })?;
        let bytes = store.model_bytes(&m)?;
        let artifact = Artifact::from_bytes(&bytes).map_err(|source| ServerError::Model {
            usecase: id.clone(),
            version: m.version.clone(),
            source,
        })?;
        let served = Arc::new(Served {
            metrics: metrics::Series::new(id, &m.version),
            version: m.version,
            artifact,
        });
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(served.version.clone(), served.clone());
        Ok(served)
    }

    /// Work out what to serve under `g` (loading models as needed), then swap it in.
    pub(crate) fn refresh(&self, store: &dyn Store, g: &Governance) -> Result<(), ServerError> {
        let id = &self.usecase.id;
        let alias = |name| {
            g.aliases
                .iter()
                .find(|a| &a.usecase_id == id && a.alias == name)
        };
        let (champion, source) = match alias(AliasName::Champion) {
            Some(a) => (Some(self.load(store, &a.version)?), ChampionSource::Alias),
            None if g.champion_ever_set.contains(id) => (None, ChampionSource::None),
            None => match store.models(id)?.into_iter().find(|m| m.gates_passed) {
                Some(m) => (
                    Some(self.load(store, &m.version)?),
                    ChampionSource::NewestPassed,
                ),
                None => (None, ChampionSource::None),
            },
        };
        let challenger = match alias(AliasName::Challenger) {
            Some(a) => Some(Challenger {
                served: self.load(store, &a.version)?,
                mode: a.mode.unwrap_or(ChallengerMode::Shadow),
                canary_share: a.canary_share,
            }),
            None => None,
        };
        let switched_off = g
            .switches
            .iter()
            .find(|s| &s.usecase_id == id && !s.on)
            .cloned();
        let live = Live {
            champion,
            source,
            challenger,
            switched_off,
        };
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = live;
        Ok(())
    }
}

/// Load every use case's state as the store has it now.
pub(crate) fn load(
    store: &dyn Store,
    usecases: Vec<UseCase>,
) -> Result<(BTreeMap<String, UseCaseState>, i64), ServerError> {
    let g = store.governance()?;
    let mut map = BTreeMap::new();
    for uc in usecases {
        let u = UseCaseState::new(uc);
        u.refresh(store, &g)?;
        map.insert(u.usecase.id.clone(), u);
    }
    Ok((map, g.version))
}

/// Re-read governance and refresh every use case. A model that cannot be loaded keeps
/// the use case on what it served before (and is logged), rather than taking it down.
pub(crate) fn refresh_all(inner: &crate::Inner) -> Result<i64, ServerError> {
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

/// Poll the store's governance version until the state is dropped.
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
                                "aliases, switches or keys changed; now serving the new state"
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
