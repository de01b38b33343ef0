//! klartext's governance layer, without HTTP: every decision, whoever asks for it (the
//! server's decision routes, `klartext score`, every future decision endpoint), goes
//! through [`Governor::route`] and [`decide::Route::decide`]: which version answers
//! (champion, canary share, shadow), the kill switch and its fallback, objections, the
//! review hold for `significant_effect`, and the prediction-log record, committed before
//! the answer goes out. Governance actions (switching, feedback, objections, erasure,
//! reviews) and their audit events go through it too, as do subject rights, retention,
//! monitoring and API keys.

pub mod decide;
pub mod digest;
pub mod error;
pub mod ids;
pub mod keys;
pub mod log;
pub mod metrics;
pub mod monitoring;
pub mod objections;
pub mod promotion;
pub mod rights;
pub mod serving;

pub use decide::{Answered, Context, Decision, Given, Refused, Request, Route};
pub use error::{GovernError, Result};
pub use keys::{Caller, KeyCache, KeyRefusal};
pub use log::{LogStats, PredictionLog};
pub use serving::{in_canary, ChampionSource, Served, UseCaseState, GOVERNANCE_POLL};

use klartext_core::{Outcome, UseCase};
use klartext_kinds::Operation;
use klartext_store::{ErasureReport, Feedback, Objection, PredictionRecord, Review, Store, Switch};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a process uses governance.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A long-running server: start the group-commit log writer and follow the store's
    /// governance changes. Without it (the command line), decisions are committed as
    /// the caller hands them over, and the state is the one read at open.
    pub serve: bool,
    /// The project's key of the keyed hash ids were pseudonymised with at ingest, so
    /// that subject rights find a subject by its pseudonym too.
    pub pseudonym_key: Option<Vec<u8>>,
}

pub(crate) struct Inner {
    pub store: Arc<dyn Store>,
    pub usecases: BTreeMap<String, UseCaseState>,
    pub log: Option<PredictionLog>,
    pub objected: objections::Objected,
    pub keys: KeyCache,
    pub shutting_down: AtomicBool,
    pub pseudonym_key: Option<Vec<u8>>,
}

