//! Subject rights and the human review queue over HTTP: export (`GET /v1/subjects/{id}`),
//! erasure (`DELETE`), objection and its withdrawal (`.../objection`), contesting a
//! decision (`POST /v1/predictions/{id}/contest`) and the review queue (`/v1/reviews`).
//! What they do is the governance layer's; this module reads requests and writes answers.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use klartext_govern::{GovernError, Governor};
use klartext_store::ReviewStatus;
use serde_json::{json, Value};

/// Run `f` on the governor where it may block.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    what: &'static str,
    f: impl FnOnce(&Governor) -> Result<T, GovernError> + Send + 'static,
) -> Result<T, ApiError> {
    let gov = state.inner.gov.clone();
    Ok(tokio::task::spawn_blocking(move || f(&gov))
        .await
        .map_err(|e| ApiError::internal(what, &e))??)
}

/// `GET /v1/subjects/{id}[?format=html]`: everything kept about a subject: operators.
pub(crate) async fn export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<crate::page::FormatQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let html = crate::page::wants_html(query)?;
    let e = blocking(&state, "subject export task failed", move |g| {
        g.export_subject(&id)
    })
    .await?;
    if html {
        return Ok(crate::page::html(klartext_govern::rights::export_html(&e)));
    }
    Ok(Json(serde_json::to_value(&e).expect("exports serialise")).into_response())
}

/// `DELETE /v1/subjects/{id}`: erase a subject everywhere: admins.
pub(crate) async fn erase(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let actor = format!("api:{}", caller.key_id);
    let r = blocking(&state, "erasure task failed", move |g| {
        g.erase_subject(&id, &actor)
    })
    .await?;
    Ok(Json(json!({
        "erased": true,
        "report": r,
        "note": "models already trained on this data are not retrained",
    })))
}

/// The optional `{"reason"}` body of a rights or review call, trimmed.
fn reason_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Option<String>, ApiError> {
    let m = crate::api::object_body(
        headers,
        body,
        state.inner.config.body_limit,
        &["reason"],
        true,
    )?;
    crate::api::text_field(&m, "reason")
}

/// `POST /v1/subjects/{id}/objection` with optional `{"reason"}`: from now on no use
/// case decides about the subject, on every server sharing the store.
pub(crate) async fn object(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    klartext_govern::rights::check_subject(&id)?;
    let reason = reason_body(&state, &headers, body)?;
    let actor = format!("api:{}", caller.key_id);
    let (o, new) = blocking(&state, "objection task failed", move |g| {
        g.object(&id, &actor, reason.as_deref())
    })
    .await?;
    Ok((
        if new { StatusCode::CREATED } else { StatusCode::OK },
        Json(json!({ "subject_id": o.subject_id, "objected": true, "since_ms": o.at_ms, "new": new })),
    )
        .into_response())
}

/// `DELETE /v1/subjects/{id}/objection`: the subject withdraws the objection; every
/// server decides about the subject again within a poll.
pub(crate) async fn withdraw_objection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let actor = format!("api:{}", caller.key_id);
    let subject = id.clone();
    let withdrawn = blocking(&state, "withdrawal task failed", move |g| {
        g.withdraw_objection(&subject, &actor)
    })
    .await?;
    Ok(
        Json(json!({ "subject_id": id, "objected": false, "withdrawn": withdrawn }))
            .into_response(),
    )
}

/// `POST /v1/predictions/{id}/contest` with `{"reason"}`: the subject contests a
/// decision; it is queued for a person.
pub(crate) async fn contest(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let reason = reason_body(&state, &headers, body)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            "missing `reason`: say why the decision is contested",
        )
        .field("reason")
    })?;
    let actor = format!("api:{}", caller.key_id);
    let pid = id.clone();
    let r = blocking(&state, "contest task failed", move |g| {
        g.contest(&pid, &reason, &actor)
    })
    .await?
    .ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownPrediction,
            format!("no prediction `{id}` is logged"),
        )
    })?;
    Ok((StatusCode::CREATED, Json(review_json(&r))).into_response())
}

fn review_json(r: &klartext_store::Review) -> Value {
    serde_json::to_value(r).expect("reviews serialise")
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ReviewQuery {
    status: Option<String>,
    usecase: Option<String>,
}

/// `GET /v1/reviews?status=pending&usecase=ID`: the review queue: operators.
pub(crate) async fn list_reviews(
    State(state): State<AppState>,
    query: Result<Query<ReviewQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query.map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("bad query string: {}", e.body_text()),
        )
    })?;
    let status = match q.0.status.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(ReviewStatus::parse(s).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                "`status` must be pending, approved, rejected or all",
            )
            .field("status")
        })?),
    };
    let uc = q.0.usecase;
    let list = blocking(&state, "review list task failed", move |g| {
        Ok(g.store().reviews(status, uc.as_deref())?)
    })
    .await?;
    Ok(Json(
        json!({ "reviews": list.iter().map(review_json).collect::<Vec<_>>() }),
    ))
}

