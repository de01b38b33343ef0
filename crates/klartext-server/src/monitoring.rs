//! Monitoring of a served use case: reads the model's reference profile, the logged
//! traffic of a window and the feedback from the store, computes the report with
//! `klartext-monitor`, and raises its alerts (audited, so webhooks deliver them) at most
//! once per window. Used by `GET /v1/usecases/{id}/monitoring`, the server's schedule
//! and `klartext monitor`.

use crate::error::ServerError;
use klartext_core::UseCase;
use klartext_monitor::drift::{drift, Thresholds};
use klartext_monitor::error::MonitorError;
use klartext_monitor::performance::{performance, window_start, Baseline, Outcome};
use klartext_monitor::profile::ReferenceProfile;
use klartext_monitor::report::{conclude, outcome_positive, MonitoringReport, Window};
use klartext_store::{NewAuditEvent, Store};
use klartext_train::artifact::Artifact;
use std::time::Duration;

pub const DAY_MS: i64 = 86_400_000;
/// Performance is shown for this many windows back.
const PERFORMANCE_WINDOWS: i64 = 12;
/// How often the server checks every use case for alerts.
pub const MONITOR_EVERY: Duration = Duration::from_secs(15 * 60);

/// The model version monitoring looks at: the champion alias, else the newest version
/// whose gates passed (what the server answers with).
pub fn monitored_version(store: &dyn Store, usecase: &str) -> Result<Option<String>, ServerError> {
    let champion = store
        .aliases(Some(usecase))?
        .into_iter()
        .find(|a| a.alias == klartext_store::AliasName::Champion);
    if let Some(a) = champion {
        return Ok(Some(a.version));
    }
    Ok(store
        .models(usecase)?
        .into_iter()
        .filter(|m| m.gates_passed)
        .max_by_key(|m| m.created_ms)
        .map(|m| m.version))
}

fn monitor_error(usecase: &str, version: &str, e: MonitorError) -> ServerError {
    ServerError::Monitoring {
        usecase: usecase.to_owned(),
        version: version.to_owned(),
        message: e.to_string(),
    }
}

/// The monitoring report of `version` over the window ending at `now_ms`.
pub fn report(
    store: &dyn Store,
    uc: &UseCase,
    version: &str,
    now_ms: i64,
) -> Result<MonitoringReport, ServerError> {
    let (reference, artifact, baseline) = load(store, uc, version)?;
    let m = &uc.monitoring;
    let window_ms = i64::from(m.window_days) * DAY_MS;
    let from_ms = now_ms - window_ms;
    let (decoder, scores, unreadable) =
        read_window(store, &uc.id, version, &artifact, from_ms, now_ms + 1)?;
    if unreadable > 0 {
        tracing::warn!(usecase = %uc.id, version, unreadable, "logged rows that do not decode were left out of monitoring");
    }
    let rows = decoder.rows();
    let current = decoder.finish();
    let drift = if rows >= m.min_rows as usize && rows > 0 {
        Some(
            drift(&reference, &current, Some(&scores), &Thresholds::from(m))
                .map_err(|e| monitor_error(&uc.id, version, e))?,
        )
    } else {
        None
    };
    let perf = performance_of(store, uc, version, &baseline, now_ms)?;
    let mut report = MonitoringReport {
        usecase: uc.id.clone(),
        model_version: version.to_owned(),
        generated_ms: now_ms,
        window: Window {
            from_ms,
            to_ms: now_ms,
            days: m.window_days,
        },
        rows,
        source: "prediction log".into(),
        drift,
        performance: perf,
        findings: Vec::new(),
        alerts: Vec::new(),
    };
    conclude(&mut report, m.min_rows, m.psi);
    for a in &mut report.alerts {
        if a.kind == "drift.detected" {
            a.window_start_ms = window_start(now_ms, window_ms);
        }
    }
    Ok(report)
}

/// Rows per hand-over from the reading thread to the decoding one.
const CHUNK_ROWS: usize = 8192;

