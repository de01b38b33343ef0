//! NDJSON streaming for a batch decision route (`POST /v1/usecases/{id}/predict:batch`
//! with `Content-Type: application/x-ndjson`).
//!
//! The request body is read as it arrives; complete lines are decided in small blocks
//! (each through the governance layer, like any decision, also while the use case is
//! switched off);
//! each block goes through the group-commit prediction log and only then are its answers
//! handed to the response, which flows back while the client is still sending. A bounded
//! channel between the two keeps memory flat however many lines come: when the client
//! does not read, the server stops reading too.
//!
//! Rules (also in the OpenAPI document):
//! - No total size limit; one line may be at most the server's body limit.
//! - Answers come in input order, one object per non-blank line, each with its 1-based
//!   input `line`. A bad line (malformed JSON, too long, invalid features) is answered
//!   by `{"line", "error": {...}}` and the stream goes on.
//! - Every answered line was logged, once. When the client goes away, the block being
//!   worked on may have been logged without being answered; nothing is logged twice,
//!   since each line is scored and logged exactly once.
//! - A log failure or a beginning shutdown ends the stream with one error object naming
//!   the first line not answered.

use crate::auth::Caller;
use crate::decision::{count, decide_item, split, AnswerJson, Decided};
use crate::error::{ApiError, ErrorCode};
use crate::AppState;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use klartext_govern::Route;
use klartext_kinds::Operation;
use serde_json::Value;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::sync::mpsc;

/// Most lines scored and logged as one block.
const BLOCK_LINES: usize = 512;
/// Answer blocks buffered between the scorer and the socket.
const CHANNEL_BLOCKS: usize = 2;

/// Start streaming; the use case has been checked by the caller.
pub(crate) fn decide_ndjson(
    state: AppState,
    caller: Caller,
    usecase: String,
    op: Operation,
    explain: bool,
    body: Body,
) -> Response {
    let (tx, rx) = mpsc::channel(CHANNEL_BLOCKS);
    let max_line = state.inner.config.body_limit;
    tokio::spawn(async move {
        let mut s = Streamer {
            state,
            caller,
            usecase,
            op,
            explain,
            tx,
            max_line,
            pending: Vec::new(),
            partial: Vec::new(),
            skipping: false,
            line_no: 0,
        };
        s.run(body).await;
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        )],
        Body::new(ChannelBody { rx }),
    )
        .into_response()
}

/// A line read, waiting to be scored.
enum Pending {
    Text(u64, Vec<u8>),
    TooLong(u64),
}

struct Streamer {
    state: AppState,
    caller: Caller,
    usecase: String,
    op: Operation,
    explain: bool,
    tx: mpsc::Sender<Bytes>,
    max_line: usize,
    pending: Vec<Pending>,
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// Inside a line longer than `max_line`: dropping bytes until its end.
    skipping: bool,
    line_no: u64,
}

/// Why streaming stopped early.
struct Stop;

