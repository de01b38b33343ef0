//! Routes and handlers. Bodies are read as bytes and parsed here, so that every kind of
//! bad input (size, content type, JSON syntax, shape) answers from the one error registry.

use crate::auth::{require_key, Caller};
use crate::error::{ApiError, ErrorCode, FieldProblem};
use crate::features::{canonical_request, check};
use crate::state::Route;
use crate::{AppState, Served};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use klartext_store::{Feedback, PredictionRecord, PredictionRole};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

pub(crate) fn router(state: AppState) -> Router {
    // Built from the one route table that `/openapi.json` documents, so the two cannot
    // drift apart.
    let mut open = Router::new();
    let mut v1 = Router::new();
    for r in crate::routes::ROUTES {
        if let Some(role) = r.role {
            // The table's role is enforced here for every route (after the key check),
            // not left to each handler.
            let handler = (r.handler)();
            let handler = if role > klartext_store::KeyRole::Scorer {
                handler.route_layer(from_fn(move |req: Request, next: Next| {
                    require_role(role, r, req, next)
                }))
            } else {
                handler
            };
            v1 = v1.route(r.path, handler);
        } else {
            open = open.route(r.path, (r.handler)());
        }
    }
    // The kill switch sits inside the key check, so that fallbacks know their caller.
    let v1 = v1
        .route_layer(from_fn_with_state(
            state.clone(),
            crate::govern::kill_switch,
        ))
        .route_layer(from_fn_with_state(state.clone(), require_key));
    open.merge(v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), count_errors))
        .layer(from_fn(trace_requests))
        .layer(from_fn(catch_panics_as_500))
        .layer(DefaultBodyLimit::max(state.inner.config.body_limit))
        .with_state(state)
}

/// Refuse a key whose role is below the route's, before the handler sees the request.
async fn require_role(
    role: klartext_store::KeyRole,
    route: &'static crate::routes::Route,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(caller) = req.extensions().get::<Caller>() else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "no API key"));
    };
    if caller.role < role {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "key {} has role `{}`, which may not call {} {}; {} key may",
                caller.key_id,
                caller.role.as_str(),
                route.method.to_uppercase(),
                route.path,
                if role >= klartext_store::KeyRole::Admin {
                    "an admin"
                } else {
                    "an operator or admin"
                }
            ),
        ));
    }
    Ok(next.run(req).await)
}

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such route; the API lives under /v1",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take that method",
    )
}

/// One structured log event per request: `debug` normally, `warn` for a 5xx.
async fn trace_requests(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // A `Uri` clone shares its bytes: no copy of the path per request.
    let uri = req.uri().clone();
    let r = next.run(req).await;
    let path = uri.path();
    let status = r.status().as_u16();
    let latency_us = started.elapsed().as_micros() as u64;
    let code = r.extensions().get::<ErrorCode>().map_or("", |c| c.as_str());
    if status >= 500 {
        tracing::warn!(%method, path, status, latency_us, code, "request failed");
    } else {
        tracing::debug!(%method, path, status, latency_us, code, "request");
    }
    r
}

async fn count_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The use case a call is addressed to, when the server knows it (an unknown id in a
    // URL is counted in the totals only).
    let usecase = req
        .uri()
        .path()
        .strip_prefix("/v1/usecases/")
        .map(|rest| rest.split('/').next().unwrap_or(rest))
        .and_then(|id| state.inner.usecases.get_key_value(id))
        .map(|(k, _)| k.as_str());
    let r = next.run(req).await;
    if let Some(code) = r.extensions().get::<ErrorCode>() {
        state.inner.errors.count(*code, usecase);
    }
    r
}

/// Handlers are written not to panic; should one anyway, the client still gets the one
/// error shape (axum would otherwise drop the connection). The panic is caught where the
/// request's future is polled (no task spawned per request).
async fn catch_panics_as_500(req: Request, next: Next) -> Response {
    use std::future::Future;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::task::Poll;
    let mut fut = Box::pin(next.run(req));
    let caught = std::future::poll_fn(move |cx| {
        match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(r)) => Poll::Ready(Ok(r)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    })
    .await;
    match caught {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            ApiError::internal("handler panicked", &what).into_response()
        }
    }
}

pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let served: Map<String, Value> = state
        .served()
        .into_iter()
        .map(|(id, v)| (id, v.map_or(Value::Null, Value::String)))
        .collect();
    if state.inner.shutting_down.load(Ordering::SeqCst) {
        return ApiError::new(ErrorCode::ShuttingDown, "the server is shutting down")
            .into_response();
    }
    Json(json!({ "status": "ready", "use_cases": served })).into_response()
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    // Every model loaded so far (champions, challengers, rolled-back ones keep counting).
    let loaded: Vec<std::sync::Arc<Served>> = state
        .inner
        .usecases
        .values()
        .flat_map(|u| u.all_loaded())
        .collect();
    let mut text = crate::metrics::render(
        loaded.iter().map(|s| &s.metrics),
        &state.inner.errors,
        state.inner.usecases.keys().map(String::as_str),
    );
    crate::metrics::render_log(&mut text, state.inner.log.stats());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

pub(crate) async fn list_usecases(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let list: Vec<Value> = state
        .inner
        .usecases
        .values()
        .map(|u| {
            let served = u.served();
            json!({
                "id": u.usecase.id,
                "title": u.usecase.title,
                "model_version": served.as_ref().map(|s| &s.version),
                "features": served.as_ref().map(|s| s.artifact.header.encoder.features.iter().map(|f| &f.name).collect::<Vec<_>>()),
            })
        })
        .collect();
    Ok(Json(json!({ "use_cases": list })))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct PredictQuery {
    explain: Option<bool>,
}

/// The use case and the models its requests go to, or why there is none.
pub(crate) fn route(state: &AppState, id: &str) -> Result<Route, ApiError> {
    if state.inner.shutting_down.load(Ordering::SeqCst) {
        return Err(ApiError::new(
            ErrorCode::ShuttingDown,
            "the server is shutting down; retry on another replica",
        ));
    }
    let u = state.inner.usecases.get(id).ok_or_else(|| {
        let known: Vec<&str> = state.inner.usecases.keys().map(String::as_str).collect();
        ApiError::new(
            ErrorCode::UnknownUseCase,
            format!(
                "use case `{id}` does not exist; known use cases: {}",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ),
        )
    })?;
    u.route()
        .map(|r| crate::subjects::with_policy(state, &u.usecase, r))
        .ok_or_else(|| {
        ApiError::new(
            ErrorCode::NoModel,
            format!("use case `{id}` has no model version whose gates passed; train one with `klartext train {id}`"),
        )
    })
}

pub(crate) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than the limit of {limit} bytes; split it into smaller batches"),
            )
        } else {
            ApiError::new(ErrorCode::InvalidRequest, format!("cannot read the request body: {r}"))
        }
    })
}

/// A JSON object body with only `allowed` fields. With `empty_ok`, a body of nothing but
/// whitespace (in any content type) is an empty object.
pub(crate) fn object_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
    allowed: &[&str],
    empty_ok: bool,
) -> Result<Map<String, Value>, ApiError> {
    let m = json_object(headers, body, limit, empty_ok)?;
    only_fields(&m, allowed)?;
    Ok(m)
}

/// A JSON object body, any fields (see [`object_body`]).
fn json_object(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
    empty_ok: bool,
) -> Result<Map<String, Value>, ApiError> {
    let bytes = body_bytes(body, limit)?;
    if empty_ok && bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    if media_type(headers) != "application/json" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as `Content-Type: application/json`",
        ));
    }
    match parse_json(&bytes)? {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::new(
            ErrorCode::MalformedJson,
            "expected a JSON object",
        )),
    }
}

/// Refuse a field not in `allowed`, naming it.
fn only_fields(m: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("unknown field; this request takes {}", allowed.join(", ")),
        )
        .field(k.clone())),
        None => Ok(()),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {e}"),
        )
    })
}

pub(crate) fn explain_flag(
    q: Result<Query<PredictQuery>, QueryRejection>,
) -> Result<bool, ApiError> {
    match q {
        Ok(Query(q)) => Ok(q.explain.unwrap_or(true)),
        Err(e) => Err(ApiError::bad_query(&e, "explain")),
    }
}

