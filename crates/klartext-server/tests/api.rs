//! Router tests without a socket: every endpoint, every error of the registry that a
//! client can provoke, and the guarantee that a 2xx prediction is in the log.

mod common;

use axum::http::StatusCode;
use common::{fixture, fixture_with, request};
use klartext_server::ServerConfig;
use klartext_store::{KeyRole, Store};
use serde_json::{json, Value};

const PREDICT: &str = "/v1/usecases/churn/predict";

fn code(a: &common::Answer) -> &str {
    a.body["error"]["code"]
        .as_str()
        .unwrap_or("<no error code>")
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let f = fixture();
    let h = f.call("GET", "/healthz", None, None, "").await;
    assert_eq!(h.status, StatusCode::OK);
    let r = f.call("GET", "/readyz", None, None, "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["use_cases"]["churn"], json!(f.version));
    assert_eq!(r.body["use_cases"]["nomodel"], Value::Null);

    assert_eq!(f.post(PREDICT, &request()).await.status, StatusCode::OK);
    assert_eq!(
        f.post("/v1/usecases/nope/predict", &request()).await.status,
        StatusCode::NOT_FOUND
    );
    let m = f.call("GET", "/metrics", None, None, "").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.content_type.starts_with("text/plain"));
    let series = format!("use_case=\"churn\",model_version=\"{}\"", f.version);
    assert!(
        m.text
            .contains(&format!("klartext_requests_total{{{series}}} 1")),
        "{}",
        m.text
    );
    assert!(m.text.contains(&format!(
        "klartext_request_duration_seconds_count{{{series}}} 1"
    )));
    assert!(m.text.contains(&format!(
        "klartext_request_duration_seconds_bucket{{{series},le=\"+Inf\"}} 1"
    )));
    assert!(m
        .text
        .contains("klartext_errors_total{code=\"unknown_use_case\"} 1"));
}