impl Streamer {
    async fn run(&mut self, mut body: Body) {
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
            match frame {
                None => break,
                Some(Err(e)) => {
                    // The client went away or broke the body: nobody to answer.
                    tracing::debug!(error = %e, "NDJSON request body ended early");
                    return;
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue; // trailers
                    };
                    self.take(&data);
                    while !self.pending.is_empty() {
                        if self.flush().await.is_err() {
                            return;
                        }
                    }
                }
            }
            if self.tx.is_closed() {
                return;
            }
        }
        // The last line may lack its newline.
        if self.skipping || !self.partial.is_empty() {
            self.line_no += 1;
            let line = std::mem::take(&mut self.partial);
            self.push(line);
        }
        while !self.pending.is_empty() {
            if self.flush().await.is_err() {
                return;
            }
        }
    }

    /// Split a chunk into lines.
    fn take(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match memchr(b'\n', data) {
                Some(i) => {
                    self.line_no += 1;
                    let line = if self.partial.is_empty() {
                        data[..i].to_vec()
                    } else {
                        let mut l = std::mem::take(&mut self.partial);
                        l.extend_from_slice(&data[..i]);
                        l
                    };
                    if self.skipping || line.len() > self.max_line {
                        self.pending.push(Pending::TooLong(self.line_no));
                        self.skipping = false;
                    } else {
                        self.push(line);
                    }
                    data = &data[i + 1..];
                }
                None => {
                    if !self.skipping {
                        self.partial.extend_from_slice(data);
                        if self.partial.len() > self.max_line {
                            self.skipping = true;
                            self.partial = Vec::new();
                        }
                    }
                    data = &[];
                }
            }
        }
    }

    fn push(&mut self, line: Vec<u8>) {
        if self.skipping {
            self.skipping = false;
            self.pending.push(Pending::TooLong(self.line_no));
        } else if !line.iter().all(u8::is_ascii_whitespace) {
            self.pending.push(Pending::Text(self.line_no, line));
        }
    }

    /// Decide, log and answer up to one block of pending lines.
    async fn flush(&mut self) -> Result<(), Stop> {
        let n = self.pending.len().min(BLOCK_LINES);
        let block: Vec<Pending> = self.pending.drain(..n).collect();
        let first_line = match &block[0] {
            Pending::Text(l, _) | Pending::TooLong(l) => *l,
        };
        let started = Instant::now();
        let route = match self.state.inner.gov.route(&self.usecase, self.op) {
            Ok(r) => r,
            Err(e) => {
                // Shutting down (or the model went away): say where the answers stop.
                self.end_with(first_line, &ApiError::from(e)).await;
                return Err(Stop);
            }
        };
        // Per line: its decision, or its error.
        let mut lines: Vec<(u64, Result<usize, ApiError>)> = Vec::with_capacity(block.len());
        let mut decisions = Vec::new();
        for p in block {
            let (line, result) = match p {
                Pending::TooLong(line) => (
                    line,
                    Err(ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        format!(
                            "the line is longer than the limit of {} bytes",
                            self.max_line
                        ),
                    )),
                ),
                Pending::Text(line, text) => (line, self.decide(&route, &text, started)),
            };
            match result {
                Ok(d) => {
                    lines.push((line, Ok(decisions.len())));
                    decisions.push(d);
                }
                Err(e) => {
                    self.state.inner.errors.count(e.code, Some(&self.usecase));
                    lines.push((line, Err(e)));
                }
            }
        }
        let mut records = Vec::new();
        let decided: Vec<Decided> = split(decisions, &mut records);
        if !records.is_empty() {
            if let Err(e) = self.state.inner.gov.commit(records).await {
                self.end_with(first_line, &ApiError::from(e)).await;
                return Err(Stop);
            }
            count(&decided, started);
        }
        let mut out = Vec::with_capacity(lines.len() * 256);
        for (line, r) in &lines {
            match r {
                Ok(i) => {
                    AnswerJson::new(&decided[*i].answer, Some(*line), &self.caller).write(&mut out)
                }
                Err(e) => serde_json::to_writer(&mut out, &line_error(*line, e))
                    .expect("errors serialise"),
            }
            out.push(b'\n');
        }
        // Only now, with the block in the log, do its answers go out.
        self.tx.send(Bytes::from(out)).await.map_err(|_| Stop)
    }

    fn decide(
        &self,
        route: &Route,
        text: &[u8],
        started: Instant,
    ) -> Result<klartext_govern::Decision, ApiError> {
        let item: Value = crate::json::from_slice(text).map_err(|e| {
            ApiError::new(
                ErrorCode::MalformedJson,
                format!("the line is not valid JSON: {e}"),
            )
        })?;
        if !item.is_object() {
            return Err(ApiError::new(
                ErrorCode::MalformedJson,
                "expected a JSON object with `subject_id` and `features`",
            ));
        }
        decide_item(route, &self.caller, &item, self.explain, "", started)
    }

    async fn end_with(&self, line: u64, e: &ApiError) {
        self.state.inner.errors.count(e.code, Some(&self.usecase));
        let mut out = serde_json::to_vec(&line_error(line, e)).expect("errors serialise");
        out.push(b'\n');
        let _ = self.tx.send(Bytes::from(out)).await;
    }
}

fn line_error(line: u64, e: &ApiError) -> Value {
    let mut v = e.body();
    v["line"] = line.into();
    v
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// The response body: blocks of answer lines as the scorer sends them. Dropping it
/// (the client went away) closes the channel, which stops the scorer.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|b| b.map(|b| Ok(http_body::Frame::data(b))))
    }
}
