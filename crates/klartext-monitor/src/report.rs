//! The monitoring report of a use case: drift and live performance for one window,
//! with findings in plain words and the alerts they call for.

use crate::drift::{ColumnDrift, DriftReport, Method};
use crate::performance::PerformanceReport;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Alert,
    Warning,
    Info,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub text: String,
}

/// What an alert is about; its name is also the audit event's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlertKind {
    #[serde(rename = "drift.detected")]
    DriftDetected,
    #[serde(rename = "performance.degraded")]
    PerformanceDegraded,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::DriftDetected => "drift.detected",
            AlertKind::PerformanceDegraded => "performance.degraded",
        }
    }
}

/// Where a report's rows come from: the served traffic (feedback and alerts apply) or a
/// file checked against the reference (drift only: a file is not traffic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Traffic,
    File,
}

/// An alert the report calls for; raised at most once per use case, kind and window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub window_start_ms: i64,
    pub summary: String,
    /// Whether this report raised it (false: it was raised before in this window).
    #[serde(default)]
    pub raised_now: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringReport {
    pub usecase: String,
    pub model_version: String,
    pub generated_ms: i64,
    pub window: Window,
    /// Answered predictions of this model version in the window (or rows of the file).
    pub rows: usize,
    /// Where the current rows came from: `prediction log` or a file name.
    pub source: String,
    /// Absent when the window held too few rows for a verdict.
    pub drift: Option<DriftReport>,
    pub performance: Option<PerformanceReport>,
    pub findings: Vec<Finding>,
    pub alerts: Vec<Alert>,
}

/// Fill in findings and alerts from the drift and performance parts.
pub fn conclude(report: &mut MonitoringReport, min_rows: u32, psi_threshold: f64, source: Source) {
    let mut f = Vec::new();
    let mut alerts = Vec::new();
    let window_start = report.window.from_ms;
    match &report.drift {
        None => f.push(Finding {
            severity: Severity::Info,
            column: None,
            text: format!(
                "Only {} predictions in the window; a drift verdict needs at least {min_rows}.",
                report.rows
            ),
        }),
        Some(d) => {
            let mut cols: Vec<&ColumnDrift> = d.columns.iter().collect();
            cols.sort_by(|a, b| b.drifted.cmp(&a.drifted).then(b.psi.total_cmp(&a.psi)));
            for c in cols {
                column_findings(c, psi_threshold, &mut f);
            }
            let n = d.columns.len();
            let pct = |x: f64| format!("{:.0}%", x * 100.0);
            if d.dataset_drift {
                let summary = format!(
                    "{} of {n} features drifted ({}, threshold {}): the data as a whole has drifted.",
                    d.drifted_features,
                    pct(d.drifted_share),
                    pct(d.thresholds.drift_share)
                );
                f.push(Finding {
                    severity: Severity::Alert,
                    column: None,
                    text: summary.clone(),
                });
                alerts.push(Alert {
                    kind: AlertKind::DriftDetected,
                    window_start_ms: window_start,
                    summary,
                    raised_now: false,
                });
            } else {
                f.push(Finding {
                    severity: Severity::Info,
                    column: None,
                    text: format!(
                        "{} of {n} features drifted ({}); no drift of the data as a whole (threshold {}).",
                        d.drifted_features,
                        pct(d.drifted_share),
                        pct(d.thresholds.drift_share)
                    ),
                });
            }
            if let Some(s) = &d.score {
                if s.drifted {
                    let text = format!(
                        "The score has shifted: median {} → {}, {}.",
                        num(s.median_reference),
                        num(s.median_current),
                        judged_by(s)
                    );
                    f.push(Finding {
                        severity: Severity::Alert,
                        column: None,
                        text: text.clone(),
                    });
                    if !d.dataset_drift {
                        alerts.push(Alert {
                            kind: AlertKind::DriftDetected,
                            window_start_ms: window_start,
                            summary: text,
                            raised_now: false,
                        });
                    }
                }
            }
        }
    }
    match report
        .performance
        .as_ref()
        .and_then(|p| Some((p, p.current()?)))
    {
        None if source == Source::File => {}
        None => f.push(Finding {
            severity: Severity::Info,
            column: None,
            text: "No feedback yet: live performance is unknown.".into(),
        }),
        Some((p, w)) => {
            // The current window is still open: it runs until now.
            let span = format!(
                "{} to {}",
                date(w.from_ms),
                date((w.to_ms - 1).min(report.generated_ms))
            );
            let base = p
                .baseline
                .auc
                .map(|b| format!(", validation AUC {b:.3}"))
                .unwrap_or_default();
            match w.auc {
                Some(a) if w.degraded => {
                    let text = format!(
                        "Live AUC from {span} is {a:.3} on {} outcomes{base}: a drop of more than {} .",
                        w.n, p.max_auc_drop
                    )
                    .replace(" .", ".");
                    f.push(Finding {
                        severity: Severity::Alert,
                        column: None,
                        text: text.clone(),
                    });
                    alerts.push(Alert {
                        kind: AlertKind::PerformanceDegraded,
                        window_start_ms: w.from_ms,
                        summary: text,
                        raised_now: false,
                    });
                }
                Some(a) if w.judged => f.push(Finding {
                    severity: Severity::Info,
                    column: None,
                    text: format!("Live AUC from {span} is {a:.3} on {} outcomes{base}.", w.n),
                }),
                _ => f.push(Finding {
                    severity: Severity::Info,
                    column: None,
                    text: format!(
                        "{} outcomes from {span} ({} positive): too few for a performance verdict (needs {} with both outcomes).",
                        w.n, w.positives, p.min_feedback
                    ),
                }),
            }
        }
    }
    f.sort_by_key(|x| x.severity);
    report.findings = f;
    // A file's findings alert no one.
    report.alerts = if source == Source::Traffic {
        alerts
    } else {
        Vec::new()
    };
}

