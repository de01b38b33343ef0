//! The handlers of the route table's decision routes, built from their mark
//! ([`crate::routes::Decision`]): the body is read and checked here (HTTP and JSON are
//! this crate's), every request object goes through the governance layer's one
//! decision path, the log rows are committed, the metrics count them, and only then do
//! the answers go out. A route marked as a decision cannot do otherwise: it has no
//! handler of its own.

use crate::api::{body_bytes, explain_flag, media_type, parse_json, DecisionQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode, FieldProblem};
use crate::routes::{Decision, Shape};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use axum::Extension;
use klartext_govern::decide::observe;
use klartext_govern::{Answered, Context, Given, Refused, Request as DecisionRequest, Route};
use klartext_kinds::{AnswerBody, Operation};
use klartext_store::PredictionRecord;
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Instant;

/// The handler of a decision route.
pub(crate) fn method_router(d: Decision) -> MethodRouter<AppState> {
    match d.shape {
        Shape::One => post(
            move |state: State<AppState>,
                  caller: Extension<Caller>,
                  id: Path<String>,
                  query: Result<Query<DecisionQuery>, QueryRejection>,
                  headers: HeaderMap,
                  body: Result<Bytes, BytesRejection>| {
                one(d.op, state, caller, id, query, headers, body)
            },
        ),
        Shape::Batch => post(
            move |state: State<AppState>,
                  caller: Extension<Caller>,
                  id: Path<String>,
                  query: Result<Query<DecisionQuery>, QueryRejection>,
                  headers: HeaderMap,
                  request: Request| {
                batch(d.op, state, caller, id, query, headers, request)
            },
        ),
    }
}

use klartext_govern::rights::MAX_SUBJECT_LEN;

/// A request object's subject and the operation's input.
type Parts<'a> = (Option<String>, &'a Map<String, Value>);

/// What a request object of `op` holds: the subject and the operation's input.
pub(crate) fn parse_item<'a>(
    op: Operation,
    item: &'a Value,
    prefix: &str,
) -> Result<Parts<'a>, Vec<FieldProblem>> {
    let problem =
        |field: &str, message: &str| vec![FieldProblem::new(format!("{prefix}{field}"), message)];
    match op {
        Operation::Predict => {
            let Value::Object(obj) = item else {
                return Err(problem(
                    "",
                    "expected an object with `subject_id` and `features`",
                ));
            };
            if let Some(k) = obj.keys().find(|k| *k != "subject_id" && *k != "features") {
                return Err(problem(
                    k,
                    "unknown field; a request has `subject_id` and `features`",
                ));
            }
            let subject_id = match obj.get("subject_id") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.len() > MAX_SUBJECT_LEN => {
                    return Err(problem(
                        "subject_id",
                        &format!(
                            "{} bytes; a subject id is at most {MAX_SUBJECT_LEN}",
                            s.len()
                        ),
                    ))
                }
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(_) => return Err(problem("subject_id", "expected text or a number")),
            };
            match obj.get("features") {
                Some(Value::Object(m)) => Ok((subject_id, m)),
                None => Err(problem(
                    "features",
                    "missing; send the features as an object",
                )),
                Some(_) => Err(problem("features", "expected an object of feature values")),
            }
        }
    }
}

/// Where a request's input sits, for error fields.
fn input_prefix(op: Operation, prefix: &str) -> String {
    match op {
        Operation::Predict => format!("{prefix}features."),
    }
}

/// Decide one request object.
pub(crate) fn decide_item(
    route: &Route,
    caller: &Caller,
    item: &Value,
    explain: bool,
    prefix: &str,
    started: Instant,
) -> Result<klartext_govern::Decision, ApiError> {
    let op = route.operation();
    let (subject, input) = parse_item(op, item, prefix).map_err(ApiError::invalid_features)?;
    let req = DecisionRequest {
        subject_id: subject.as_deref(),
        input,
        prefix: &input_prefix(op, prefix),
        explain,
    };
    let ctx = Context {
        caller: &caller.key_id,
        batch_id: None,
        started,
    };
    route.decide(req, &ctx).map_err(|r| match r {
        Refused::Invalid(p) => ApiError::invalid_features(p),
        Refused::Failed(m) => ApiError::internal("a decision failed", &m),
    })
}

