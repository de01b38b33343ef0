//! The OpenAPI 3.1 document served at `/openapi.json`, generated from the route table
//! ([`crate::routes::ROUTES`]) and the error registry ([`ErrorCode::ALL`]); the schemas
//! below describe what the handlers read and write.

use crate::error::ErrorCode;
use crate::routes::{Route, ROUTES};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The document (built once).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

pub(crate) async fn serve_document() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| document().to_string()).as_str();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

fn build() -> Value {
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for r in ROUTES {
        paths
            .entry(r.path)
            .or_default()
            .insert(r.method.to_owned(), operation(r));
    }
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    let code_table = code_table();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "klartext decision API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "Scores with their reasons in plain words, every answer in a durable log. Every `/v1` call needs an API key \
                 (`Authorization: Bearer <key>`, made with `klartext keys create --role scorer|operator|admin`).\n\n\
                 Every error has one shape, `{{\"error\": {{\"code\", \"message\", \"field\"?, \"details\"?}}}}`; the codes are a stable promise:\n\n\
                 {code_table}"
            ),
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": { "type": "http", "scheme": "bearer", "description": "A klartext API key (`kt_...`)." }
            },
            "schemas": schemas(&codes),
        },
    })
}

/// The error codes as a Markdown table: code, HTTP status, meaning.
fn code_table() -> String {
    let mut t = String::from("| code | HTTP status | meaning |\n| --- | --- | --- |\n");
    for c in ErrorCode::ALL {
        t.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.as_str(),
            c.status().as_u16(),
            c.description()
        ));
    }
    t
}

/// `docs/errors.md`: every error code the API answers with, from the registry.
pub fn errors_markdown() -> String {
    format!(
        "# Error codes\n\nEvery error of the klartext API has one shape, \
         `{{\"error\": {{\"code\", \"message\", \"field\"?, \"details\"?}}}}`. \
         The codes are a stable promise: new ones are added, none is renamed. \
         This page is generated from the server's error registry.\n\n{}",
        code_table()
    )
}

fn operation(r: &Route) -> Value {
    let mut op = json!({
        "operationId": r.operation_id,
        "summary": r.summary,
        "description": r.description,
    });
    if let Some(role) = r.role {
        op["security"] = json!([{ "apiKey": [] }]);
        op["x-klartext-role"] = json!(role.as_str());
    } else {
        op["security"] = json!([]);
    }
    let mut params: Vec<Value> = Vec::new();
    for seg in r.path.split('/') {
        if let Some(name) = seg.split(['{', '}']).nth(1).filter(|_| seg.contains('{')) {
            params.push(json!({
                "name": name, "in": "path", "required": true, "schema": { "type": "string" }
            }));
        }
    }
    for p in r.params {
        params.push(json!({
            "name": p.name, "in": "query", "required": false,
            "schema": { "type": p.ty }, "description": p.description,
        }));
    }
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if !r.request.is_empty() {
        op["requestBody"] = json!({ "required": true, "content": content(r.request) });
    }
    let mut responses = Map::new();
    for status in std::iter::once(&r.ok_status).chain(r.also_ok) {
        responses.insert(
            status.to_string(),
            json!({ "description": "Success.", "content": content(r.ok) }),
        );
    }
    let mut by_status: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for c in r.errors() {
        by_status
            .entry(c.status().as_u16())
            .or_default()
            .push(c.as_str());
    }
    for (status, codes) in by_status {
        let list = codes
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        responses.insert(
            status.to_string(),
            json!({
                "description": format!("Error: {list}."),
                "x-klartext-error-codes": codes,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
            }),
        );
    }
    op["responses"] = Value::Object(responses);
    op
}

fn content(bodies: &[crate::routes::Body]) -> Value {
    let mut m = Map::new();
    for b in bodies {
        let schema_ref = json!({ "$ref": format!("#/components/schemas/{}", b.schema) });
        let mut entry = json!({ "schema": schema_ref });
        if b.per_line {
            // OpenAPI 3.1 has no stream type: the schema is that of one line.
            entry = json!({ "schema": schema_ref, "x-klartext-per-line": true });
        }
        m.insert(b.media_type.to_owned(), entry);
    }
    Value::Object(m)
}