/// The governance layer of one process; cheap to clone.
#[derive(Clone)]
pub struct Governor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Governor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governor")
            .field("usecases", &self.inner.usecases.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Governor {
    /// Load what each use case serves as the store has it now.
    pub fn open(store: Arc<dyn Store>, usecases: Vec<UseCase>, opts: Options) -> Result<Governor> {
        let g = store.governance()?;
        let mut map = BTreeMap::new();
        for uc in usecases {
            let u = UseCaseState::new(uc);
            u.refresh(store.as_ref(), &g)?;
            map.insert(u.usecase.id.clone(), u);
        }
        let objected = objections::Objected::default();
        objected.reload(store.as_ref())?;
        let gov = Governor {
            inner: Arc::new(Inner {
                log: opts.serve.then(|| PredictionLog::start(store.clone())),
                store,
                usecases: map,
                objected,
                keys: KeyCache::default(),
                shutting_down: AtomicBool::new(false),
                pseudonym_key: opts.pseudonym_key,
            }),
        };
        if opts.serve {
            serving::start_poller(Arc::downgrade(&gov.inner), g.version);
        }
        Ok(gov)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn keys(&self) -> &KeyCache {
        &self.inner.keys
    }

    pub fn usecase(&self, id: &str) -> Option<&UseCaseState> {
        self.inner.usecases.get(id)
    }

    /// Every use case, by id.
    pub fn usecases(&self) -> impl Iterator<Item = &UseCaseState> {
        self.inner.usecases.values()
    }

    fn usecase_files(&self) -> Vec<UseCase> {
        self.usecases().map(|u| (*u.usecase).clone()).collect()
    }

    fn known(&self, id: &str) -> Result<&UseCaseState> {
        self.usecase(id).ok_or_else(|| GovernError::UnknownUseCase {
            id: id.to_owned(),
            known: self.inner.usecases.keys().cloned().collect(),
        })
    }

    /// What answers a decision of `op` for use case `id` now, or why nothing may.
    pub fn route(&self, id: &str, op: Operation) -> Result<Route> {
        if self.is_shutting_down() {
            return Err(GovernError::ShuttingDown);
        }
        let u = self.known(id)?;
        let kind = u.kind.ok_or_else(|| GovernError::KindNotAvailable {
            usecase: id.to_owned(),
            kind: u.usecase.kind,
        })?;
        if !kind.operations().contains(&op) {
            return Err(GovernError::WrongOperation {
                usecase: id.to_owned(),
                kind: u.usecase.kind,
                op,
                answers: kind.operations().to_vec(),
            });
        }
        let live = u.live();
        if live.switched_off.is_none() && live.champion.is_none() {
            return Err(GovernError::NoModel {
                usecase: id.to_owned(),
            });
        }
        Ok(Route {
            usecase: u.usecase.clone(),
            kind,
            op,
            live,
            objected: self.inner.objected.current(),
        })
    }

    /// [`Governor::route`] with `version` answering every decision instead of the
    /// champion (no challenger): offline scoring with a named version. The kill switch
    /// and objections apply as to any decision.
    pub fn route_pinned(&self, id: &str, op: Operation, version: &str) -> Result<Route> {
        let mut route = match self.route(id, op) {
            Ok(r) => r,
            // The named version answers where no champion would.
            Err(GovernError::NoModel { .. }) => {
                let u = self.known(id)?;
                Route {
                    usecase: u.usecase.clone(),
                    kind: u.kind.expect("route() checked the kind"),
                    op,
                    live: u.live(),
                    objected: self.inner.objected.current(),
                }
            }
            Err(e) => return Err(e),
        };
        let u = self.known(id)?;
        route.live.champion = Some(u.load(self.inner.store.as_ref(), version)?);
        route.live.challenger = None;
        Ok(route)
    }

    /// Make the decisions' log rows durable; only then may their answers go out.
    pub async fn commit(&self, rows: Vec<PredictionRecord>) -> Result<()> {
        match &self.inner.log {
            Some(log) => log.append(rows).await.map_err(|_| {
                tracing::error!("prediction log unavailable; nothing is answered");
                GovernError::LogUnavailable
            }),
            None => self.commit_blocking(&rows),
        }
    }

    /// [`Governor::commit`] from a thread that may block (the command line).
    pub fn commit_blocking(&self, rows: &[PredictionRecord]) -> Result<()> {
        self.inner.store.log_predictions(rows).map_err(|e| {
            tracing::error!(error = %e, "prediction log write failed");
            GovernError::LogUnavailable
        })
    }

    /// The log writer's counters (a server only).
    pub fn log_stats(&self) -> Option<&LogStats> {
        self.inner.log.as_ref().map(PredictionLog::stats)
    }

    /// Re-read aliases, switches and objections from the store now, instead of at the
    /// next poll.
    pub fn refresh(&self) -> Result<()> {
        serving::refresh_all(&self.inner).map(drop)
    }

    /// `(use case, answering version, why that one)` for every use case.
    pub fn champions(&self) -> Vec<(String, Option<String>, ChampionSource)> {
        self.usecases()
            .map(|u| {
                let live = u.live();
                (
                    u.usecase.id.clone(),
                    live.champion.as_ref().map(|s| s.version.clone()),
                    live.source,
                )
            })
            .collect()
    }

    /// Stop taking decisions (a server going down: load balancers stop sending).
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    /// Commit what the log holds and stop its writer.
    pub async fn flush_log(&self) {
        if let Some(log) = &self.inner.log {
            log.flush_and_stop().await;
        }
    }

    // --- Governance actions: each audited by the store, applied here at once and by
    // every other process within a poll. ---

    /// Switch a use case off (it answers its fallback) or on again.
    pub fn switch(&self, usecase: &str, on: bool, actor: &str, reason: &str) -> Result<Switch> {
        self.known(usecase)?;
        let s = self.inner.store.set_switch(usecase, on, actor, reason)?;
        self.refresh()?;
        Ok(s)
    }

    /// Attach a real outcome to a logged decision, read by its kind ("what feedback
    /// means" is the kind's to say).
    ///
    /// A later outcome for the same decision corrects the earlier one: the latest counts
    /// for monitoring, the earlier ones stay as history, at most [`MAX_FEEDBACK`] per
    /// decision. Returns the feedback stored and whether it replaces an earlier one.
    pub fn feedback(
        &self,
        prediction_id: &str,
        outcome: serde_json::Value,
        caller: &str,
    ) -> Result<(Feedback, bool)> {
        let size = outcome.to_string().len();
        if size > MAX_OUTCOME_BYTES {
            return Err(GovernError::InvalidOutcome(format!(
                "the outcome is {size} bytes of JSON; at most {MAX_OUTCOME_BYTES} are kept"
            )));
        }
        let p = self
            .inner
            .store
            .prediction(prediction_id)?
            .ok_or_else(|| GovernError::UnknownPrediction(prediction_id.to_owned()))?;
        let earlier = self.inner.store.feedback(&p.prediction_id)?.len();
        if earlier >= MAX_FEEDBACK {
            return Err(GovernError::FeedbackLimit {
                prediction: p.prediction_id,
                limit: MAX_FEEDBACK,
            });
        }
        let typed: Option<Outcome> = match self.usecase(&p.usecase_id) {
            Some(u) => {
                let kind = u.kind.ok_or_else(|| GovernError::KindNotAvailable {
                    usecase: p.usecase_id.clone(),
                    kind: u.usecase.kind,
                })?;
                Some(
                    kind.outcome(&u.usecase, &outcome)
                        .map_err(GovernError::InvalidOutcome)?,
                )
            }
            // A decision of a use case whose file is gone: kept as sent.
            None => None,
        };
        let fb = Feedback {
            prediction_id: p.prediction_id,
            outcome,
            typed,
            at_ms: klartext_store::now_ms(),
            caller: caller.to_owned(),
        };
        if !self.inner.store.add_feedback(&fb)? {
            return Err(GovernError::UnknownPrediction(prediction_id.to_owned()));
        }
        Ok((fb, earlier > 0))
    }

    /// A subject objects to profiling: no use case decides about them from now on.
    pub fn object(
        &self,
        subject: &str,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<(Objection, bool)> {
        rights::check_subject(subject)?;
        let r = self.inner.store.object_subject(subject, actor, reason)?;
        self.refresh()?;
        Ok(r)
    }

    /// A subject withdraws an objection; `false` when there was none.
    pub fn withdraw_objection(&self, subject: &str, actor: &str) -> Result<bool> {
        rights::check_subject(subject)?;
        let withdrawn = self.inner.store.withdraw_objection(subject, actor)?;
        if withdrawn {
            self.refresh()?;
        }
        Ok(withdrawn)
    }

    /// Everything kept about a subject, found by id and by its pseudonym.
    pub fn export_subject(&self, subject: &str) -> Result<rights::SubjectExport> {
        rights::export(
            self.inner.store.as_ref(),
            &self.usecase_files(),
            subject,
            self.inner.pseudonym_key.as_deref(),
        )
    }

    /// Where a subject's data is kept.
    pub fn find_subject(&self, subject: &str) -> Result<Vec<serde_json::Value>> {
        rights::find(
            self.inner.store.as_ref(),
            &self.usecase_files(),
            subject,
            self.inner.pseudonym_key.as_deref(),
        )
    }

    /// Erase a subject everywhere, found by id and by its pseudonym.
    pub fn erase_subject(&self, subject: &str, actor: &str) -> Result<ErasureReport> {
        let r = rights::erase(
            self.inner.store.as_ref(),
            &self.usecase_files(),
            subject,
            self.inner.pseudonym_key.as_deref(),
            actor,
        )?;
        self.refresh()?;
        Ok(r)
    }

    /// A subject contests a decision: it is queued for a person; `None` when no such
    /// decision is logged.
    pub fn contest(
        &self,
        prediction_id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Option<Review>> {
        Ok(self
            .inner
            .store
            .contest_prediction(prediction_id, reason, actor)?)
    }

    /// A person approves or rejects a decision held for review.
    pub fn decide_review(
        &self,
        prediction_id: &str,
        approve: bool,
        actor: &str,
        note: Option<&str>,
    ) -> Result<Option<Review>> {
        Ok(self
            .inner
            .store
            .decide_review(prediction_id, approve, actor, note)?)
    }

    /// The monitoring report of the version that answers for a use case, now.
    pub fn monitoring_report(
        &self,
        usecase: &str,
    ) -> Result<klartext_monitor::report::MonitoringReport> {
        let u = self.known(usecase)?;
        let version =
            u.served()
                .map(|s| s.version.clone())
                .ok_or_else(|| GovernError::NoModel {
                    usecase: usecase.to_owned(),
                })?;
        monitoring::report(
            self.inner.store.as_ref(),
            &u.usecase,
            &version,
            klartext_store::now_ms(),
        )
    }

    /// Run retention for every use case every `every`, starting now, until the governor
    /// is dropped.
    pub fn start_retention(&self, every: Duration) {
        let inner = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("klartext-retention".into())
            .spawn(move || loop {
                {
                    let Some(inner) = inner.upgrade() else {
                        return;
                    };
                    let ucs: Vec<UseCase> =
                        inner.usecases.values().map(|u| (*u.usecase).clone()).collect();
                    match rights::run_retention(inner.store.as_ref(), &ucs, false, "server:retention") {
                        Ok(reports) => {
                            for r in reports.iter().filter(|r| !r.is_empty()) {
                                tracing::info!(use_case = %r.usecase_id, predictions = r.predictions, registrations = r.registrations.len(), "retention purged expired data");
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "retention failed; retrying at the next run"),
                    }
                }
                // Sleep in short steps so that a dropped governor ends the thread soon.
                let until = Instant::now() + every;
                while Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(500).min(every));
                    if inner.strong_count() == 0 {
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the retention schedule");
        }
    }
}

/// Most outcomes kept for one decision (corrections included).
pub const MAX_FEEDBACK: usize = 10;
/// Largest outcome kept, as JSON.
pub const MAX_OUTCOME_BYTES: usize = 1024;

/// How often a server runs retention.
pub const RETENTION_EVERY: Duration = Duration::from_secs(60 * 60);