async fn decide(
    state: AppState,
    caller: Caller,
    id: String,
    approve: bool,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let note = reason_body(&state, &headers, body)?;
    if !approve && note.is_none() {
        return Err(
            ApiError::new(ErrorCode::InvalidRequest, "rejecting needs a `reason`").field("reason"),
        );
    }
    let actor = format!("api:{}", caller.key_id);
    let pid = id.clone();
    let gov = state.inner.gov.clone();
    let r = tokio::task::spawn_blocking(move || {
        gov.decide_review(&pid, approve, &actor, note.as_deref())
    })
    .await
    .map_err(|e| ApiError::internal("review task failed", &e))?
    .map_err(|e| match e {
        GovernError::Store(klartext_store::StoreError::Refused(m)) => {
            ApiError::new(ErrorCode::ReviewClosed, m)
        }
        other => ApiError::from(other),
    })?
    .ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownReview,
            format!("nothing is queued for review for prediction `{id}`"),
        )
    })?;
    Ok(Json(review_json(&r)))
}

/// `POST /v1/reviews/{id}/approve` with optional `{"reason"}`: operators.
pub(crate) async fn approve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    decide(state, caller, id, true, headers, body).await
}

/// `POST /v1/reviews/{id}/reject` with `{"reason"}`: operators.
pub(crate) async fn reject(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    decide(state, caller, id, false, headers, body).await
}

/// The OpenAPI schemas of this module's routes.
pub(crate) fn add_schemas(all: &mut Value) {
    let obj = |props: Value| json!({ "type": "object", "properties": props });
    let review = obj(json!({
        "prediction_id": { "type": "string" },
        "usecase_id": { "type": "string" },
        "origin": { "type": "string", "enum": ["significant_effect", "contested"] },
        "queued_ms": { "type": "integer" },
        "contest_reason": { "type": ["string", "null"] },
        "status": { "type": "string", "enum": ["pending", "approved", "rejected"] },
        "decided_ms": { "type": ["integer", "null"] },
        "decided_by": { "type": ["string", "null"] },
        "note": { "type": ["string", "null"] },
        "subject_id": { "type": ["string", "null"] },
        "model_version": { "type": "string" },
        "score": { "type": ["number", "null"], "description": "The model's score, for the reviewer." },
        "output": { "type": "object" },
    }));
    let reason = obj(json!({ "reason": { "type": "string", "maxLength": 2000 } }));
    let extra = json!({
        "SubjectExport": obj(json!({
            "subject_id": { "type": "string" },
            "generated_ms": { "type": "integer" },
            "found": { "type": "boolean" },
            "datasets": { "type": "array", "items": obj(json!({
                "dataset_id": { "type": "string" },
                "usecase_id": { "type": "string" },
                "source_name": { "type": "string" },
                "id_column": { "type": "string" },
                "rows": { "type": "array", "items": { "type": "object" } },
            })) },
            "predictions": { "type": "array", "items": obj(json!({
                "prediction_id": { "type": "string" },
                "at_ms": { "type": "integer" },
                "use_case": { "type": "string" },
                "model_version": { "type": "string" },
                "score": { "type": ["number", "null"] },
                "label": {},
                "decision": {},
                "reasons": { "type": "array", "items": { "type": "string" } },
                "objected": { "type": "boolean" },
            })) },
            "feedback": { "type": "array", "items": { "type": "object" } },
            "objection": { "type": ["object", "null"] },
            "reviews": { "type": "array", "items": { "$ref": "#/components/schemas/Review" } },
            "logic": { "type": "array", "items": { "type": "object" } },
        })),
        "SubjectExportPage": { "type": "string", "description": "A self-contained HTML page." },
        "SubjectErased": obj(json!({
            "erased": { "type": "boolean" },
            "report": obj(json!({
                "datasets": { "type": "array", "items": obj(json!({
                    "dataset_id": { "type": "string" },
                    "old_sha256": { "type": "string" },
                    "new_sha256": { "type": "string" },
                    "rows_removed": { "type": "integer" },
                })) },
                "predictions_pseudonymised": { "type": "integer" },
                "feedback_deleted": { "type": "integer" },
                "reviews_cleared": { "type": "integer" },
                "objection_removed": { "type": "boolean" },
                "audit_seq": { "type": "integer" },
            })),
            "note": { "type": "string" },
        })),
        "ObjectionRequest": reason.clone(),
        "Objection": obj(json!({
            "subject_id": { "type": "string" },
            "objected": { "type": "boolean" },
            "since_ms": { "type": "integer" },
            "new": { "type": "boolean" },
        })),
        "ObjectionWithdrawn": obj(json!({
            "subject_id": { "type": "string" },
            "objected": { "type": "boolean" },
            "withdrawn": { "type": "boolean", "description": "false when the subject had no objection (nothing changed)" },
        })),
        "ContestRequest": { "type": "object", "required": ["reason"], "properties": { "reason": { "type": "string", "maxLength": 2000 } } },
        "ReviewDecision": reason,
        "Review": review,
        "Reviews": obj(json!({ "reviews": { "type": "array", "items": { "$ref": "#/components/schemas/Review" } } })),
    });
    if let (Value::Object(all), Value::Object(extra)) = (all, extra) {
        all.extend(extra);
    }
}