/// The answer to one row. A scored row's answer is serialised straight from its parts;
/// the bytes are the same as those of the JSON object built from them (keys in the
/// sorted order of `serde_json`'s map), without building and dropping that tree.
pub(crate) enum Answer {
    Scored(Box<ScoredAnswer>),
    /// Any other answer (an objection, a decision held for review, a stream's line error).
    Other(Value),
}

/// What a scored row answers; see [`Answer`].
pub(crate) struct ScoredAnswer {
    prediction_id: String,
    use_case: String,
    model_version: String,
    score: f64,
    label: Option<String>,
    reasons: Vec<String>,
    warnings: Vec<FieldProblem>,
    /// Absent with `?explain=false`.
    explanation: Option<Vec<klartext_train::reasons::Contribution>>,
    /// The line number of a streamed answer.
    line: Option<u64>,
}

impl Answer {
    /// Number a streamed answer with its line.
    pub(crate) fn set_line(&mut self, line: u64) {
        match self {
            Answer::Scored(a) => a.line = Some(line),
            Answer::Other(v) => v["line"] = line.into(),
        }
    }

    /// The answer as a JSON tree (for the rare paths that edit it).
    fn into_value(self) -> Value {
        match self {
            Answer::Scored(a) => serde_json::to_value(&*a).expect("answers serialise"),
            Answer::Other(v) => v,
        }
    }
}

impl serde::Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Answer::Scored(a) => a.serialize(s),
            Answer::Other(v) => v.serialize(s),
        }
    }
}

impl serde::Serialize for ScoredAnswer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Item<'a>(&'a klartext_train::reasons::Contribution);
        impl serde::Serialize for Item<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("contribution", &self.0.contribution)?;
                m.serialize_entry("feature", &self.0.feature)?;
                m.serialize_entry("value", &self.0.value)?;
                m.end()
            }
        }
        struct Items<'a>(&'a [klartext_train::reasons::Contribution]);
        impl serde::Serialize for Items<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(Item))
            }
        }
        // Keys in sorted order, as a `serde_json::Map` holds them.
        let n = 8 + usize::from(self.explanation.is_some()) + usize::from(self.line.is_some());
        let mut m = s.serialize_map(Some(n))?;
        if let Some(e) = &self.explanation {
            m.serialize_entry("explanation", &Items(e))?;
        }
        m.serialize_entry("fallback", &false)?;
        m.serialize_entry("label", &self.label)?;
        if let Some(l) = self.line {
            m.serialize_entry("line", &l)?;
        }
        m.serialize_entry("model_version", &self.model_version)?;
        m.serialize_entry("prediction_id", &self.prediction_id)?;
        m.serialize_entry("reasons", &self.reasons)?;
        m.serialize_entry("score", &self.score)?;
        m.serialize_entry("use_case", &self.use_case)?;
        m.serialize_entry("warnings", &self.warnings)?;
        m.end()
    }
}

/// One scored row, ready to log and to answer.
pub(crate) struct Row {
    pub record: PredictionRecord,
    pub answer: Answer,
    /// The model that answered (champion, or a canary challenger), for its metrics.
    pub by: Arc<Served>,
    /// A shadow challenger's prediction of the same request: logged, never answered.
    pub shadow: Option<PredictionRecord>,
}

impl Row {
    /// The log rows: the answered one, then the shadow's.
    pub(crate) fn records(self, into: &mut Vec<PredictionRecord>) -> (Answer, Arc<Served>) {
        into.push(self.record);
        into.extend(self.shadow);
        (self.answer, self.by)
    }
}

/// Count scored rows on the metrics of the model that answered each.
pub(crate) fn observe(by: &[Arc<Served>], latency_us: u64) {
    let mut counts: Vec<(&Arc<Served>, u64)> = Vec::new();
    for s in by {
        match counts.iter_mut().find(|(c, _)| Arc::ptr_eq(c, s)) {
            Some((_, n)) => *n += 1,
            None => counts.push((s, 1)),
        }
    }
    for (s, n) in counts {
        s.metrics.observe(n, latency_us, false);
    }
}