fn schemas(codes: &[&str]) -> Value {
    let mut all = json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": { "type": "string", "enum": codes },
                        "message": { "type": "string", "description": "What is wrong and what to do, in plain words." },
                        "field": { "type": "string", "description": "The (first) field at fault, e.g. `features.tenure_months` or `[3].features.plan`." },
                        "details": { "type": "array", "items": { "$ref": "#/components/schemas/FieldProblem" } },
                    },
                },
            },
        },
        "FieldProblem": {
            "type": "object",
            "required": ["field", "message"],
            "properties": { "field": { "type": "string" }, "message": { "type": "string" } },
        },
        "Health": {
            "type": "object", "required": ["status"],
            "properties": { "status": { "const": "ok" } },
        },
        "Ready": {
            "type": "object", "required": ["status", "use_cases"],
            "properties": {
                "status": { "const": "ready" },
                "use_cases": {
                    "type": "object",
                    "description": "Use case id to the model version served (null: none).",
                    "additionalProperties": { "type": ["string", "null"] },
                },
            },
        },
        "PrometheusText": { "type": "string", "description": "Prometheus text exposition format 0.0.4." },
        "OpenApiDocument": { "type": "object" },
        "UseCaseList": {
            "type": "object", "required": ["use_cases"],
            "properties": {
                "use_cases": { "type": "array", "items": {
                    "type": "object", "required": ["id", "title"],
                    "properties": {
                        "id": { "type": "string" },
                        "title": { "type": "string" },
                        "model_version": { "type": ["string", "null"] },
                        "features": { "type": ["array", "null"], "items": { "type": "string" } },
                    },
                } },
            },
        },
        "PredictRequest": {
            "type": "object", "required": ["features"], "additionalProperties": false,
            "properties": {
                "subject_id": { "type": ["string", "number", "null"], "description": "The person or entity scored (for the log and subject rights)." },
                "features": {
                    "type": "object",
                    "description": "Feature name to value (number, text or boolean); missing features are allowed.",
                    "additionalProperties": { "type": ["number", "string", "boolean", "null"] },
                },
            },
        },
        "BatchRequest": { "type": "array", "items": { "$ref": "#/components/schemas/PredictRequest" } },
        "Contribution": {
            "type": "object", "required": ["feature", "contribution"],
            "properties": {
                "feature": { "type": "string" },
                "value": { "description": "The value the model saw." },
                "contribution": { "type": "number", "description": "Its push on the score (log-odds for classification)." },
            },
        },
        "Prediction": {
            "type": "object",
            "description": "One decision. Answered by the model: `score`, `label`, `reasons` (and `explanation` unless `explain=false`). Otherwise `score` is null and `reasons` says why: the subject objected (`objected: true`), the decision waits for a person (`decision: \"pending review\"`, `review: \"pending\"`), or the use case is switched off (`fallback: true`, `switched_off`, and the fallback's `score` and `label`).",
            "required": ["prediction_id", "use_case", "model_version", "score", "reasons", "fallback", "warnings"],
            "properties": {
                "prediction_id": { "type": "string", "description": "The id in the prediction log; feedback attaches to it." },
                "use_case": { "type": "string" },
                "model_version": { "type": ["string", "null"], "description": "The version that answered; null for a fallback or an objection." },
                "score": { "type": ["number", "null"] },
                "label": { "type": ["string", "null"] },
                "reasons": { "type": "array", "items": { "type": "string" }, "description": "The top reasons in plain words, or why no score is given." },
                "explanation": { "type": "array", "items": { "$ref": "#/components/schemas/Contribution" } },
                "fallback": { "type": "boolean", "description": "`true`: the use case is switched off and this is its documented fallback." },
                "decision": { "type": ["boolean", "string"], "description": "A fallback: whether it decides (`none = true` does not). Held for review: `pending review`." },
                "review": { "const": "pending", "description": "The decision waits for a person (GDPR Art. 22)." },
                "objected": { "type": "boolean", "description": "The subject objected to profiling (GDPR Art. 21): nothing was computed." },
                "switched_off": {
                    "type": "object", "required": ["since_ms"],
                    "properties": {
                        "since_ms": { "type": "integer" },
                        "reason": { "type": "string", "description": "The operator's words; shown to operators' and admins' keys only." },
                    },
                },
                "warnings": { "type": "array", "items": { "anyOf": [ { "$ref": "#/components/schemas/FieldProblem" }, { "type": "string" } ] }, "description": "Values outside what training saw (scored anyway), or what a fallback could not do." },
            },
        },
        "BatchAnswer": { "type": "array", "items": { "$ref": "#/components/schemas/Prediction" } },
        "StreamLine": {
            "description": "One answer line of an NDJSON stream: a prediction or an error, with the 1-based input line it answers.",
            "oneOf": [
                { "allOf": [
                    { "$ref": "#/components/schemas/Prediction" },
                    { "type": "object", "required": ["line"], "properties": { "line": { "type": "integer" } } },
                ] },
                { "allOf": [
                    { "$ref": "#/components/schemas/Error" },
                    { "type": "object", "required": ["line"], "properties": { "line": { "type": "integer" } } },
                ] },
            ],
        },
        "LoggedPrediction": {
            "type": "object", "required": ["prediction", "feedback"],
            "properties": {
                "prediction": {
                    "type": "object",
                    "properties": {
                        "prediction_id": { "type": "string" },
                        "at_ms": { "type": "integer" },
                        "usecase_id": { "type": "string" },
                        "kind": { "type": ["string", "null"], "description": "The use case's kind (null for rows logged before kinds were recorded)." },
                        "model_version": { "type": "string" },
                        "subject_id": { "type": ["string", "null"] },
                        "status": { "enum": ["answered", "fallback", "objected", "held_for_review"] },
                        "shadow_of": { "type": ["string", "null"] },
                        "batch_id": { "type": ["string", "null"] },
                        "input_digest": { "type": "string", "description": "Hex SHA-256 of the canonical input JSON." },
                        "output": { "type": "object" },
                        "latency_us": { "type": "integer" },
                        "caller": { "type": "string", "description": "The API key id." },
                        "fallback": { "type": "boolean" },
                    },
                },
                "feedback": { "type": "array", "items": { "type": "object" } },
            },
        },
        "FeedbackRequest": {
            "type": "object", "required": ["outcome"], "additionalProperties": false,
            "properties": { "outcome": { "description": "The real outcome, e.g. {\"churned\": true} or {\"value\": 120.5}." } },
        },
        "FeedbackStored": {
            "type": "object", "required": ["prediction_id", "stored", "outcome", "replaces_earlier"],
            "properties": {
                "prediction_id": { "type": "string" },
                "stored": { "const": true },
                "outcome": { "type": ["object", "null"], "description": "The outcome as the use case's kind read it (`{\"type\": \"binary\", \"positive\": true}`, `{\"type\": \"value\", \"value\": 12.5}`); null when the use case's file is gone." },
                "replaces_earlier": { "type": "boolean", "description": "`true`: an earlier outcome of this prediction is now history; the latest counts." },
            },
        },
        "SwitchRequest": {
            "type": "object", "required": ["state"], "additionalProperties": false,
            "properties": {
                "state": { "enum": ["off", "on"] },
                "reason": { "type": "string", "description": "Why; required to switch off. Recorded in the audit trail." },
            },
        },
        "SwitchState": {
            "type": "object", "required": ["use_case", "state", "reason", "actor", "at_ms"],
            "properties": {
                "use_case": { "type": "string" },
                "state": { "enum": ["off", "on"] },
                "reason": { "type": "string" },
                "actor": { "type": "string" },
                "at_ms": { "type": "integer" },
            },
        },
        "AuditEvents": {
            "type": "object", "required": ["events", "last_seq"],
            "properties": {
                "events": { "type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "seq": { "type": "integer" },
                        "at_ms": { "type": "integer" },
                        "actor": { "type": "string" },
                        "action": { "type": "string" },
                        "subject": { "type": "string" },
                        "details": { "type": "object" },
                        "prev_hash": { "type": "string" },
                        "hash": { "type": "string", "description": "SHA-256 over prev_hash and the event's canonical JSON." },
                    },
                } },
                "last_seq": { "type": ["integer", "null"] },
            },
        },
    });
    crate::subjects::add_schemas(&mut all);
    crate::monitoring::add_schemas(&mut all);
    all
}
