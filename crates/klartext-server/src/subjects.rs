//! Subject rights over HTTP and in the predict path: export (`GET /v1/subjects/{id}`),
//! erasure (`DELETE`), objection (`POST .../objection`), the human review queue
//! (`/v1/reviews`, `POST /v1/predictions/{id}/contest`), the objected subjects every
//! server keeps in memory (reloaded with the governance version), and the retention
//! schedule.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::rights::{self, RightsError};
use crate::state::Route;
use crate::{AppState, Served};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use klartext_store::{PredictionRecord, PredictionRole, ReviewStatus, Store, StoreError};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How often a server runs retention.
pub const RETENTION_EVERY: Duration = Duration::from_secs(60 * 60);

/// The subjects who objected, as this process last read them: their ids, and the keyed
/// hashes of those erased since.
#[derive(Debug, Default)]
pub(crate) struct Objected {
    set: RwLock<Arc<ObjectedSet>>,
}

#[derive(Debug, Default)]
pub(crate) struct ObjectedSet {
    ids: HashSet<String>,
    erased: klartext_store::Suppression,
}

impl ObjectedSet {
    pub(crate) fn contains(&self, subject: &str) -> bool {
        self.ids.contains(subject) || self.erased.contains(subject)
    }
}

impl Objected {
    pub(crate) fn current(&self) -> Arc<ObjectedSet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-read from the store (at start, and whenever the governance version moves).
    pub(crate) fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let ids: HashSet<String> = store
            .objections()?
            .into_iter()
            .map(|o| o.subject_id)
            .collect();
        let erased = store.suppression()?;
        *self.set.write().unwrap_or_else(|e| e.into_inner()) =
            Arc::new(ObjectedSet { ids, erased });
        Ok(())
    }
}

/// What a request's route must honour besides its models.
#[derive(Clone, Default)]
pub(crate) struct Policy {
    pub objected: Arc<ObjectedSet>,
    /// The use case has `significant_effect = true`: decisions wait for a person.
    pub review: bool,
}

/// A route with the subject-rights policy of its use case, read now.
pub(crate) fn with_policy(state: &AppState, uc: &klartext_core::UseCase, mut r: Route) -> Route {
    r.policy = Policy {
        objected: state.inner.objected.current(),
        review: uc.significant_effect,
    };
    r
}

/// The answer and log row for a subject who objected: no score, no features kept.
pub(crate) fn objected_row(
    usecase: &str,
    route: &Route,
    caller: &Caller,
    subject: Option<&str>,
    item: &Value,
    started: Instant,
) -> Result<Option<(PredictionRecord, Value, Arc<Served>)>, String> {
    let Some(subject) = subject.filter(|s| route.policy.objected.contains(s)) else {
        return Ok(None);
    };
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness for an id: {e}"))?;
    let prediction_id = format!("pr_{}", hex::encode(b));
    let reasons = ["the subject objected to profiling (GDPR Art. 21): no score is computed"];
    let answer = json!({
        "prediction_id": prediction_id,
        "use_case": usecase,
        "model_version": Value::Null,
        "score": Value::Null,
        "label": Value::Null,
        "reasons": reasons,
        "objected": true,
        "fallback": false,
        "warnings": [],
    });
    let digest = hex::encode(Sha256::digest(crate::features::canonical(item).as_bytes()));
    let record = PredictionRecord {
        prediction_id,
        at_ms: klartext_store::now_ms(),
        usecase_id: usecase.to_owned(),
        model_version: "objected".into(),
        subject_id: Some(subject.to_owned()),
        input_digest: digest,
        output: json!({ "score": Value::Null, "objected": true, "reasons": reasons }),
        latency_us: started.elapsed().as_micros() as i64,
        caller: caller.key_id.clone(),
        fallback: false,
        role: PredictionRole::Served,
        score: None,
        features: None,
    };
    Ok(Some((record, answer, route.champion.clone())))
}

/// For a use case with `significant_effect = true`: the score stays in the log (and the
/// review queue, which `log_predictions` fills from the `review` mark), the answer says
/// the decision is pending a person.
pub(crate) fn hold_for_review(route: &Route, record: &mut PredictionRecord, answer: &mut Value) {
    if !route.policy.review {
        return;
    }
    record.output["review"] = "pending".into();
    record.output["decision"] = "pending review".into();
    if let Value::Object(a) = answer {
        for k in ["score", "label", "reasons", "explanation"] {
            a.remove(k);
        }
        a.insert("score".into(), Value::Null);
        a.insert("decision".into(), "pending review".into());
        a.insert("review".into(), "pending".into());
        a.insert(
            "reasons".into(),
            json!(["this decision has a significant effect (GDPR Art. 22): a person reviews it before it is made"]),
        );
    }
}

fn rights_error(e: RightsError) -> ApiError {
    match e {
        RightsError::BadSubject(m) => ApiError::new(ErrorCode::InvalidRequest, m).field("id"),
        RightsError::UnknownUseCase { .. } => {
            ApiError::new(ErrorCode::SubjectDataUnavailable, e.to_string())
        }
        other => ApiError::internal("subject rights operation failed", &other),
    }
}

async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(what, &e))?
}

fn usecases(state: &AppState) -> Vec<klartext_core::UseCase> {
    state
        .inner
        .usecases
        .values()
        .map(|u| u.usecase.clone())
        .collect()
}