/// `pr_` and 24 hex digits: the time in milliseconds (48 bits), then 48 random bits. Ids
/// sort by time, so the log's primary-key index grows at its end instead of touching a
/// random page per row (a commit writes several times fewer pages).
fn new_prediction_id() -> Result<String, ApiError> {
    let mut b = [0u8; 12];
    b[..6].copy_from_slice(&klartext_store::now_ms().to_be_bytes()[2..]);
    getrandom::fill(&mut b[6..]).map_err(|e| ApiError::internal("no randomness for an id", &e))?;
    Ok(format!("pr_{}", hex::encode(b)))
}

/// Check and score one request object (`{"subject_id", "features"}`) with the model its
/// subject is routed to, and with a shadow challenger after it; `prefix` names its place
/// in a batch for error fields. A shadow that cannot score the request is logged as a
/// server event and changes nothing about the answer.
pub(crate) fn score_one(
    usecase: &str,
    route: &Route,
    caller: &Caller,
    item: &Value,
    explain: bool,
    prefix: &str,
    started: Instant,
) -> Result<Row, Vec<FieldProblem>> {
    let (subject_id, features) = parse_item(item, prefix)?;
    if let Some((record, answer, by)) =
        crate::subjects::objected_row(usecase, route, caller, subject_id.as_deref(), item, started)
            .map_err(|m| {
                vec![FieldProblem {
                    field: prefix.into(),
                    message: m,
                }]
            })?
    {
        return Ok(Row {
            record,
            answer: Answer::Other(answer),
            by,
            shadow: None,
        });
    }
    let (answering, shadow) = route.pick(usecase, subject_id.as_deref());
    let (mut record, mut answer) = score_with(
        usecase,
        answering,
        caller,
        subject_id.clone(),
        features,
        explain,
        prefix,
        started,
    )?;
    if route.policy.review {
        let mut held = answer.into_value();
        crate::subjects::hold_for_review(route, &mut record, &mut held);
        answer = Answer::Other(held);
    }
    let shadow = shadow.and_then(|sh| {
        match score_with(
            usecase,
            sh,
            caller,
            subject_id,
            features,
            false,
            prefix,
            Instant::now(),
        ) {
            Ok((mut r, _)) => {
                r.role = PredictionRole::Shadow;
                r.output["shadow_of"] = Value::from(record.prediction_id.clone());
                Some(r)
            }
            Err(p) => {
                tracing::warn!(use_case = usecase, shadow = %sh.version, problems = ?p.iter().map(|p| &p.field).collect::<Vec<_>>(), "the shadow challenger could not score a request");
                None
            }
        }
    });
    Ok(Row {
        record,
        answer,
        by: answering.clone(),
        shadow,
    })
}

/// A request's subject id and features.
type Parts<'a> = (Option<String>, &'a Map<String, Value>);

/// The subject id and the features of a request object.
fn parse_item<'a>(item: &'a Value, prefix: &str) -> Result<Parts<'a>, Vec<FieldProblem>> {
    let problem = |field: &str, message: &str| {
        vec![FieldProblem {
            field: format!("{prefix}{field}"),
            message: message.into(),
        }]
    };
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
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(problem("subject_id", "expected text or a number")),
    };
    let features = match obj.get("features") {
        Some(Value::Object(m)) => m,
        None => {
            return Err(problem(
                "features",
                "missing; send the features as an object",
            ))
        }
        Some(_) => return Err(problem("features", "expected an object of feature values")),
    };
    Ok((subject_id, features))
}

