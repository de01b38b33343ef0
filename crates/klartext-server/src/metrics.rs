//! Prometheus metrics, written by hand: the governance layer's counters of each served
//! version (requests, rows, fallbacks, latency histograms), errors by code in total and
//! per use case (counted here, over atomics), and the prediction log writer's counters.

use crate::error::ErrorCode;
use klartext_govern::metrics::{Series, BUCKETS};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::RwLock;

type Counts = [AtomicU64; ErrorCode::ALL.len()];

/// Errors answered, by code, and by use case and code for calls addressed to a use case.
#[derive(Debug, Default)]
pub(crate) struct Errors {
    counts: Counts,
    /// Only use cases the server knows get a series (an unknown id in a URL must not
    /// grow the label set); created on a use case's first error.
    by_usecase: RwLock<BTreeMap<String, Box<Counts>>>,
}

impl Errors {
    /// One error answer; `usecase` is the (known) use case the call was addressed to.
    pub(crate) fn count(&self, code: ErrorCode, usecase: Option<&str>) {
        self.counts[code.index()].fetch_add(1, Relaxed);
        if let Some(u) = usecase {
            self.count_for_usecase(code, u);
        }
    }

    /// One error answer to a call addressed to a (known) use case, counted for it only
    /// (the totals count every answer once, see [`Errors::count`]).
    pub(crate) fn count_for_usecase(&self, code: ErrorCode, u: &str) {
        let map = self.by_usecase.read().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get(u) {
            c[code.index()].fetch_add(1, Relaxed);
            return;
        }
        drop(map);
        let mut map = self.by_usecase.write().unwrap_or_else(|e| e.into_inner());
        map.entry(u.to_owned()).or_default()[code.index()].fetch_add(1, Relaxed);
    }
}

/// The exposition text for all series; `usecases` (the known ones) each get a full set
/// of per-use-case error counters, zeros included.
pub(crate) fn render<'a>(
    series: impl Iterator<Item = &'a Series>,
    errors: &Errors,
    usecases: impl Iterator<Item = &'a str>,
) -> String {
    let mut out = String::new();
    let series: Vec<(&Series, klartext_govern::metrics::Counts)> =
        series.map(|s| (s, s.counts())).collect();
    let head = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    head(
        &mut out,
        "klartext_requests_total",
        "counter",
        "Answered prediction requests (2xx).",
    );
    for (s, c) in &series {
        let _ = writeln!(
            out,
            "klartext_requests_total{{{}}} {}",
            labels(s),
            c.requests
        );
    }
    head(
        &mut out,
        "klartext_predictions_total",
        "counter",
        "Predictions served (each row of a batch counts).",
    );
    for (s, c) in &series {
        let _ = writeln!(
            out,
            "klartext_predictions_total{{{}}} {}",
            labels(s),
            c.predictions
        );
    }
    head(
        &mut out,
        "klartext_fallbacks_total",
        "counter",
        "Predictions answered with the use case's fallback.",
    );
    for (s, c) in &series {
        let _ = writeln!(
            out,
            "klartext_fallbacks_total{{{}}} {}",
            labels(s),
            c.fallbacks
        );
    }
    head(
        &mut out,
        "klartext_request_duration_seconds",
        "histogram",
        "Latency of answered prediction requests, including the durable log write.",
    );
    for (s, c) in &series {
        let l = labels(s);
        let mut cumulative = 0;
        for (b, n) in BUCKETS.iter().zip(&c.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "klartext_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {cumulative}"
            );
        }
        let n = c.requests;
        let _ = writeln!(
            out,
            "klartext_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {n}"
        );
        let _ = writeln!(
            out,
            "klartext_request_duration_seconds_sum{{{l}}} {}",
            c.sum_seconds
        );
        let _ = writeln!(out, "klartext_request_duration_seconds_count{{{l}}} {n}");
    }
    head(
        &mut out,
        "klartext_errors_total",
        "counter",
        "Error answers by error code.",
    );
    for (code, c) in ErrorCode::ALL.iter().zip(&errors.counts) {
        let _ = writeln!(
            out,
            "klartext_errors_total{{code=\"{}\"}} {}",
            code.as_str(),
            c.load(Relaxed)
        );
    }
    head(
        &mut out,
        "klartext_usecase_errors_total",
        "counter",
        "Error answers to calls addressed to a use case, by use case and error code.",
    );
    let by_usecase = errors.by_usecase.read().unwrap_or_else(|e| e.into_inner());
    let zeros = Counts::default();
    for u in usecases {
        let counts = by_usecase.get(u).map_or(&zeros, |c| &**c);
        for (code, c) in ErrorCode::ALL.iter().zip(counts) {
            let _ = writeln!(
                out,
                "klartext_usecase_errors_total{{use_case=\"{}\",code=\"{}\"}} {}",
                escape(u),
                code.as_str(),
                c.load(Relaxed)
            );
        }
    }
    out
}

fn labels(s: &Series) -> String {
    format!(
        "use_case=\"{}\",model_version=\"{}\"",
        escape(&s.usecase),
        escape(&s.version)
    )
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The prediction log writer's counters, appended to the exposition text.
pub(crate) fn render_log(out: &mut String, stats: &klartext_govern::LogStats) {
    let counters = [
        (
            "klartext_log_commits_total",
            "Prediction log transactions committed (one fsync each).",
            stats.commits.load(Relaxed),
        ),
        (
            "klartext_log_rows_total",
            "Prediction log rows committed; divided by commits, the mean group size.",
            stats.rows.load(Relaxed),
        ),
        (
            "klartext_log_failed_commits_total",
            "Prediction log groups whose commit failed (their requests were answered 503).",
            stats.failed.load(Relaxed),
        ),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    let name = "klartext_log_commit_seconds_total";
    let _ = writeln!(
        out,
        "# HELP {name} Time spent writing and committing prediction log groups.\n# TYPE {name} counter\n{name} {}",
        stats.commit_us.load(Relaxed) as f64 / 1e6
    );
}

/// The accept loop's counters, appended to the exposition text.
pub(crate) fn render_connections(out: &mut String, c: &crate::listen::ConnStats) {
    let series = [
        (
            "klartext_connections_open",
            "gauge",
            "HTTP connections open now.",
            c.open.load(Relaxed),
        ),
        (
            "klartext_connections_accepted_total",
            "counter",
            "HTTP connections accepted.",
            c.accepted.load(Relaxed),
        ),
        (
            "klartext_connections_shed_total",
            "counter",
            "Connections refused with 503 because the server had max_connections open.",
            c.shed.load(Relaxed),
        ),
        (
            "klartext_connections_timed_out_total",
            "counter",
            "Connections closed for a header or idle timeout.",
            c.timed_out.load(Relaxed),
        ),
    ];
    for (name, kind, help, v) in series {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
        );
    }
}
