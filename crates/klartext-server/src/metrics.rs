//! Prometheus metrics, written by hand over atomics: request counts and latency
//! histograms per use case and model version, fallbacks, and errors by code, in total
//! and per use case.

use crate::error::ErrorCode;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::RwLock;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// The counters of one served model.
#[derive(Debug)]
pub(crate) struct Series {
    usecase: String,
    version: String,
    /// Rows predicted (a batch counts each row).
    predictions: AtomicU64,
    requests: AtomicU64,
    fallbacks: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    sum_us: AtomicU64,
}

impl Series {
    pub(crate) fn new(usecase: &str, version: &str) -> Series {
        Series {
            usecase: usecase.to_owned(),
            version: version.to_owned(),
            predictions: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            buckets: Default::default(),
            sum_us: AtomicU64::new(0),
        }
    }

    /// One answered request of `rows` predictions that took `micros`.
    pub(crate) fn observe(&self, rows: u64, micros: u64, fallback: bool) {
        self.requests.fetch_add(1, Relaxed);
        self.predictions.fetch_add(rows, Relaxed);
        if fallback {
            self.fallbacks.fetch_add(rows, Relaxed);
        }
        self.sum_us.fetch_add(micros, Relaxed);
        let secs = micros as f64 / 1e6;
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
    }
}

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
        let Some(u) = usecase else { return };
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
    let series: Vec<&Series> = series.collect();
    let head = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    head(
        &mut out,
        "klartext_requests_total",
        "counter",
        "Answered prediction requests (2xx).",
    );
    for s in &series {
        let _ = writeln!(
            out,
            "klartext_requests_total{{{}}} {}",
            labels(s),
            s.requests.load(Relaxed)
        );
    }
    head(
        &mut out,
        "klartext_predictions_total",
        "counter",
        "Predictions served (each row of a batch counts).",
    );
    for s in &series {
        let _ = writeln!(
            out,
            "klartext_predictions_total{{{}}} {}",
            labels(s),
            s.predictions.load(Relaxed)
        );
    }
    head(
        &mut out,
        "klartext_fallbacks_total",
        "counter",
        "Predictions answered with the use case's fallback.",
    );
    for s in &series {
        let _ = writeln!(
            out,
            "klartext_fallbacks_total{{{}}} {}",
            labels(s),
            s.fallbacks.load(Relaxed)
        );
    }
    head(
        &mut out,
        "klartext_request_duration_seconds",
        "histogram",
        "Latency of answered prediction requests, including the durable log write.",
    );
    for s in &series {
        let l = labels(s);
        let mut cumulative = 0;
        for (b, c) in BUCKETS.iter().zip(&s.buckets) {
            cumulative += c.load(Relaxed);
            let _ = writeln!(
                out,
                "klartext_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {cumulative}"
            );
        }
        let n = s.requests.load(Relaxed);
        let _ = writeln!(
            out,
            "klartext_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {n}"
        );
        let _ = writeln!(
            out,
            "klartext_request_duration_seconds_sum{{{l}}} {}",
            s.sum_us.load(Relaxed) as f64 / 1e6
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
pub(crate) fn render_log(out: &mut String, stats: &crate::log::LogStats) {
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
