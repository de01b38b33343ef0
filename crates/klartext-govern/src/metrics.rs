//! Counters of the decisions each loaded model version answered (rows, requests,
//! fallbacks, a latency histogram), over atomics; the server renders them for
//! Prometheus.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds of the latency buckets, in seconds.
pub const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// The counters of one served model version.
#[derive(Debug)]
pub struct Series {
    pub usecase: String,
    pub version: String,
    /// Rows decided (a batch counts each row).
    predictions: AtomicU64,
    requests: AtomicU64,
    fallbacks: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    sum_us: AtomicU64,
}

/// What a [`Series`] has counted so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    pub predictions: u64,
    pub requests: u64,
    pub fallbacks: u64,
    /// Per bucket of [`BUCKETS`], not cumulative.
    pub buckets: [u64; BUCKETS.len()],
    pub sum_seconds: f64,
}

impl Series {
    pub fn new(usecase: &str, version: &str) -> Series {
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

    /// One answered request of `rows` decisions that took `micros`.
    pub fn observe(&self, rows: u64, micros: u64, fallback: bool) {
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

    pub fn counts(&self) -> Counts {
        Counts {
            predictions: self.predictions.load(Relaxed),
            requests: self.requests.load(Relaxed),
            fallbacks: self.fallbacks.load(Relaxed),
            buckets: std::array::from_fn(|i| self.buckets[i].load(Relaxed)),
            sum_seconds: self.sum_us.load(Relaxed) as f64 / 1e6,
        }
    }
}
