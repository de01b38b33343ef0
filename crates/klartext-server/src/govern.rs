//! Governance over HTTP: the kill switch (`POST /v1/usecases/{id}/switch`), the
//! fallback answers of a switched-off use case, and the audit trail (`GET /v1/audit`).

use crate::api::media_type;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::AppState;
use axum::body::{to_bytes, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use klartext_core::UseCase;
use klartext_store::{PredictionRecord, PredictionRole, Switch};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// What a switched-off use case answers for one request.
fn fallback_output(uc: &UseCase) -> (Value, Value, bool, Vec<String>) {
    let f = &uc.fallback;
    if f.rule.is_some() {
        return (
            Value::Null,
            Value::Null,
            false,
            vec!["rule fallbacks are not supported yet: no decision".into()],
        );
    }
    match (f.score, &f.label, f.none) {
        (_, _, true) | (None, None, false) => (Value::Null, Value::Null, false, vec![]),
        (score, label, false) => (
            score.map_or(Value::Null, Value::from),
            label.clone().map_or(Value::Null, Value::from),
            true,
            vec![],
        ),
    }
}

fn subject_of(item: &Value) -> Option<String> {
    match item.get("subject_id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn new_id() -> Result<String, ApiError> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|e| ApiError::internal("no randomness for an id", &e))?;
    Ok(format!("pr_{}", hex::encode(b)))
}

/// The fallback answer and its log row for one request; a subject who objected gets no
/// score from the fallback either.
fn fallback_row(
    uc: &UseCase,
    off: &Switch,
    caller: &Caller,
    item: &Value,
    objected: &crate::subjects::ObjectedSet,
    started: Instant,
) -> Result<(PredictionRecord, Value), ApiError> {
    let subject_id = subject_of(item);
    let objects = subject_id.as_ref().is_some_and(|s| objected.contains(s));
    let (score, label, decision, warnings) = if objects {
        (Value::Null, Value::Null, false, Vec::new())
    } else {
        fallback_output(uc)
    };
    let prediction_id = new_id()?;
    let digest = hex::encode(Sha256::digest(crate::features::canonical(item).as_bytes()));
    let mut answer = json!({
        "prediction_id": prediction_id,
        "use_case": uc.id,
        "model_version": Value::Null,
        "score": score,
        "label": label,
        "reasons": ["the use case is switched off; this is its documented fallback"],
        "fallback": true,
        "decision": decision,
        "switched_off": { "reason": off.reason, "since_ms": off.at_ms },
        "warnings": warnings,
    });
    let mut output =
        json!({ "score": score, "label": label, "decision": decision, "fallback": true });
    if objects {
        answer["objected"] = true.into();
        answer["reasons"] = json!([
            "the use case is switched off, and the subject objected to profiling (GDPR Art. 21): no score"
        ]);
        output["objected"] = true.into();
    }
    let record = PredictionRecord {
        prediction_id,
        at_ms: klartext_store::now_ms(),
        usecase_id: uc.id.clone(),
        model_version: "fallback".into(),
        subject_id,
        input_digest: digest,
        output,
        latency_us: started.elapsed().as_micros() as i64,
        caller: caller.key_id.clone(),
        fallback: true,
        role: PredictionRole::Served,
        score: score.as_f64(),
        features: None,
    };
    Ok((record, answer))
}

/// Middleware on `/v1` (inside the key check): a predict call to a switched-off use case
/// answers the fallback, logged as such; everything else passes through.
pub(crate) async fn kill_switch(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let Some(rest) = path.strip_prefix("/v1/usecases/") else {
        return next.run(req).await;
    };
    let (id, batch) = match rest.split_once('/') {
        Some((id, "predict")) => (id.to_owned(), false),
        Some((id, "predict:batch")) => (id.to_owned(), true),
        _ => return next.run(req).await,
    };
    let Some(u) = state.inner.usecases.get(&id) else {
        return next.run(req).await;
    };
    let live = u.live();
    let Some(off) = live.switched_off else {
        return next.run(req).await;
    };
    if state.inner.shutting_down.load(Ordering::SeqCst) {
        return next.run(req).await;
    }
    let Some(caller) = req.extensions().get::<Caller>().cloned() else {
        return next.run(req).await;
    };
    let started = Instant::now();
    match answer_fallback(&state, &u.usecase, &off, &caller, req, batch, started).await {
        Ok(r) => {
            if let Some(s) = &live.champion {
                s.metrics
                    .observe(1, started.elapsed().as_micros() as u64, true);
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

async fn answer_fallback(
    state: &AppState,
    uc: &UseCase,
    off: &Switch,
    caller: &Caller,
    req: Request,
    batch: bool,
    started: Instant,
) -> Result<Response, ApiError> {
    let mt = media_type(req.headers());
    let ndjson = matches!(
        mt.as_str(),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl"
    );
    if mt != "application/json" && !(batch && ndjson) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the request as `Content-Type: application/json` (or NDJSON to predict:batch)",
        ));
    }
    let limit = state.inner.config.body_limit;
    let bytes = to_bytes(req.into_body(), limit).await.map_err(|_| {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    })?;
    let bad_json = |e: serde_json::Error| {
        ApiError::new(ErrorCode::MalformedJson, format!("not valid JSON: {e}"))
    };
    let items: Vec<Value> = if ndjson {
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(bad_json))
            .collect::<Result<_, _>>()?
    } else {
        match (
            serde_json::from_slice::<Value>(&bytes).map_err(bad_json)?,
            batch,
        ) {
            (Value::Array(a), true) => a,
            (v @ Value::Object(_), false) => vec![v],
            _ => {
                return Err(ApiError::new(
                    ErrorCode::MalformedJson,
                    if batch {
                        "expected a JSON array of `{\"subject_id\", \"features\"}` objects"
                    } else {
                        "expected a JSON object with `subject_id` and `features`"
                    },
                ))
            }
        }
    };
    let objected = state.inner.objected.current();
    let mut records = Vec::with_capacity(items.len());
    let mut answers = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let (r, mut a) = fallback_row(uc, off, caller, item, &objected, started)?;
        if ndjson {
            a["line"] = (i + 1).into();
        }
        records.push(r);
        answers.push(a);
    }
    crate::api::log_rows(state, records).await?;
    if ndjson {
        let mut out = String::new();
        for a in answers {
            out.push_str(&a.to_string());
            out.push('\n');
        }
        return Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            )],
            out,
        )
            .into_response());
    }
    Ok(if batch {
        Json(Value::Array(answers)).into_response()
    } else {
        Json(answers.pop().unwrap_or(Value::Null)).into_response()
    })
}

