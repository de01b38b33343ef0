//! Monitoring a supervised model version: drift of its logged traffic (or of a file)
//! against the reference profile kept at training, feature by feature and for the
//! score, and, for classification, live performance from feedback per window.

use crate::error::{KindError, Result};
use crate::kind::{MonitorInput, MonitorSource};
use crate::supervised::logrow::LogDecoder;
use crate::supervised::payload::Supervised;
use crate::supervised::score::scores_of;
use crate::supervised::train::TrainingReport;
use klartext_core::calendar::DAY_MS;
use klartext_core::{Frame, Outcome};
use klartext_monitor::drift::{drift, Thresholds};
use klartext_monitor::performance::{performance, window_start, Baseline, PerformanceReport};
use klartext_monitor::profile::ReferenceProfile;
use klartext_monitor::report::{
    conclude, AlertKind, Finding, MonitoringReport, Severity, Source, Window,
};
use serde::Deserialize;

/// Performance is shown for this many windows back.
const PERFORMANCE_WINDOWS: i64 = 12;
/// Rows per hand-over from the reading thread to the decoding one.
const CHUNK_ROWS: usize = 8192;

fn unmonitorable(e: impl std::fmt::Display) -> KindError {
    KindError::Unmonitorable(e.to_string())
}

fn loaded(input: &MonitorInput<'_>) -> Result<(Supervised, ReferenceProfile)> {
    let model = Supervised::from_artifact(input.artifact, input.usecase.kind)?;
    let text = input.reference.ok_or_else(|| {
        unmonitorable(
            "it has no reference profile (trained before monitoring existed); train it again",
        )
    })?;
    let reference = ReferenceProfile::from_json(text).map_err(unmonitorable)?;
    Ok((model, reference))
}

/// The report over the use case's window of traffic ending now; `live` adds the
/// feedback windows (classification).
pub(crate) fn on_traffic(
    input: &MonitorInput<'_>,
    source: &dyn MonitorSource,
    live: bool,
) -> Result<MonitoringReport> {
    let (model, reference) = loaded(input)?;
    let uc = input.usecase;
    let m = &uc.monitoring;
    let window_ms = i64::from(m.window_days) * DAY_MS;
    let now = input.now_ms;
    let from_ms = now - window_ms;
    let (decoder, scores, unreadable) = read_window(source, &model, from_ms, now + 1)?;
    let rows = decoder.rows();
    let current = decoder.finish();
    let drift = if rows >= m.min_rows as usize && rows > 0 {
        Some(
            drift(&reference, &current, Some(&scores), &Thresholds::from(m))
                .map_err(unmonitorable)?,
        )
    } else {
        None
    };
    let performance = if live {
        performance_of(input, source, window_ms)?
    } else {
        None
    };
    let mut report = MonitoringReport {
        usecase: uc.id.clone(),
        model_version: input.version.to_owned(),
        generated_ms: now,
        window: Window {
            from_ms,
            to_ms: now,
            days: m.window_days,
        },
        rows,
        source: "prediction log".into(),
        drift,
        performance,
        findings: Vec::new(),
        alerts: Vec::new(),
    };
    conclude(&mut report, m.min_rows, m.psi, Source::Traffic);
    for a in &mut report.alerts {
        if a.kind == AlertKind::DriftDetected {
            a.window_start_ms = window_start(now, window_ms);
        }
    }
    if unreadable > 0 {
        report.findings.push(Finding {
            severity: Severity::Warning,
            column: None,
            text: format!("{unreadable} logged rows could not be read and were left out."),
        });
    }
    Ok(report)
}

