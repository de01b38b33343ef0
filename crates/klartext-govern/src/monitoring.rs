//! Monitoring of a served use case: the version that answers (the one rule of
//! [`crate::serving::serving_version`]), its traffic and feedback read from the store for
//! its kind to judge, and the alerts that calls for raised (audited, so webhooks deliver
//! them) at most once per window. Used by the server's report route and schedule, and by
//! `klartext monitor` and `klartext drift`.

use crate::error::{GovernError, Result};
use crate::serving::serving_version;
use klartext_core::{Frame, UseCase};
use klartext_kinds::kind::{LoggedOutcome, VisitLogged};
use klartext_kinds::{kind_of, Artifact, KindError, MonitorInput, MonitorSource};
use klartext_monitor::report::{MonitoringReport, Severity};
use klartext_store::{NewAuditEvent, Store};
use std::time::Duration;

/// How often a server checks every use case for alerts.
pub const MONITOR_EVERY: Duration = Duration::from_secs(15 * 60);

/// The version monitoring looks at: the one that answers.
pub fn monitored_version(store: &dyn Store, usecase: &str) -> Result<Option<String>> {
    let g = store.governance()?;
    Ok(serving_version(&g, usecase, || Ok(store.models(usecase)?))?.0)
}

/// The traffic and feedback of one version, read from the store.
struct StoreSource<'a> {
    store: &'a dyn Store,
    uc: &'a UseCase,
    version: &'a str,
}

impl MonitorSource for StoreSource<'_> {
    fn visit(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut VisitLogged<'_>,
    ) -> std::result::Result<usize, String> {
        self.store
            .visit_monitored(&self.uc.id, self.version, from_ms, to_ms, f)
            .map_err(|e| e.to_string())
    }

    fn outcomes(&self, since_ms: i64) -> std::result::Result<Vec<LoggedOutcome>, String> {
        let kind = kind_of(self.uc.kind).map_err(|e| e.to_string())?;
        let rows = self
            .store
            .monitored_outcomes(&self.uc.id, self.version, since_ms)
            .map_err(|e| e.to_string())?;
        // Feedback stored before outcomes were read on arrival is read by the kind now.
        Ok(rows
            .into_iter()
            .map(|o| {
                let typed = o.typed.or_else(|| kind.outcome(self.uc, &o.outcome).ok());
                (o.at_ms, o.score, typed)
            })
            .collect())
    }
}

fn unmonitorable(uc: &UseCase, version: &str, e: KindError) -> GovernError {
    match e {
        KindError::Unmonitorable(message) | KindError::Report(message) => {
            GovernError::Unmonitorable {
                usecase: uc.id.clone(),
                version: version.to_owned(),
                message,
            }
        }
        other => GovernError::Kind(other),
    }
}

/// What the kind needs of a version besides its traffic, read from the store.
struct Stored {
    artifact: Artifact,
    report: serde_json::Value,
    reference: Option<String>,
}

fn stored(store: &dyn Store, uc: &UseCase, version: &str) -> Result<Stored> {
    let model = store
        .model(&uc.id, version)?
        .ok_or_else(|| GovernError::Unmonitorable {
            usecase: uc.id.clone(),
            version: version.to_owned(),
            message: "no such model version".into(),
        })?;
    let bytes = store.model_bytes(&model)?;
    let artifact = Artifact::from_bytes(&bytes).map_err(|source| GovernError::Model {
        usecase: uc.id.clone(),
        version: version.to_owned(),
        source,
    })?;
    Ok(Stored {
        artifact,
        reference: store.model_reference(&uc.id, version)?,
        report: model.report,
    })
}

/// Ask the use case's kind about `version`, with what it needs read from the store.
fn ask_kind<T>(
    store: &dyn Store,
    uc: &UseCase,
    version: &str,
    now_ms: i64,
    ask: impl FnOnce(&dyn klartext_kinds::Kind, &MonitorInput<'_>) -> klartext_kinds::Result<T>,
) -> Result<T> {
    let kind = kind_of(uc.kind)?;
    let s = stored(store, uc, version)?;
    let input = MonitorInput {
        usecase: uc,
        version,
        artifact: &s.artifact,
        report: &s.report,
        reference: s.reference.as_deref(),
        now_ms,
    };
    ask(kind, &input).map_err(|e| unmonitorable(uc, version, e))
}

/// The monitoring report of `version` over the window ending at `now_ms`.
pub fn report(
    store: &dyn Store,
    uc: &UseCase,
    version: &str,
    now_ms: i64,
) -> Result<MonitoringReport> {
    ask_kind(store, uc, version, now_ms, |kind, input| {
        kind.monitor(input, &StoreSource { store, uc, version })
    })
}

/// The drift check of `version` on a file's rows instead of the log.
pub fn drift_on_file(
    store: &dyn Store,
    uc: &UseCase,
    version: &str,
    frame: &Frame,
    name: &str,
    now_ms: i64,
) -> Result<MonitoringReport> {
    ask_kind(store, uc, version, now_ms, |kind, input| {
        kind.drift_on(input, frame, name)
    })
}

/// Raise the report's alerts that were not raised in their window yet; marks those
/// it raised.
pub fn raise_alerts(store: &dyn Store, report: &mut MonitoringReport, actor: &str) -> Result<()> {
    for a in &mut report.alerts {
        let event = NewAuditEvent {
            actor: actor.to_owned(),
            action: a.kind.as_str().to_owned(),
            subject: format!("usecase/{}", report.usecase),
            details: serde_json::json!({
                "usecase": report.usecase,
                "version": report.model_version,
                "window_start_ms": a.window_start_ms,
                "summary": a.summary,
                "findings": report
                    .findings
                    .iter()
                    .filter(|f| f.severity != Severity::Info)
                    .map(|f| f.text.as_str())
                    .collect::<Vec<_>>(),
            }),
        };
        a.raised_now = store
            .raise_alert(&report.usecase, a.kind.as_str(), a.window_start_ms, &event)?
            .is_some();
    }
    Ok(())
}

/// Check every use case now and raise what is due; errors are logged, not fatal.
pub fn check_all(store: &dyn Store, usecases: &[UseCase], now_ms: i64) {
    for uc in usecases {
        if kind_of(uc.kind).is_err() {
            continue;
        }
        let version = match monitored_version(store, &uc.id) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(usecase = %uc.id, error = %e, "monitoring skipped");
                continue;
            }
        };
        let done = report(store, uc, &version, now_ms)
            .and_then(|mut r| raise_alerts(store, &mut r, "klartext-monitor").map(|()| r));
        match done {
            Ok(r) => {
                for a in r.alerts.iter().filter(|a| a.raised_now) {
                    tracing::warn!(usecase = %uc.id, alert = %a.kind.as_str(), summary = %a.summary, "monitoring alert");
                }
            }
            Err(e) => tracing::warn!(usecase = %uc.id, error = %e, "monitoring skipped"),
        }
    }
}

/// Check every use case every `every` on a background thread (first check after one
/// period); the thread ends with the process.
pub fn spawn(
    store: std::sync::Arc<dyn Store>,
    usecases: Vec<UseCase>,
    every: Duration,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("klartext-monitor".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            check_all(store.as_ref(), &usecases, klartext_store::now_ms());
        })
}