/// Score checked request parts with one model: its log row and its answer.
#[allow(clippy::too_many_arguments)]
fn score_with(
    usecase: &str,
    served: &Served,
    caller: &Caller,
    subject_id: Option<String>,
    features: &Map<String, Value>,
    explain: bool,
    prefix: &str,
    started: Instant,
) -> Result<(PredictionRecord, Answer), Vec<FieldProblem>> {
    let problem = |field: &str, message: &str| {
        vec![FieldProblem {
            field: format!("{prefix}{field}"),
            message: message.into(),
        }]
    };
    let enc = &served.artifact.header.encoder;
    let checked = check(enc, features, &format!("{prefix}features."))?;
    let scored = served
        .artifact
        .score(
            |name| {
                enc.features
                    .iter()
                    .position(|f| f.name == name)
                    .and_then(|i| checked.values[i].clone())
            },
            explain,
        )
        .map_err(|e| match e {
            klartext_train::TrainError::Input { feature, message } => {
                problem(&format!("features.{feature}"), &message)
            }
            other => {
                // Not the caller's fault: logged, and answered as a field-less problem.
                tracing::error!(error = %other, "scoring failed");
                problem("", "the model could not score this row")
            }
        })?;
    let prediction_id = new_prediction_id().map_err(|e| problem("", &e.message))?;
    let digest = hex::encode(Sha256::digest(canonical_request(
        subject_id.as_deref(),
        features,
    )));
    let features = Some(enc.log_row(&scored.row, |i| checked.values[i].as_deref()));
    // The log's output: `{"label", "reasons", "score"}`, as the store expects it.
    let mut output = Map::new();
    output.insert("label".into(), Value::from(scored.label.clone()));
    output.insert("reasons".into(), Value::from(scored.reasons.clone()));
    output.insert("score".into(), Value::from(scored.score));
    let record = PredictionRecord {
        prediction_id: prediction_id.clone(),
        at_ms: klartext_store::now_ms(),
        usecase_id: usecase.to_owned(),
        model_version: served.version.clone(),
        subject_id,
        input_digest: digest,
        output: Value::Object(output),
        latency_us: started.elapsed().as_micros() as i64,
        caller: caller.key_id.clone(),
        fallback: false,
        role: PredictionRole::Served,
        score: Some(scored.score),
        features,
    };
    let answer = Answer::Scored(Box::new(ScoredAnswer {
        prediction_id,
        use_case: usecase.to_owned(),
        model_version: served.version.clone(),
        score: scored.score,
        label: scored.label,
        reasons: scored.reasons,
        warnings: checked.warnings,
        explanation: explain.then_some(scored.explanation),
        line: None,
    }));
    Ok((record, answer))
}

/// Commit the rows to the prediction log; only then may the answer go out.
pub(crate) async fn log_rows(
    state: &AppState,
    rows: Vec<PredictionRecord>,
) -> Result<(), ApiError> {
    state.inner.log.append(rows).await.map_err(|_| {
        tracing::error!("prediction log unavailable; answering 503");
        ApiError::new(
            ErrorCode::LogUnavailable,
            "the prediction could not be recorded, so it is not answered; retry",
        )
    })
}

pub(crate) async fn predict(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    query: Result<Query<PredictQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let route = route(&state, &id)?;
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
    let row = score_one(&id, &route, &caller, &item, explain, "", started)
        .map_err(ApiError::invalid_features)?;
    let mut records = Vec::with_capacity(2);
    let (answer, by) = row.records(&mut records);
    log_rows(&state, records).await?;
    by.metrics
        .observe(1, started.elapsed().as_micros() as u64, false);
    Ok(Json(answer).into_response())
}

pub(crate) async fn predict_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    query: Result<Query<PredictQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    // A stream reads the route again per block; checking here refuses it before it starts.
    let route = route(&state, &id)?;
    let explain = explain_flag(query)?;
    match media_type(&headers).as_str() {
        "application/json" => {}
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
            // Streamed: no body limit (a per-line one instead), answers flow as lines are
            // scored and logged.
            return Ok(crate::stream::predict_ndjson(state.clone(), caller, id, explain, request.into_body()));
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
    let mut rows = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match score_one(
            &id,
            &route,
            &caller,
            item,
            explain,
            &format!("[{i}]."),
            started,
        ) {
            Ok(r) => rows.push(r),
            Err(p) => problems.extend(p),
        }
        if problems.len() >= 100 {
            break;
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid_features(problems));
    }
    let mut records = Vec::with_capacity(rows.len());
    let mut answers = Vec::with_capacity(rows.len());
    let mut by = Vec::with_capacity(rows.len());
    for r in rows {
        let (a, s) = r.records(&mut records);
        answers.push(a);
        by.push(s);
    }
    log_rows(&state, records).await?;
    observe(&by, started.elapsed().as_micros() as u64);
    Ok(Json(answers).into_response())
}