fn judged_by(c: &ColumnDrift) -> String {
    let stat = match c.method {
        Method::Ks | Method::ChiSquare => format!(
            "{} p-value {}",
            c.method.describe(),
            c.p_value.map_or("?".into(), sig)
        ),
        _ => format!("{} {:.3}", c.method.describe(), c.statistic),
    };
    format!("{stat}, PSI {:.2}", c.psi)
}

fn column_findings(c: &ColumnDrift, psi_threshold: f64, f: &mut Vec<Finding>) {
    let name = &c.name;
    let col = Some(name.clone());
    if c.drifted {
        let what = match (&c.biggest_move, c.median_reference, c.median_current) {
            (_, Some(a), Some(b)) if c.datetime => format!(
                "median {} → {}",
                date((a * 1000.0) as i64),
                date((b * 1000.0) as i64)
            ),
            (_, Some(a), Some(b)) => format!("median {} → {}", num(Some(a)), num(Some(b))),
            (Some((l, r, cur)), _, _) => {
                format!("'{l}' {:.0}% → {:.0}% of rows", r * 100.0, cur * 100.0)
            }
            _ => "its values changed".into(),
        };
        f.push(Finding {
            severity: Severity::Warning,
            column: col.clone(),
            text: format!("{name} has shifted: {what}, {}.", judged_by(c)),
        });
    } else if c.psi >= psi_threshold {
        f.push(Finding {
            severity: Severity::Warning,
            column: col.clone(),
            text: format!(
                "{name} moved (PSI {:.2}, at or above {psi_threshold}) though not past the drift threshold of the {}.",
                c.psi,
                c.method.describe()
            ),
        });
    }
    if c.new_category_rows > 0 {
        let share = c.new_category_rows as f64 / c.n_current.max(1) as f64;
        let eg: Vec<String> = c
            .new_categories
            .iter()
            .map(|(l, n)| format!("'{l}' ({n})"))
            .collect();
        f.push(Finding {
            severity: Severity::Warning,
            column: col.clone(),
            text: format!(
                "{name} has values the model never saw in {:.1}% of rows, e.g. {}.",
                share * 100.0,
                eg.join(", ")
            ),
        });
    }
    if c.out_of_range > 0 {
        let share = c.out_of_range as f64 / c.n_current.max(1) as f64;
        if share >= 0.01 {
            f.push(Finding {
                severity: Severity::Warning,
                column: col.clone(),
                text: format!(
                    "{name} is outside the range seen in training in {:.1}% of rows ({}).",
                    share * 100.0,
                    c.out_of_range
                ),
            });
        }
    }
    if c.missing_share_current - c.missing_share_reference >= 0.1 {
        f.push(Finding {
            severity: Severity::Warning,
            column: col,
            text: format!(
                "{name} is missing in {:.0}% of rows (training: {:.0}%).",
                c.missing_share_current * 100.0,
                c.missing_share_reference * 100.0
            ),
        });
    }
}

fn num(x: Option<f64>) -> String {
    let trimmed = |s: String| s.trim_end_matches('0').trim_end_matches('.').to_owned();
    match x {
        None => "none".into(),
        Some(v) if v == v.round() && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) if v.abs() >= 100.0 => trimmed(format!("{v:.1}")),
        Some(v) => trimmed(format!("{v:.3}")),
    }
}

fn sig(p: f64) -> String {
    if p < 0.0001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

pub use klartext_core::calendar::date_of_ms as date;

#[cfg(test)]
mod tests {
    use super::*;

    fn empty(source: &str) -> MonitoringReport {
        MonitoringReport {
            usecase: "churn".into(),
            model_version: "v".into(),
            generated_ms: 0,
            window: Window {
                from_ms: 0,
                to_ms: 0,
                days: 0,
            },
            rows: 0,
            source: source.into(),
            drift: None,
            performance: None,
            findings: Vec::new(),
            alerts: Vec::new(),
        }
    }

    /// Guards the file check that told its findings apart by their English wording: a
    /// file's report says nothing of feedback and alerts no one, by its source's type.
    #[test]
    fn a_file_report_has_no_feedback_finding_and_no_alert() {
        let mut traffic = empty("prediction log");
        conclude(&mut traffic, 100, 0.2, Source::Traffic);
        assert!(traffic.findings.iter().any(|f| f.text.contains("feedback")));
        let mut file = empty("new.csv");
        conclude(&mut file, 100, 0.2, Source::File);
        assert!(
            file.findings.iter().all(|f| !f.text.contains("feedback")),
            "{:?}",
            file.findings
        );
        assert!(file.alerts.is_empty());
    }

    #[test]
    fn alert_kinds_are_the_audit_actions() {
        assert_eq!(
            serde_json::to_value(AlertKind::DriftDetected).unwrap(),
            AlertKind::DriftDetected.as_str()
        );
        assert_eq!(
            AlertKind::PerformanceDegraded.as_str(),
            "performance.degraded"
        );
    }
}
