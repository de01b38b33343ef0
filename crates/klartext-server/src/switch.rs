//! Governance over HTTP: the kill switch (`POST /v1/usecases/{id}/switch`) and the audit
//! trail (`GET /v1/audit`). What a switched-off use case answers is the governance
//! layer's (every decision route goes through it).

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

/// `POST /v1/usecases/{id}/switch` with `{"state": "off"|"on", "reason"}`: operators.
pub(crate) async fn switch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if state.inner.gov.usecase(&id).is_none() {
        return Err(ApiError::new(
            ErrorCode::UnknownUseCase,
            format!("use case `{id}` does not exist"),
        ));
    }
    let m = crate::api::object_body(
        &headers,
        body,
        state.inner.config.body_limit,
        &["state", "reason"],
        false,
    )?;
    let on = match m.get("state").and_then(Value::as_str) {
        Some("off") => false,
        Some("on") => true,
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "`state` must be \"off\" or \"on\"",
            )
            .field("state"))
        }
    };
    let reason = crate::api::text_field(&m, "reason")?.unwrap_or_default();
    if !on && reason.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "switching off needs a `reason`; it is recorded in the audit trail",
        )
        .field("reason"));
    }
    let gov = state.inner.gov.clone();
    let actor = format!("api:{}", caller.key_id);
    // Applied in this process at once; the others follow at their next poll.
    let s = tokio::task::spawn_blocking(move || gov.switch(&id, on, &actor, &reason))
        .await
        .map_err(|e| ApiError::internal("switch task failed", &e))??;
    Ok(Json(json!({
        "use_case": s.usecase_id,
        "state": if s.on { "on" } else { "off" },
        "reason": s.reason,
        "actor": s.actor,
        "at_ms": s.at_ms,
    }))
    .into_response())
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct AuditQuery {
    since: Option<i64>,
}

/// `GET /v1/audit?since=SEQ`: the audit trail after `since`: operators.
pub(crate) async fn audit(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let since = match query {
        Ok(Query(q)) => q.since.unwrap_or(0),
        Err(e) => return Err(ApiError::bad_query(&e, "since")),
    };
    let store = state.inner.gov.store().clone();
    let events = tokio::task::spawn_blocking(move || store.audit_events(since))
        .await
        .map_err(|e| ApiError::internal("audit task failed", &e))?
        .map_err(|e| ApiError::internal("audit read failed", &e))?;
    let last = events.last().map(|e| e.seq);
    Ok(Json(json!({ "events": events, "last_seq": last })))
}