pub(crate) async fn get_prediction(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = state.inner.store.clone();
    let (p, fb) = tokio::task::spawn_blocking(move || {
        let p = store.prediction(&id)?;
        let fb = match &p {
            Some(p) => store.feedback(&p.prediction_id)?,
            None => Vec::new(),
        };
        Ok::<_, klartext_store::StoreError>((p, fb))
    })
    .await
    .map_err(|e| ApiError::internal("prediction lookup task failed", &e))?
    .map_err(|e| ApiError::internal("prediction lookup failed", &e))?;
    let p = p.ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownPrediction,
            "no prediction with this id is logged",
        )
    })?;
    Ok(Json(json!({ "prediction": p, "feedback": fb })))
}

pub(crate) async fn feedback(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut m = json_object(&headers, body, state.inner.config.body_limit, false)?;
    let outcome =
        match m.remove("outcome") {
            Some(Value::Null) | None => return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "missing `outcome`: send the real outcome, e.g. {\"outcome\": {\"churned\": true}}",
            )
            .field("outcome")),
            Some(o) => o,
        };
    only_fields(&m, &["outcome"])?;
    let fb = Feedback {
        prediction_id: id,
        outcome,
        at_ms: klartext_store::now_ms(),
        caller: caller.key_id,
    };
    let store = state.inner.store.clone();
    let stored = {
        let fb = fb.clone();
        tokio::task::spawn_blocking(move || store.add_feedback(&fb))
            .await
            .map_err(|e| ApiError::internal("feedback task failed", &e))?
            .map_err(|e| ApiError::internal("feedback write failed", &e))?
    };
    if !stored {
        return Err(ApiError::new(
            ErrorCode::UnknownPrediction,
            format!(
                "no prediction `{}` is logged; feedback attaches to a served prediction id",
                fb.prediction_id
            ),
        ));
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({ "prediction_id": fb.prediction_id, "stored": true })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::{Answer, ScoredAnswer};
    use crate::error::FieldProblem;
    use klartext_train::reasons::Contribution;
    use serde_json::json;

    /// The scored answer serialises to the very bytes of the JSON object built from the
    /// same parts, whatever is present.
    #[test]
    fn scored_answer_bytes_equal_those_of_the_json_object() {
        let explanation = vec![
            Contribution {
                feature: "contract".into(),
                value: "two \"year\"".into(),
                contribution: -1.0689711959474664,
            },
            Contribution {
                feature: "age".into(),
                value: "missing".into(),
                contribution: 0.0,
            },
        ];
        let warnings = vec![FieldProblem {
            field: "features.age".into(),
            message: "150 is outside the range".into(),
        }];
        for (score, label, explain, line) in [
            (0.15636229166752552, Some("No"), true, None),
            (1e-300, None, false, Some(7u64)),
            (f64::NAN, Some("Yes"), true, Some(0)),
        ] {
            let answer = Answer::Scored(Box::new(ScoredAnswer {
                prediction_id: "pr_0123".into(),
                use_case: "churn".into(),
                model_version: "c1559f3e4f34".into(),
                score,
                label: label.map(str::to_owned),
                reasons: vec!["contract = two year lowers the likelihood of churn".into()],
                warnings: warnings.clone(),
                explanation: explain.then(|| explanation.clone()),
                line,
            }));
            let mut tree = json!({
                "prediction_id": "pr_0123",
                "use_case": "churn",
                "model_version": "c1559f3e4f34",
                "score": score,
                "label": label,
                "reasons": ["contract = two year lowers the likelihood of churn"],
                "fallback": false,
                "warnings": warnings,
            });
            if explain {
                tree["explanation"] = serde_json::to_value(&explanation).unwrap();
            }
            if let Some(l) = line {
                tree["line"] = l.into();
            }
            assert_eq!(
                serde_json::to_string(&answer).unwrap(),
                serde_json::to_string(&tree).unwrap()
            );
            assert_eq!(answer.into_value(), tree);
        }
    }
}