#[tokio::test]
async fn predict_answers_score_label_explanation_and_logs_before_answering() {
    let f = fixture();
    let a = f.post(PREDICT, &request()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let b = &a.body;
    assert_eq!(b["use_case"], "churn");
    assert_eq!(b["model_version"], json!(f.version));
    assert_eq!(b["fallback"], false);
    let score = b["score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score));
    assert!(b["label"].is_string());
    let expl = b["explanation"].as_array().unwrap();
    assert!(!expl.is_empty());
    for e in expl {
        assert!(e["feature"].is_string() && e["value"].is_string() && e["contribution"].is_f64());
    }
    assert!(!b["reasons"].as_array().unwrap().is_empty());
    assert_eq!(b["warnings"], json!([]));

    // The 2xx went out, so the row is committed: readable right now, from the store.
    let id = b["prediction_id"].as_str().unwrap();
    let p = f
        .store
        .prediction(id)
        .unwrap()
        .expect("logged before the answer");
    assert_eq!(p.usecase_id, "churn");
    assert_eq!(p.subject_id.as_deref(), Some("c-1"));
    assert_eq!(p.output["score"].as_f64().unwrap(), score);
    assert_eq!(p.input_digest.len(), 64);
    assert!(p.caller.starts_with("key_"));

    // The same input with its keys in another order digests the same.
    let mut reordered = json!({"features": {}, "subject_id": "c-1"});
    let feats = request()["features"].as_object().unwrap().clone();
    for (k, v) in feats.iter().rev() {
        reordered["features"][k] = v.clone();
    }
    let a2 = f.post(PREDICT, &reordered).await;
    let p2 = f
        .store
        .prediction(a2.body["prediction_id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(p2.input_digest, p.input_digest);
    assert_ne!(p2.prediction_id, p.prediction_id);
}

#[tokio::test]
async fn explain_false_skips_the_explanation_and_bad_explain_is_a_400() {
    let f = fixture();
    let a = f
        .post(&format!("{PREDICT}?explain=false"), &request())
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.get("explanation").is_none());
    assert!(a.body["score"].is_f64());
    let bad = f
        .post(&format!("{PREDICT}?explain=maybe"), &request())
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&bad), "invalid_request");
    assert_eq!(bad.body["error"]["field"], "explain");
}

#[tokio::test]
async fn unknown_and_mistyped_features_are_a_422_naming_each_field() {
    let f = fixture();
    let a = f
        .post(
            PREDICT,
            &json!({"features": {"tenure_months": "three", "colour": "red", "contract": [1], "monthly_charges": 10}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(code(&a), "invalid_features");
    let fields: Vec<&str> = a.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for f in [
        "features.colour",
        "features.tenure_months",
        "features.contract",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    assert_eq!(fields.len(), 3);
    assert!(a.body["error"]["field"].is_string());

    let shape = f
        .post(PREDICT, &json!({"subject": "x", "features": {}}))
        .await;
    assert_eq!(shape.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(shape.body["error"]["field"], "subject");
    let no_features = f.post(PREDICT, &json!({"subject_id": "x"})).await;
    assert_eq!(no_features.body["error"]["field"], "features");
}

#[tokio::test]
async fn missing_features_are_allowed_and_out_of_range_values_are_warned_about() {
    let f = fixture();
    let a = f.post(PREDICT, &json!({"features": {}})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let b = f
        .post(
            PREDICT,
            &json!({"features": {"tenure_months": 100000, "contract": "lifetime"}}),
        )
        .await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    let mut warned: Vec<&str> = b.body["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["field"].as_str().unwrap())
        .collect();
    warned.sort();
    assert_eq!(warned, ["features.contract", "features.tenure_months"]);
}

#[tokio::test]
async fn every_v1_call_needs_a_valid_unrevoked_key_and_roles_limit_it() {
    let f = fixture();
    let body = request().to_string();
    let none = f
        .call(
            "POST",
            PREDICT,
            None,
            Some("application/json"),
            body.clone(),
        )
        .await;
    assert_eq!(
        (none.status, code(&none)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let wrong = f
        .call(
            "POST",
            PREDICT,
            Some("kt_nope"),
            Some("application/json"),
            body.clone(),
        )
        .await;
    assert_eq!(
        (wrong.status, code(&wrong)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );

    let (k, secret) = klartext_server::new_key(KeyRole::Admin, "test").unwrap();
    f.store.create_key(&k).unwrap();
    f.store.revoke_key(&k.id, "test").unwrap();
    let revoked = f
        .call(
            "POST",
            PREDICT,
            Some(&secret),
            Some("application/json"),
            body.clone(),
        )
        .await;
    assert_eq!(
        (revoked.status, code(&revoked)),
        (StatusCode::UNAUTHORIZED, "key_revoked")
    );

    let a = f.post(PREDICT, &request()).await;
    let id = a.body["prediction_id"].as_str().unwrap();
    let uri = format!("/v1/predictions/{id}");
    let scorer = f.call("GET", &uri, Some(&f.scorer), None, "").await;
    assert_eq!(
        (scorer.status, code(&scorer)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let op = f.call("GET", &uri, Some(&f.operator), None, "").await;
    assert_eq!(op.status, StatusCode::OK);
    assert_eq!(op.body["prediction"]["prediction_id"], id);
    let list = f
        .call("GET", "/v1/usecases", Some(&f.operator), None, "")
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["use_cases"].as_array().unwrap().len(), 2);
    let unknown = f
        .call(
            "GET",
            "/v1/predictions/pr_nope",
            Some(&f.operator),
            None,
            "",
        )
        .await;
    assert_eq!(
        (unknown.status, code(&unknown)),
        (StatusCode::NOT_FOUND, "unknown_prediction")
    );
}

#[tokio::test]
async fn bad_requests_get_clear_4xx_in_one_shape() {
    let f = fixture_with(ServerConfig {
        body_limit: 4096,
        ..ServerConfig::default()
    });
    let k = Some(f.scorer.as_str());
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        String,
        StatusCode,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            PREDICT,
            Some("application/json"),
            "{\"features\": ".into(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "POST",
            PREDICT,
            Some("application/json"),
            "[1, 2]".into(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "POST",
            PREDICT,
            Some("text/plain"),
            request().to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "POST",
            PREDICT,
            None,
            request().to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "POST",
            PREDICT,
            Some("application/json"),
            format!(
                "{{\"features\": {{}}, \"pad\": \"{}\"}}",
                "x".repeat(10_000)
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "POST",
            "/v1/usecases/nope/predict",
            Some("application/json"),
            request().to_string(),
            StatusCode::NOT_FOUND,
            "unknown_use_case",
        ),
        (
            "POST",
            "/v1/usecases/nomodel/predict",
            Some("application/json"),
            request().to_string(),
            StatusCode::CONFLICT,
            "no_model",
        ),
        (
            "GET",
            PREDICT,
            None,
            String::new(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "GET",
            "/nowhere",
            None,
            String::new(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (method, uri, ct, body, status, want) in cases {
        let a = f.call(method, uri, k, ct, body).await;
        assert_eq!(
            (a.status, code(&a)),
            (status, want),
            "{method} {uri} {ct:?}: {}",
            a.text
        );
        assert!(a.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        assert!(a.content_type.starts_with("application/json"));
    }
}

#[tokio::test]
async fn batch_as_json_array_refused_whole_on_one_bad_row_and_ndjson_answered_per_line() {
    let f = fixture();
    let uri = "/v1/usecases/churn/predict:batch";
    let rows = json!([request(), {"subject_id": 2, "features": {"tenure_months": 40}}]);
    let a = f.post(uri, &rows).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let out = a.body.as_array().unwrap();
    assert_eq!(out.len(), 2);
    for o in out {
        let p = f
            .store
            .prediction(o["prediction_id"].as_str().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(p.model_version, f.version);
    }
    assert_eq!(
        f.store
            .prediction(out[1]["prediction_id"].as_str().unwrap())
            .unwrap()
            .unwrap()
            .subject_id
            .as_deref(),
        Some("2")
    );

    let nd = format!(
        "{}\n\n{}\n",
        request(),
        json!({"features": {"support_calls": 1}})
    );
    let b = f
        .call(
            "POST",
            &format!("{uri}?explain=false"),
            Some(&f.scorer),
            Some("application/x-ndjson"),
            nd,
        )
        .await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    assert!(b.content_type.starts_with("application/x-ndjson"));
    let lines: Vec<Value> = b
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines
        .iter()
        .all(|l| l.get("explanation").is_none() && l["score"].is_f64()));
    // Streamed answers carry the input line they answer (blank lines are skipped).
    assert_eq!(
        (lines[0]["line"].as_u64(), lines[1]["line"].as_u64()),
        (Some(1), Some(3))
    );

    let bad = f
        .post(
            uri,
            &json!([request(), {"features": {"tenure_months": true}}]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["error"]["field"], "[1].features.tenure_months");
    let bad_line = f
        .call(
            "POST",
            uri,
            Some(&f.scorer),
            Some("application/x-ndjson"),
            "{}\n{oops\n",
        )
        .await;
    // NDJSON is a stream: a bad line is answered by an error for that line, not a 400.
    assert_eq!(bad_line.status, StatusCode::OK, "{}", bad_line.text);
    let answered: Vec<Value> = bad_line
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answered.len(), 2, "{}", bad_line.text);
    assert_eq!(answered[0]["line"], 1);
    assert_eq!(answered[0]["error"]["code"], "invalid_features");
    assert_eq!(answered[0]["error"]["field"], "features");
    assert_eq!(answered[1]["line"], 2);
    assert_eq!(answered[1]["error"]["code"], "malformed_json");
    let not_array = f.post(uri, &request()).await;
    assert_eq!(code(&not_array), "malformed_json");

    let small = fixture_with(ServerConfig {
        max_batch_rows: 1,
        ..ServerConfig::default()
    });
    let too_many = small.post(uri, &rows).await;
    assert_eq!(
        (too_many.status, code(&too_many)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}

#[tokio::test]
async fn feedback_is_stored_and_linked_to_its_prediction() {
    let f = fixture();
    let a = f.post(PREDICT, &request()).await;
    let id = a.body["prediction_id"].as_str().unwrap();
    let fb = f
        .post(
            &format!("/v1/predictions/{id}/feedback"),
            &json!({"outcome": {"churned": true}}),
        )
        .await;
    assert_eq!(fb.status, StatusCode::CREATED, "{}", fb.text);
    let stored = f.store.feedback(id).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].outcome, json!({"churned": true}));

    let unknown = f
        .post("/v1/predictions/pr_nope/feedback", &json!({"outcome": 1}))
        .await;
    assert_eq!(
        (unknown.status, code(&unknown)),
        (StatusCode::NOT_FOUND, "unknown_prediction")
    );
    let missing = f
        .post(
            &format!("/v1/predictions/{id}/feedback"),
            &json!({"result": 1}),
        )
        .await;
    assert_eq!(
        (missing.status, code(&missing)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(missing.body["error"]["field"], "outcome");
}

#[tokio::test]
async fn after_shutdown_begins_nothing_is_answered_2xx_without_its_log_row() {
    let f = fixture();
    f.state.flush_log().await;
    // The writer has stopped: a prediction cannot be logged, so it is not answered.
    let a = f.post(PREDICT, &request()).await;
    assert_eq!(
        (a.status, code(&a)),
        (StatusCode::SERVICE_UNAVAILABLE, "log_unavailable")
    );
    f.state.begin_shutdown();
    let r = f.call("GET", "/readyz", None, None, "").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let p = f.post(PREDICT, &request()).await;
    assert_eq!(code(&p), "shutting_down");
}

#[tokio::test]
async fn concurrent_predictions_share_commits_and_all_are_logged() {
    let f = fixture();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let app = f.app.clone();
        let key = f.scorer.clone();
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post(PREDICT)
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(request().to_string()))
                .unwrap();
            let r = app.oneshot(req).await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let b = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap();
            serde_json::from_slice::<Value>(&b).unwrap()["prediction_id"]
                .as_str()
                .unwrap()
                .to_owned()
        }));
    }
    for t in tasks {
        let id = t.await.unwrap();
        assert!(f.store.prediction(&id).unwrap().is_some());
    }
}