/// One decided request, ready to log and answer.
pub(crate) struct Decided {
    pub answer: Answered,
    pub by: Option<std::sync::Arc<klartext_govern::Served>>,
}

/// Split decisions into their log rows and their answers.
pub(crate) fn split(
    decisions: Vec<klartext_govern::Decision>,
    records: &mut Vec<PredictionRecord>,
) -> Vec<Decided> {
    decisions
        .into_iter()
        .map(|d| {
            records.push(d.record);
            records.extend(d.shadow);
            Decided {
                answer: d.answer,
                by: d.by,
            }
        })
        .collect()
}

/// Count answered decisions on the metrics of the version that answered each.
pub(crate) fn count(decided: &[Decided], started: Instant) {
    let by: Vec<_> = decided
        .iter()
        .map(|d| (d.by.clone(), d.answer.is_fallback()))
        .collect();
    observe(&by, started.elapsed().as_micros() as u64);
}

async fn one(
    op: Operation,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    query: Result<Query<DecisionQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let route = state.inner.gov.route(&id, op)?;
    let explain = explain_flag(query)?;
    if media_type(&headers) != "application/json" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the request as `Content-Type: application/json`",
        ));
    }
    let bytes = body_bytes(body, state.inner.config.body_limit)?;
    let item = parse_json(&bytes)?;
    if !item.is_object() {
        return Err(ApiError::new(
            ErrorCode::MalformedJson,
            "expected a JSON object with `subject_id` and `features`",
        ));
    }
    let d = decide_item(&route, &caller, &item, explain, "", started)?;
    let mut records = Vec::with_capacity(2);
    let decided = split(vec![d], &mut records);
    state.inner.gov.commit(records).await?;
    count(&decided, started);
    let d = decided.into_iter().next().expect("one decision");
    Ok(json_response(
        AnswerJson::new(&d.answer, None, &caller).to_vec(),
    ))
}

async fn batch(
    op: Operation,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    query: Result<Query<DecisionQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    // A stream reads the route again per block; this refuses it before it starts.
    let route = state.inner.gov.route(&id, op)?;
    let explain = explain_flag(query)?;
    match media_type(&headers).as_str() {
        "application/json" => {}
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
            // Streamed: no body limit (a per-line one instead), answers flow as lines
            // are decided and logged.
            return Ok(crate::stream::decide_ndjson(
                state.clone(),
                caller,
                id,
                op,
                explain,
                request.into_body(),
            ));
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send a JSON array as `application/json` or one object per line as `application/x-ndjson`",
            ))
        }
    };
    let body = Bytes::from_request(request, &state).await;
    let bytes = body_bytes(body, state.inner.config.body_limit)?;
    let items: Vec<Value> = match parse_json(&bytes)? {
        Value::Array(a) => a,
        _ => {
            return Err(ApiError::new(
                ErrorCode::MalformedJson,
                "expected a JSON array of `{\"subject_id\", \"features\"}` objects",
            ))
        }
    };
    let max = state.inner.config.max_batch_rows;
    if items.len() > max {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "{} rows in one batch; at most {max} are accepted",
                items.len()
            ),
        ));
    }
    // Every row is checked before any is logged: a bad row refuses the batch whole.
    let mut decisions = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match decide_item(&route, &caller, item, explain, &format!("[{i}]."), started) {
            Ok(d) => decisions.push(d),
            Err(e) if e.code == ErrorCode::InvalidFeatures => problems.extend(e.details),
            Err(e) => return Err(e),
        }
        if problems.len() >= 100 {
            break;
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid_features(problems));
    }
    let mut records = Vec::with_capacity(decisions.len());
    let decided = split(decisions, &mut records);
    state.inner.gov.commit(records).await?;
    count(&decided, started);
    let mut out = Vec::with_capacity(decided.len() * 1024 + 2);
    out.push(b'[');
    for (i, d) in decided.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        AnswerJson::new(&d.answer, None, &caller).write(&mut out);
    }
    out.push(b']');
    Ok(json_response(out))
}

/// An answer as the API writes it: the decision's envelope (id, use case, version,
/// warnings) and what it answers, by how it was answered.
pub(crate) struct AnswerJson<'a> {
    a: &'a Answered,
    /// The input line of a streamed answer.
    line: Option<u64>,
    /// The caller may read the operator's words on a switch (a scorer reads only that
    /// the use case is off).
    operator: bool,
}