/// Read the logged rows of a window and decode them: the store is read on this thread
/// while another decodes what was read, so the two overlap. Rows logged before feature
/// values were kept have none and are skipped; rows that do not decode are counted.
fn read_window<'a>(
    store: &dyn Store,
    usecase: &str,
    version: &str,
    artifact: &'a Artifact,
    from_ms: i64,
    to_ms: i64,
) -> Result<(klartext_train::logrow::LogDecoder<'a>, Vec<f64>, usize), ServerError> {
    type Chunk = (Vec<u8>, Vec<usize>, Vec<f64>);
    let enc = &artifact.header.encoder;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(8);
    std::thread::scope(|scope| {
        let decoding = scope.spawn(move || {
            let mut decoder = enc.log_decoder();
            let mut scores = Vec::new();
            let mut unreadable = 0usize;
            for (buf, ends, chunk_scores) in rx {
                let mut start = 0;
                for (end, score) in ends.into_iter().zip(chunk_scores) {
                    if decoder.push(&buf[start..end]).is_ok() {
                        scores.push(score);
                    } else {
                        unreadable += 1;
                    }
                    start = end;
                }
            }
            (decoder, scores, unreadable)
        });
        let mut chunk: Chunk = (Vec::new(), Vec::new(), Vec::new());
        let read =
            store.visit_monitored(usecase, version, from_ms, to_ms, &mut |_, score, bytes| {
                let Some(bytes) = bytes else { return };
                chunk.0.extend_from_slice(bytes);
                chunk.1.push(chunk.0.len());
                chunk.2.push(score.unwrap_or(f64::NAN));
                if chunk.1.len() == CHUNK_ROWS {
                    // The decoder only stops early by panicking, which join reports.
                    let _ = tx.send(std::mem::take(&mut chunk));
                }
            });
        if !chunk.1.is_empty() {
            let _ = tx.send(chunk);
        }
        drop(tx);
        let decoded = decoding.join().expect("the decoding thread does not panic");
        read.map(|_| decoded).map_err(ServerError::from)
    })
}

/// The reference profile, the artifact and the validation figures of a version.
pub fn load(
    store: &dyn Store,
    uc: &UseCase,
    version: &str,
) -> Result<(ReferenceProfile, Artifact, Baseline), ServerError> {
    let model = store
        .model(&uc.id, version)?
        .ok_or_else(|| ServerError::Monitoring {
            usecase: uc.id.clone(),
            version: version.to_owned(),
            message: "no such model version".into(),
        })?;
    let text = store
        .model_reference(&uc.id, version)?
        .ok_or_else(|| ServerError::Monitoring {
            usecase: uc.id.clone(),
            version: version.to_owned(),
            message:
                "it has no reference profile (trained before monitoring existed); train it again"
                    .into(),
        })?;
    let reference =
        ReferenceProfile::from_json(&text).map_err(|e| monitor_error(&uc.id, version, e))?;
    let bytes = store.model_bytes(&model)?;
    let artifact = Artifact::from_bytes(&bytes).map_err(|source| ServerError::Model {
        usecase: uc.id.clone(),
        version: version.to_owned(),
        source,
    })?;
    let metrics = &model.report["metrics"];
    let baseline = Baseline {
        auc: metrics["auc"].as_f64(),
        log_loss: metrics["log_loss"].as_f64(),
        calibration_error: metrics["calibration_error"].as_f64(),
        threshold: model.report["threshold"].as_f64(),
    };
    Ok((reference, artifact, baseline))
}

fn performance_of(
    store: &dyn Store,
    uc: &UseCase,
    version: &str,
    baseline: &Baseline,
    now_ms: i64,
) -> Result<Option<klartext_monitor::performance::PerformanceReport>, ServerError> {
    let m = &uc.monitoring;
    let window_ms = i64::from(m.window_days) * DAY_MS;
    let since = window_start(now_ms, window_ms) - (PERFORMANCE_WINDOWS - 1) * window_ms;
    let outcomes: Vec<Outcome> = store
        .monitored_outcomes(&uc.id, version, since)?
        .into_iter()
        .filter_map(|o| {
            Some(Outcome {
                at_ms: o.at_ms,
                score: o.score?,
                positive: outcome_positive(uc, &o.outcome)?,
            })
        })
        .collect();
    if outcomes.is_empty() {
        return Ok(None);
    }
    performance(
        &outcomes,
        *baseline,
        window_ms,
        m.max_auc_drop,
        m.min_feedback,
    )
    .map(Some)
    .map_err(|e| monitor_error(&uc.id, version, e))
}