/// The drift check on a file's rows (which need the model's feature columns).
pub(crate) fn on_file(
    input: &MonitorInput<'_>,
    frame: &Frame,
    name: &str,
) -> Result<MonitoringReport> {
    let (model, reference) = loaded(input)?;
    let enc = &model.header.encoder;
    let missing = enc.missing_in(frame);
    if !missing.is_empty() {
        return Err(KindError::Data(format!(
            "{name} lacks the model's feature columns: {}",
            missing.join(", ")
        )));
    }
    let rows: Vec<usize> = (0..frame.n_rows).collect();
    let does_not_fit =
        |e: KindError| KindError::Data(format!("{name} does not fit model {}: {e}", input.version));
    let current = enc.log_frame(frame, &rows).map_err(does_not_fit)?;
    let x = enc.encode(frame, &rows).map_err(does_not_fit)?;
    let scores = scores_of(model.header.task, &model.model.predict_raw_batch(&x)?);
    let m = &input.usecase.monitoring;
    let d = if frame.n_rows >= m.min_rows as usize && frame.n_rows > 0 {
        Some(
            drift(&reference, &current, Some(&scores), &Thresholds::from(m))
                .map_err(unmonitorable)?,
        )
    } else {
        None
    };
    let now = input.now_ms;
    let mut report = MonitoringReport {
        usecase: input.usecase.id.clone(),
        model_version: input.version.to_owned(),
        generated_ms: now,
        window: Window {
            from_ms: now,
            to_ms: now,
            days: 0,
        },
        rows: frame.n_rows,
        source: name.to_owned(),
        drift: d,
        performance: None,
        findings: Vec::new(),
        alerts: Vec::new(),
    };
    conclude(&mut report, m.min_rows, m.psi, Source::File);
    Ok(report)
}

/// Read the logged rows of a window and decode them: the source is read on this thread
/// while another decodes what was read, so the two overlap. Rows logged without feature
/// values are skipped; rows that do not decode are counted.
fn read_window<'a>(
    source: &dyn MonitorSource,
    model: &'a Supervised,
    from_ms: i64,
    to_ms: i64,
) -> Result<(LogDecoder<'a>, Vec<f64>, usize)> {
    type Chunk = (Vec<u8>, Vec<usize>, Vec<f64>);
    let enc = &model.header.encoder;
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
        let read = source.visit(from_ms, to_ms, &mut |_, score, bytes| {
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
        read.map(|_| decoded).map_err(unmonitorable)
    })
}

/// The validation figures of the training report, read typed.
fn baseline(report: &serde_json::Value) -> Result<Baseline> {
    let r = TrainingReport::deserialize(report).map_err(|e| KindError::Report(e.to_string()))?;
    Ok(Baseline {
        auc: r.metrics.auc,
        log_loss: r.metrics.log_loss,
        calibration_error: r.metrics.calibration_error,
        threshold: r.threshold,
    })
}

fn performance_of(
    input: &MonitorInput<'_>,
    source: &dyn MonitorSource,
    window_ms: i64,
) -> Result<Option<PerformanceReport>> {
    let m = &input.usecase.monitoring;
    let since = window_start(input.now_ms, window_ms) - (PERFORMANCE_WINDOWS - 1) * window_ms;
    let outcomes: Vec<klartext_monitor::performance::Outcome> = source
        .outcomes(since)
        .map_err(unmonitorable)?
        .into_iter()
        .filter_map(|(at_ms, score, outcome)| match outcome? {
            Outcome::Binary { positive } => Some(klartext_monitor::performance::Outcome {
                at_ms,
                score: score?,
                positive,
            }),
            Outcome::Value { .. } => None,
        })
        .collect();
    if outcomes.is_empty() {
        return Ok(None);
    }
    performance(
        &outcomes,
        baseline(input.report)?,
        window_ms,
        m.max_auc_drop,
        m.min_feedback,
    )
    .map(Some)
    .map_err(unmonitorable)
}

#[cfg(test)]
mod tests {
    use super::baseline;

    /// Guards the validation figures read as untyped JSON (`report["metrics"]["auc"]`): a
    /// report that does not read as a training report is an error, not a baseline of
    /// "missing" figures.
    #[test]
    fn the_baseline_is_read_typed_or_refused() {
        let partial = serde_json::json!({ "metrics": { "auc": 0.8 }, "threshold": 0.4 });
        assert!(baseline(&partial).is_err());
    }
}