impl<'a> AnswerJson<'a> {
    pub(crate) fn new(a: &'a Answered, line: Option<u64>, caller: &Caller) -> AnswerJson<'a> {
        AnswerJson {
            a,
            line,
            operator: caller.role >= klartext_store::KeyRole::Operator,
        }
    }
}

/// What every answer carries.
#[derive(Serialize)]
struct Envelope<'a> {
    prediction_id: &'a str,
    use_case: &'a str,
    model_version: Option<&'a str>,
    fallback: bool,
    /// The input line of a streamed answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
}

#[derive(Serialize)]
struct Scored<'a> {
    #[serde(flatten)]
    envelope: Envelope<'a>,
    warnings: &'a [FieldProblem],
}

#[derive(Serialize)]
struct Held<'a> {
    #[serde(flatten)]
    envelope: Envelope<'a>,
    warnings: &'a [FieldProblem],
    score: Option<f64>,
    decision: &'static str,
    review: &'static str,
    reasons: [&'static str; 1],
}

#[derive(Serialize)]
struct Objected<'a> {
    #[serde(flatten)]
    envelope: Envelope<'a>,
    warnings: [(); 0],
    score: Option<f64>,
    label: Option<&'a str>,
    objected: bool,
    reasons: [&'static str; 1],
}

#[derive(Serialize)]
struct Off<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    since_ms: i64,
}

#[derive(Serialize)]
struct Fallback<'a> {
    #[serde(flatten)]
    envelope: Envelope<'a>,
    warnings: &'a [String],
    decision: bool,
    switched_off: Off<'a>,
    reasons: [&'static str; 1],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    objected: bool,
    /// `null`s for a subject who objected (the fallback's fields otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<Option<&'a str>>,
}

fn write_json(out: &mut Vec<u8>, v: &impl Serialize) {
    serde_json::to_writer(out, v).expect("answers serialise");
}

/// Write `head` (a JSON object) with the kind's answer fields added to it.
fn with_fields(out: &mut Vec<u8>, head: &impl Serialize, fields: &AnswerBody) {
    serde_json::to_writer(&mut *out, head).expect("answers serialise");
    let inner = fields.get().trim();
    let inner = inner
        .strip_prefix('{')
        .and_then(|i| i.strip_suffix('}'))
        .expect("answer fields are a JSON object")
        .trim();
    if !inner.is_empty() {
        out.pop();
        out.push(b',');
        out.extend_from_slice(inner.as_bytes());
        out.push(b'}');
    }
}

impl AnswerJson<'_> {
    /// Append the answer's JSON to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let a = self.a;
        let envelope = |fallback| Envelope {
            prediction_id: &a.prediction_id,
            use_case: &a.usecase,
            model_version: a.model_version.as_deref(),
            fallback,
            line: self.line,
        };
        let reason = [a.given.reason().unwrap_or_default()];
        match &a.given {
            Given::Answered { body, warnings } => with_fields(
                out,
                &Scored {
                    envelope: envelope(false),
                    warnings,
                },
                body,
            ),
            Given::HeldForReview { warnings } => write_json(
                out,
                &Held {
                    envelope: envelope(false),
                    warnings,
                    score: None,
                    decision: "pending review",
                    review: "pending",
                    reasons: reason,
                },
            ),
            Given::Objected => write_json(
                out,
                &Objected {
                    envelope: envelope(false),
                    warnings: [],
                    score: None,
                    label: None,
                    objected: true,
                    reasons: reason,
                },
            ),
            Given::Fallback {
                body,
                decides,
                warnings,
                off,
                objected,
            } => {
                let head = Fallback {
                    envelope: envelope(true),
                    warnings,
                    decision: *decides,
                    switched_off: Off {
                        reason: self.operator.then_some(off.reason.as_str()),
                        since_ms: off.at_ms,
                    },
                    reasons: reason,
                    objected: *objected,
                    score: body.is_none().then_some(None),
                    label: body.is_none().then_some(None),
                };
                match body {
                    Some(b) => with_fields(out, &head, b),
                    None => write_json(out, &head),
                }
            }
        }
    }

    /// The answer as JSON bytes.
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        self.write(&mut out);
        out
    }
}

/// A JSON response of bytes already written.
pub(crate) fn json_response(bytes: Vec<u8>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}
