//! Monitoring over HTTP: `GET /v1/usecases/{id}/monitoring` answers the governance
//! layer's report of the served version (JSON, or a page with charts).

use crate::error::ApiError;
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

/// `GET /v1/usecases/{id}/monitoring[?format=html]`: the report of the served model
/// over the use case's window; operators. Reading raises nothing (the server's
/// schedule and `klartext monitor` raise alerts).
pub(crate) async fn get_report(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<crate::page::FormatQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let html = crate::page::wants_html(query)?;
    let gov = state.inner.gov.clone();
    let report = tokio::task::spawn_blocking(move || gov.monitoring_report(&id))
        .await
        .map_err(|e| ApiError::internal("monitoring task failed", &e))??;
    if html {
        return Ok(crate::page::html(klartext_monitor::html::render(&report)));
    }
    Ok(axum::Json(serde_json::to_value(&report).expect("reports serialise")).into_response())
}

pub(crate) fn add_schemas(all: &mut serde_json::Value) {
    use serde_json::json;
    all["MonitoringReport"] = json!({
        "type": "object",
        "required": ["usecase", "model_version", "window", "rows", "findings", "alerts"],
        "properties": {
            "usecase": { "type": "string" },
            "model_version": { "type": "string" },
            "generated_ms": { "type": "integer" },
            "window": { "type": "object", "properties": {
                "from_ms": { "type": "integer" }, "to_ms": { "type": "integer" }, "days": { "type": "integer" } } },
            "rows": { "type": "integer", "description": "Answered predictions of the model version in the window." },
            "source": { "type": "string" },
            "drift": { "type": ["object", "null"], "description": "Per column: method (ks, wasserstein, chi_square, jensen_shannon), statistic, p_value, psi, drifted, new categories, out-of-range counts, histogram; the score; the share of drifted features and whether the data set drifted. Null below `monitoring.min_rows` rows." },
            "performance": { "type": ["object", "null"], "description": "Per window of feedback: AUC, log loss, calibration error, precision at the threshold, against the model card's validation figures." },
            "findings": { "type": "array", "items": { "type": "object", "properties": {
                "severity": { "enum": ["alert", "warning", "info"] },
                "column": { "type": "string" },
                "text": { "type": "string" } } } },
            "alerts": { "type": "array", "items": { "type": "object", "properties": {
                "kind": { "enum": ["drift.detected", "performance.degraded"] },
                "window_start_ms": { "type": "integer" },
                "summary": { "type": "string" },
                "raised_now": { "type": "boolean" } } } },
        },
    });
    all["MonitoringPage"] =
        json!({ "type": "string", "description": "A self-contained HTML page with SVG charts." });
}
