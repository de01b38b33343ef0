//! The durable prediction log with group commit: decisions hand their rows to one writer
//! thread and wait; the writer commits everything queued in one transaction and only
//! then releases the waiters, so a 2xx never goes out before its row is on disk, and a
//! burst of requests costs one fsync instead of one each.

use klartext_store::{PredictionRecord, Store};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Rows committed in one transaction at most; more wait for the next one.
const MAX_BATCH_ROWS: usize = 4096;

enum Message {
    Rows(Vec<PredictionRecord>, oneshot::Sender<bool>),
    Stop(oneshot::Sender<()>),
}

/// What the writer did so far (for `/metrics`): commits, rows in them, time spent.
#[derive(Debug, Default)]
pub struct LogStats {
    /// Transactions committed (each one `fsync`).
    pub commits: AtomicU64,
    /// Rows committed; rows / commits is the mean group size.
    pub rows: AtomicU64,
    /// Time spent writing and committing, in microseconds.
    pub commit_us: AtomicU64,
    /// Groups whose commit failed (their requests were answered 503).
    pub failed: AtomicU64,
}

/// A handle to the writer; cheap to clone.
#[derive(Clone)]
pub struct PredictionLog {
    tx: mpsc::UnboundedSender<Message>,
    stats: Arc<LogStats>,
}

impl std::fmt::Debug for PredictionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PredictionLog")
    }
}

/// The log could not take the rows (its writer failed or stopped): answer 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotLogged;

impl PredictionLog {
    /// Start the writer thread.
    pub fn start(store: Arc<dyn Store>) -> PredictionLog {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(LogStats::default());
        let s = stats.clone();
        std::thread::Builder::new()
            .name("klartext-log".into())
            .spawn(move || writer(store, rx, &s))
            .expect("the prediction log thread starts");
        PredictionLog { tx, stats }
    }

    /// The writer's counters.
    pub fn stats(&self) -> &LogStats {
        &self.stats
    }

    /// Log rows durably; returns once they are committed.
    pub async fn append(&self, rows: Vec<PredictionRecord>) -> Result<(), NotLogged> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Message::Rows(rows, ack))
            .map_err(|_| NotLogged)?;
        match done.await {
            Ok(true) => Ok(()),
            _ => Err(NotLogged),
        }
    }

    /// Commit everything queued so far and stop the writer; later appends fail.
    pub async fn flush_and_stop(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Message::Stop(ack)).is_ok() {
            let _ = done.await;
        }
    }
}

fn writer(store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<Message>, stats: &LogStats) {
    let mut stop: Option<oneshot::Sender<()>> = None;
    while stop.is_none() {
        let Some(first) = rx.blocking_recv() else {
            return;
        };
        let mut rows = Vec::new();
        let mut acks = Vec::new();
        let mut take = |m: Message,
                        rows: &mut Vec<PredictionRecord>,
                        stop: &mut Option<oneshot::Sender<()>>| match m {
            Message::Rows(r, ack) => {
                rows.extend(r);
                acks.push(ack);
            }
            Message::Stop(ack) => *stop = Some(ack),
        };
        take(first, &mut rows, &mut stop);
        // Everything that queued up while the last commit ran goes into this one.
        loop {
            if rows.len() >= MAX_BATCH_ROWS {
                break;
            }
            match rx.try_recv() {
                Ok(m) => take(m, &mut rows, &mut stop),
                Err(_) => break,
            }
        }
        // A stop drains what is queued behind it too: those handlers are still waiting.
        if stop.is_some() {
            rx.close();
            while let Ok(m) = rx.try_recv() {
                take(m, &mut rows, &mut stop);
            }
        }
        let started = Instant::now();
        let ok = match store.log_predictions(&rows) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, rows = rows.len(), "prediction log write failed");
                false
            }
        };
        if !rows.is_empty() {
            stats
                .commit_us
                .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
            if ok {
                stats.commits.fetch_add(1, Relaxed);
                stats.rows.fetch_add(rows.len() as u64, Relaxed);
            } else {
                stats.failed.fetch_add(1, Relaxed);
            }
        }
        for ack in acks {
            // A handler whose client went away no longer listens; its row is logged anyway.
            let _ = ack.send(ok);
        }
    }
    if let Some(ack) = stop {
        let _ = ack.send(());
    }
}
