//! The router built from the route table, its layers (keys, roles, error counts,
//! tracing, panics), and the handlers that are not decisions. Bodies are read as bytes
//! and parsed here, so that every kind of bad input (size, content type, JSON syntax,
//! shape) answers from the one error registry.

use crate::auth::{require_key, Caller};
use crate::error::{ApiError, ErrorCode};
use crate::routes::Handler;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use klartext_govern::Served;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Instant;

pub(crate) fn router(state: AppState) -> Router {
    // Built from the one route table that `/openapi.json` documents, so the two cannot
    // drift apart.
    let mut open = Router::new();
    let mut v1 = Router::new();
    for r in crate::routes::ROUTES {
        let handler = match r.handler {
            Handler::Plain(h) => h(),
            // A decision route has no handler of its own: it is built from its mark, so
            // that it goes through the governance layer.
            Handler::Decision(d) => crate::decision::method_router(d),
        };
        let role = r.role_on(&state.inner.config);
        let handler = match role {
            // The table's role is enforced here for every route (after the key check),
            // not left to each handler.
            Some(role) if role > klartext_store::KeyRole::Scorer => handler
                .route_layer(from_fn(move |req: Request, next: Next| {
                    require_role(role, r, req, next)
                }))
                .route_layer(from_fn_with_state(state.clone(), require_key)),
            Some(_) => handler.route_layer(from_fn_with_state(state.clone(), require_key)),
            None => handler,
        };
        // Calls addressed to a use case count their errors per use case too (also a
        // refused key); the table says which routes are (a use case's `{id}` in the path).
        let handler = if r.path.starts_with("/v1/usecases/{id}") {
            handler.route_layer(from_fn_with_state(state.clone(), count_usecase_errors))
        } else {
            handler
        };
        if role.is_some() {
            v1 = v1.route(r.path, handler);
        } else {
            open = open.route(r.path, handler);
        }
    }
    open.merge(v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), count_errors))
        .layer(from_fn(in_the_envelope))
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

/// Longest URI a request may have.
const MAX_URI: usize = 8 * 1024;
/// Largest total size of a request's headers.
const MAX_HEADERS: usize = 64 * 1024;

/// Every error leaves as `{"error": {"code", "message"}}`: a request beyond the URI or
/// header limits is refused here, and an error the framework answered itself (a path
/// that does not decode, say) is rewritten into the envelope.
async fn in_the_envelope(req: Request, next: Next) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI {
        return ApiError::new(
            ErrorCode::UriTooLong,
            format!("the URI is {uri_len} bytes; at most {MAX_URI} are taken"),
        )
        .into_response();
    }
    let header_len: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_len > MAX_HEADERS {
        return ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!("the headers are {header_len} bytes; at most {MAX_HEADERS} are taken"),
        )
        .into_response();
    }
    let r = next.run(req).await;
    if !(r.status().is_client_error() || r.status().is_server_error())
        || r.extensions().get::<ErrorCode>().is_some()
    {
        return r;
    }
    let status = r.status();
    let text = axum::body::to_bytes(r.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::InvalidRequest,
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    ApiError::new(code, message).into_response()
}

/// Every error answer, by code.
async fn count_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let r = next.run(req).await;
    if let Some(code) = r.extensions().get::<ErrorCode>() {
        state.inner.errors.count(*code, None);
    }
    r
}

/// The error answers of a call addressed to a use case, per use case (known ones only:
/// an unknown id must not grow the label set).
async fn count_usecase_errors(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    req: Request,
    next: Next,
) -> Response {
    let r = next.run(req).await;
    if let Some(code) = r.extensions().get::<ErrorCode>() {
        let id = params
            .iter()
            .find(|(k, _)| k == "id")
            .map(|(_, v)| v.as_str());
        if let Some(u) = id.and_then(|id| state.inner.gov.usecase(id)) {
            state.inner.errors.count_for_usecase(*code, &u.usecase.id);
        }
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
    let gov = &state.inner.gov;
    if gov.is_shutting_down() {
        return ApiError::new(ErrorCode::ShuttingDown, "the server is shutting down")
            .into_response();
    }
    let served: Map<String, Value> = gov
        .usecases()
        .map(|u| {
            let v = u.served().map(|s| s.version.clone());
            (u.usecase.id.clone(), v.map_or(Value::Null, Value::String))
        })
        .collect();
    Json(json!({ "status": "ready", "use_cases": served })).into_response()
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let gov = &state.inner.gov;
    // Every version loaded so far (champions, challengers, rolled-back ones keep counting).
    let loaded: Vec<Arc<Served>> = gov.usecases().flat_map(|u| u.all_loaded()).collect();
    let mut text = crate::metrics::render(
        loaded.iter().map(|s| &s.metrics),
        &state.inner.errors,
        gov.usecases().map(|u| u.usecase.id.as_str()),
    );
    if let Some(stats) = gov.log_stats() {
        crate::metrics::render_log(&mut text, stats);
    }
    crate::metrics::render_connections(&mut text, &state.inner.conns);
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
        .gov
        .usecases()
        .map(|u| {
            let served = u.served();
            json!({
                "id": u.usecase.id,
                "title": u.usecase.title,
                "kind": u.usecase.kind,
                "model_version": served.as_ref().map(|s| &s.version),
                "features": served.as_ref().map(|s| s.model.inputs()),
            })
        })
        .collect();
    Ok(Json(json!({ "use_cases": list })))
}

/// The query string of a decision route.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct DecisionQuery {
    explain: Option<bool>,
}

pub(crate) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

pub(crate) fn body_bytes(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than the limit of {limit} bytes; split it into smaller batches"),
            )
        } else if let Some(stalled) = stalled(&r) {
            ApiError::new(ErrorCode::RequestTimeout, stalled.to_string())
        } else {
            ApiError::new(ErrorCode::InvalidRequest, format!("cannot read the request body: {r}"))
        }
    })
}

/// The body timeout behind a failed body read, if that is what failed.
fn stalled(r: &BytesRejection) -> Option<&crate::listen::BodyStalled> {
    let mut e: Option<&(dyn std::error::Error + 'static)> = Some(r);
    while let Some(x) = e {
        if let Some(s) = x.downcast_ref::<crate::listen::BodyStalled>() {
            return Some(s);
        }
        e = x.source();
    }
    None
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

/// An optional text field of a body, trimmed; `None` when absent or blank.
pub(crate) fn text_field(m: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() > 2000 => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("`{name}` is longer than 2000 bytes"),
        )
        .field(name)),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(_) => Err(
            ApiError::new(ErrorCode::InvalidRequest, format!("`{name}` must be text")).field(name),
        ),
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

pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    crate::json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {e}"),
        )
    })
}

pub(crate) fn explain_flag(
    q: Result<Query<DecisionQuery>, QueryRejection>,
) -> Result<bool, ApiError> {
    match q {
        Ok(Query(q)) => Ok(q.explain.unwrap_or(true)),
        Err(e) => Err(ApiError::bad_query(&e, "explain")),
    }
}

pub(crate) async fn get_prediction(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = state.inner.gov.store().clone();
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
    let gov = state.inner.gov.clone();
    let (fb, replaces) =
        tokio::task::spawn_blocking(move || gov.feedback(&id, outcome, &caller.key_id))
            .await
            .map_err(|e| ApiError::internal("feedback task failed", &e))??;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "prediction_id": fb.prediction_id,
            "stored": true,
            "outcome": fb.typed,
            "replaces_earlier": replaces,
        })),
    )
        .into_response())
}