/// `POST /v1/usecases/{id}/switch` with `{"state": "off"|"on", "reason"}`: operators.
pub(crate) async fn switch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if !state.inner.usecases.contains_key(&id) {
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
    let reason = match m.get("reason") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(_) => {
            return Err(
                ApiError::new(ErrorCode::InvalidRequest, "`reason` must be text").field("reason"),
            )
        }
    };
    if !on && reason.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "switching off needs a `reason`; it is recorded in the audit trail",
        )
        .field("reason"));
    }
    let store = state.inner.store.clone();
    let actor = format!("api:{}", caller.key_id);
    let s = tokio::task::spawn_blocking(move || store.set_switch(&id, on, &actor, &reason))
        .await
        .map_err(|e| ApiError::internal("switch task failed", &e))?
        .map_err(|e| ApiError::internal("switch write failed", &e))?;
    // This process applies it now; the others at their next poll.
    let st = state.clone();
    tokio::task::spawn_blocking(move || st.refresh_governance())
        .await
        .map_err(|e| ApiError::internal("refresh task failed", &e))?
        .map_err(|e| ApiError::internal("refresh failed", &e))?;
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
    let store = state.inner.store.clone();
    let events = tokio::task::spawn_blocking(move || store.audit_events(since))
        .await
        .map_err(|e| ApiError::internal("audit task failed", &e))?
        .map_err(|e| ApiError::internal("audit read failed", &e))?;
    let last = events.last().map(|e| e.seq);
    Ok(Json(json!({ "events": events, "last_seq": last })))
}
