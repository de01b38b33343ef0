//! `klartext monitor` (drift and live performance of the served model on the prediction
//! log, raising due alerts) and `klartext drift` (the same drift check on a file).

use super::{emit, print_json};
use crate::project::{actor, Project};
use anyhow::{Context, Result};
use klartext_data::read::{read_bytes, ReadOptions};
use klartext_govern::monitoring;
use klartext_monitor::drift::ColumnDrift;
use klartext_monitor::report::{date, MonitoringReport, Severity};
use klartext_store::now_ms;
use std::path::Path;

pub fn monitor(
    project: Option<&Path>,
    usecase: &str,
    version: Option<&str>,
    html: Option<&Path>,
    no_alerts: bool,
    json: bool,
) -> Result<()> {
    let p = Project::find(project)?;
    let uc = p.usecase(usecase)?;
    let store = p.open_store()?;
    let version = version_to_monitor(&store, &uc.id, version)?;
    let mut report = monitoring::report(&store, &uc, &version, now_ms())?;
    if !no_alerts {
        monitoring::raise_alerts(&store, &mut report, &actor())?;
    }
    finish(&report, html, json)
}

pub fn drift_file(
    project: Option<&Path>,
    usecase: &str,
    data: &Path,
    version: Option<&str>,
    html: Option<&Path>,
    json: bool,
) -> Result<()> {
    let p = Project::find(project)?;
    let uc = p.usecase(usecase)?;
    let store = p.open_store()?;
    let version = version_to_monitor(&store, &uc.id, version)?;
    let raw = std::fs::read(data).with_context(|| format!("cannot read {}", data.display()))?;
    let name = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (mut frame, info) = read_bytes(&name, &raw, &ReadOptions::default(), None)?;
    drop(raw);
    // Dates become numbers as at registration (the file need not hold the target).
    klartext_data::infer::infer(&mut frame, &info.hints, None)?;
    let report = monitoring::drift_on_file(&store, &uc, &version, &frame, &name, now_ms())?;
    finish(&report, html, json)
}

/// The version named, else the served one.
fn version_to_monitor(
    store: &dyn klartext_store::Store,
    usecase: &str,
    named: Option<&str>,
) -> Result<String> {
    match named {
        Some(v) => Ok(v.to_owned()),
        None => monitoring::monitored_version(store, usecase)?.with_context(|| {
            format!(
                "`{usecase}` has no champion and no version whose gates passed; name one with --model"
            )
        }),
    }
}

fn finish(report: &MonitoringReport, html: Option<&Path>, json: bool) -> Result<()> {
    if let Some(path) = html {
        std::fs::write(path, klartext_monitor::html::render(report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if json {
        print_json(&serde_json::to_value(report)?);
    } else {
        emit(&text(report));
        if let Some(path) = html {
            emit(&format!("HTML report with charts: {}\n", path.display()));
        }
    }
    Ok(())
}

fn text(r: &MonitoringReport) -> String {
    let mut out = if r.window.days > 0 {
        format!(
            "{} @ {}: {} answered predictions from {} to {} ({} days)\n\n",
            r.usecase,
            r.model_version,
            r.rows,
            date(r.window.from_ms),
            date(r.window.to_ms),
            r.window.days
        )
    } else {
        format!(
            "{} @ {}: {} rows of {} against the training reference\n\n",
            r.usecase, r.model_version, r.rows, r.source
        )
    };
    for f in &r.findings {
        let mark = match f.severity {
            Severity::Alert => "ALERT  ",
            Severity::Warning => "warning",
            Severity::Info => "       ",
        };
        out.push_str(&format!("{mark} {}\n", f.text));
    }
    if let Some(d) = &r.drift {
        out.push_str(&format!(
            "\n{:<24} {:<16} {:>10} {:>10} {:>7}  drifted\n",
            "column", "method", "statistic", "p-value", "PSI"
        ));
        let mut cols: Vec<&ColumnDrift> = d.columns.iter().chain(d.score.iter()).collect();
        cols.sort_by(|a, b| b.drifted.cmp(&a.drifted).then(b.psi.total_cmp(&a.psi)));
        for c in cols {
            let method = match c.method {
                klartext_monitor::drift::Method::Ks => "KS",
                klartext_monitor::drift::Method::Wasserstein => "Wasserstein",
                klartext_monitor::drift::Method::ChiSquare => "chi-square",
                klartext_monitor::drift::Method::JensenShannon => "Jensen-Shannon",
            };
            let stat = if c.statistic == f64::MAX {
                "inf".to_owned()
            } else {
                format!("{:.4}", c.statistic)
            };
            out.push_str(&format!(
                "{:<24} {:<16} {:>10} {:>10} {:>7.3}  {}\n",
                c.name,
                method,
                stat,
                c.p_value.map_or("-".into(), |p| format!("{p:.4}")),
                c.psi,
                if c.drifted { "yes" } else { "no" }
            ));
        }
    }
    if let Some(p) = &r.performance {
        out.push_str(&format!(
            "\n{:<25} {:>8} {:>8} {:>7} {:>9} {:>12}\n",
            "feedback window", "outcomes", "positive", "AUC", "log loss", "precision@t"
        ));
        let f = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{v:.3}"));
        for w in &p.windows {
            out.push_str(&format!(
                "{:<25} {:>8} {:>8} {:>7} {:>9} {:>12}{}\n",
                format!(
                    "{} to {}",
                    date(w.from_ms),
                    date((w.to_ms - 1).min(r.generated_ms))
                ),
                w.n,
                w.positives,
                f(w.auc),
                f(w.log_loss),
                f(w.precision_at_threshold),
                if w.degraded { "  degraded" } else { "" }
            ));
        }
        out.push_str(&format!(
            "validation (model card): AUC {}, log loss {}\n",
            f(p.baseline.auc),
            f(p.baseline.log_loss)
        ));
    }
    for a in &r.alerts {
        out.push_str(&format!(
            "\n{} {} (window from {})",
            a.kind.as_str(),
            if a.raised_now {
                "raised now: in the audit trail and sent to subscribed webhooks"
            } else {
                "already raised in this window"
            },
            date(a.window_start_ms)
        ));
    }
    if !r.alerts.is_empty() {
        out.push('\n');
    }
    out
}