/// `GET /v1/subjects/{id}[?format=html]`: everything kept about a subject: operators.
pub(crate) async fn export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<crate::page::FormatQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let html = crate::page::wants_html(query)?;
    let store = state.inner.store.clone();
    let ucs = usecases(&state);
    let e = blocking("subject export task failed", move || {
        rights::export(store.as_ref(), &ucs, &id, None).map_err(rights_error)
    })
    .await?;
    if html {
        return Ok(crate::page::html(rights::export_html(&e)));
    }
    Ok(Json(serde_json::to_value(&e).expect("exports serialise")).into_response())
}

/// `DELETE /v1/subjects/{id}`: erase a subject everywhere: admins.
pub(crate) async fn erase(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = state.inner.store.clone();
    let ucs = usecases(&state);
    let actor = format!("api:{}", caller.key_id);
    let r = blocking("erasure task failed", move || {
        rights::erase(store.as_ref(), &ucs, &id, None, &actor).map_err(rights_error)
    })
    .await?;
    refresh(&state).await?;
    Ok(Json(json!({
        "erased": true,
        "report": r,
        "note": "models already trained on this data are not retrained",
    })))
}

/// Apply a governance change in this process now (the others follow at their poll).
async fn refresh(state: &AppState) -> Result<(), ApiError> {
    let st = state.clone();
    blocking("refresh task failed", move || {
        st.refresh_governance()
            .map_err(|e| ApiError::internal("refresh failed", &e))
    })
    .await
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
    text_field(&m, "reason")
}

/// An optional text field of a body, trimmed; `None` when absent or blank.
fn text_field(m: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
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

/// `POST /v1/subjects/{id}/objection` with optional `{"reason"}`: from now on no use
/// case scores the subject, on every server sharing the store.
pub(crate) async fn object(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    rights::check_subject(&id).map_err(rights_error)?;
    let reason = reason_body(&state, &headers, body)?;
    let store = state.inner.store.clone();
    let actor = format!("api:{}", caller.key_id);
    let (o, new) = blocking("objection task failed", move || {
        store
            .object_subject(&id, &actor, reason.as_deref())
            .map_err(|e| ApiError::internal("objection write failed", &e))
    })
    .await?;
    refresh(&state).await?;
    Ok((
        if new { StatusCode::CREATED } else { StatusCode::OK },
        Json(json!({ "subject_id": o.subject_id, "objected": true, "since_ms": o.at_ms, "new": new })),
    )
        .into_response())
}

/// `DELETE /v1/subjects/{id}/objection`: the subject withdraws the objection; every
/// server scores the subject again within a poll.
pub(crate) async fn withdraw_objection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    rights::check_subject(&id).map_err(rights_error)?;
    let store = state.inner.store.clone();
    let actor = format!("api:{}", caller.key_id);
    let subject = id.clone();
    let withdrawn = blocking("withdrawal task failed", move || {
        store
            .withdraw_objection(&subject, &actor)
            .map_err(|e| ApiError::internal("withdrawal write failed", &e))
    })
    .await?;
    if withdrawn {
        refresh(&state).await?;
    }
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
    let store = state.inner.store.clone();
    let actor = format!("api:{}", caller.key_id);
    let pid = id.clone();
    let r = blocking("contest task failed", move || {
        store
            .contest_prediction(&pid, &reason, &actor)
            .map_err(|e| ApiError::internal("contest write failed", &e))
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
    let store = state.inner.store.clone();
    let uc = q.0.usecase;
    let list = blocking("review list task failed", move || {
        store
            .reviews(status, uc.as_deref())
            .map_err(|e| ApiError::internal("review list failed", &e))
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
    let store = state.inner.store.clone();
    let actor = format!("api:{}", caller.key_id);
    let pid = id.clone();
    let r = blocking("review task failed", move || {
        store
            .decide_review(&pid, approve, &actor, note.as_deref())
            .map_err(|e| match e {
                StoreError::Refused(m) => ApiError::new(ErrorCode::ReviewClosed, m),
                other => ApiError::internal("review write failed", &other),
            })
    })
    .await?
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

/// Run retention for the served use cases every `every`, starting now, until the state
/// is dropped.
pub fn start_retention(state: &AppState, every: Duration) {
    let inner = Arc::downgrade(&state.inner);
    let spawned = std::thread::Builder::new()
        .name("klartext-retention".into())
        .spawn(move || loop {
            {
                let Some(inner) = inner.upgrade() else {
                    return;
                };
                let ucs: Vec<_> = inner.usecases.values().map(|u| u.usecase.clone()).collect();
                match rights::run_retention(inner.store.as_ref(), &ucs, false, "server:retention") {
                    Ok(reports) => {
                        for r in reports.iter().filter(|r| !r.is_empty()) {
                            tracing::info!(use_case = %r.usecase_id, predictions = r.predictions, registrations = r.registrations.len(), "retention purged expired data");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "retention failed; retrying at the next run"),
                }
            }
            // Sleep in short steps so that a dropped state ends the thread soon.
            let until = Instant::now() + every;
            while Instant::now() < until {
                std::thread::sleep(Duration::from_millis(500).min(every));
                if inner.strong_count() == 0 {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the retention schedule");
    }
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