/// Raise the report's alerts that were not raised in their window yet; marks those
/// it raised.
pub fn raise_alerts(
    store: &dyn Store,
    report: &mut MonitoringReport,
    actor: &str,
) -> Result<(), ServerError> {
    for a in &mut report.alerts {
        let event = NewAuditEvent {
            actor: actor.to_owned(),
            action: a.kind.clone(),
            subject: format!("usecase/{}", report.usecase),
            details: serde_json::json!({
                "usecase": report.usecase,
                "version": report.model_version,
                "window_start_ms": a.window_start_ms,
                "summary": a.summary,
                "findings": report
                    .findings
                    .iter()
                    .filter(|f| f.severity != klartext_monitor::report::Severity::Info)
                    .map(|f| f.text.as_str())
                    .collect::<Vec<_>>(),
            }),
        };
        a.raised_now = store
            .raise_alert(&report.usecase, &a.kind, a.window_start_ms, &event)?
            .is_some();
    }
    Ok(())
}

/// Check every use case now and raise what is due; errors are logged, not fatal.
pub fn check_all(store: &dyn Store, usecases: &[UseCase], now_ms: i64) {
    for uc in usecases {
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
                    tracing::warn!(usecase = %uc.id, alert = %a.kind, summary = %a.summary, "monitoring alert");
                }
            }
            Err(e) => tracing::warn!(usecase = %uc.id, error = %e, "monitoring skipped"),
        }
    }
}

/// `GET /v1/usecases/{id}/monitoring[?format=html]`: the report of the served model
/// over the use case's window; operators. Reading raises nothing (the server's
/// schedule and `klartext monitor` raise alerts).
pub(crate) async fn get_report(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    query: Result<
        axum::extract::Query<crate::page::FormatQuery>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Result<axum::response::Response, crate::ApiError> {
    use crate::{ApiError, ErrorCode};
    use axum::response::IntoResponse;
    let html = crate::page::wants_html(query)?;
    let uc = state
        .inner
        .usecases
        .get(&id)
        .map(|u| u.usecase.clone())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownUseCase,
                format!("use case `{id}` does not exist"),
            )
        })?;
    let version = state
        .inner
        .usecases
        .get(&id)
        .and_then(|u| u.served())
        .map(|s| s.version.clone())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NoModel,
                format!("use case `{id}` has no served model to monitor"),
            )
        })?;
    let store = state.inner.store.clone();
    let report = tokio::task::spawn_blocking(move || {
        report(store.as_ref(), &uc, &version, klartext_store::now_ms())
    })
    .await
    .map_err(|e| ApiError::internal("monitoring task failed", &e))?
    .map_err(|e| match e {
        ServerError::Monitoring { message, .. } => ApiError::new(
            ErrorCode::MonitoringUnavailable,
            format!("the served model of `{id}` cannot be monitored: {message}"),
        ),
        other => ApiError::internal("monitoring failed", &other),
    })?;
    if html {
        return Ok(crate::page::html(klartext_monitor::html::render(&report)));
    }
    Ok(axum::Json(serde_json::to_value(&report).expect("reports serialise")).into_response())
}

pub(crate) fn add_schemas(all: &mut serde_json::Value) {
    use serde_json::json;
    all["MonitoringReport"] = json!({
        "type": "object",
        "required": ["usecase", "model_version", "window", "rows", "findings", "alerts"],
        "properties": {
            "usecase": { "type": "string" },
            "model_version": { "type": "string" },
            "generated_ms": { "type": "integer" },
            "window": { "type": "object", "properties": {
                "from_ms": { "type": "integer" }, "to_ms": { "type": "integer" }, "days": { "type": "integer" } } },
            "rows": { "type": "integer", "description": "Answered predictions of the model version in the window." },
            "source": { "type": "string" },
            "drift": { "type": ["object", "null"], "description": "Per column: method (ks, wasserstein, chi_square, jensen_shannon), statistic, p_value, psi, drifted, new categories, out-of-range counts, histogram; the score; the share of drifted features and whether the data set drifted. Null below `monitoring.min_rows` rows." },
            "performance": { "type": ["object", "null"], "description": "Per window of feedback: AUC, log loss, calibration error, precision at the threshold, against the model card's validation figures." },
            "findings": { "type": "array", "items": { "type": "object", "properties": {
                "severity": { "enum": ["alert", "warning", "info"] },
                "column": { "type": "string" },
                "text": { "type": "string" } } } },
            "alerts": { "type": "array", "items": { "type": "object", "properties": {
                "kind": { "enum": ["drift.detected", "performance.degraded"] },
                "window_start_ms": { "type": "integer" },
                "summary": { "type": "string" },
                "raised_now": { "type": "boolean" } } } },
        },
    });
    all["MonitoringPage"] =
        json!({ "type": "string", "description": "A self-contained HTML page with SVG charts." });
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
