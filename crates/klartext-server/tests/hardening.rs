//! What an adversarial pass over the API found, each guarded: error answers bounded
//! whatever the request, stored strings bounded, a second outcome's meaning said,
//! duplicate JSON keys refused, every error in the envelope, the bearer scheme read
//! case-insensitively, and `/metrics` private when the server is told so.

mod common;

use common::{fixture, fixture_with, request};
use serde_json::{json, Value};

/// Guards error answers 50 times their request: each unknown feature listed all the
/// model's features and the message repeated every detail.
#[tokio::test]
async fn an_error_answer_stays_small_however_many_fields_are_wrong() {
    let f = fixture();
    let mut features = serde_json::Map::new();
    for i in 0..5000 {
        features.insert(format!("no_such_feature_{i:05}"), json!(1));
    }
    let body = json!({"subject_id": "c-1", "features": features}).to_string();
    let a = f
        .call(
            "POST",
            "/v1/usecases/churn/predict",
            Some(&f.scorer),
            Some("application/json"),
            body.clone(),
        )
        .await;
    assert_eq!(a.status, 422);
    assert!(
        a.text.len() < 8 * 1024,
        "{} bytes for a {}-byte request",
        a.text.len(),
        body.len()
    );
    let details = a.body["error"]["details"].as_array().unwrap();
    assert_eq!(details.len(), klartext_server::error::MAX_DETAILS);
    assert!(
        a.text.matches("tenure_months").count() <= 2,
        "the model's features once, in the first problem (and the message that quotes it)"
    );
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("and 4997 more"));
    // A batch of such rows, and a long field name, are bounded the same way.
    let rows: Vec<Value> = (0..10).map(|_| json!({"features": features})).collect();
    let a = f
        .post("/v1/usecases/churn/predict:batch", &Value::Array(rows))
        .await;
    assert_eq!(a.status, 422);
    assert!(a.text.len() < 8 * 1024, "{}", a.text.len());
    let long = "x".repeat(100_000);
    let a = f
        .post(
            "/v1/usecases/churn/predict",
            &json!({"features": {long.clone(): 1}}),
        )
        .await;
    assert!(a.text.len() < 4 * 1024, "{}", a.text.len());
}

/// Guards stored strings without limits: a 1.9 MB subject id and outcome were stored,
/// feedback for one prediction was taken again and again, any JSON was an outcome.
#[tokio::test]
async fn stored_strings_and_outcomes_are_bounded_and_a_second_outcome_corrects_the_first() {
    let f = fixture();
    let mut r = request();
    r["subject_id"] = "s".repeat(10_000).into();
    let a = f.post("/v1/usecases/churn/predict", &r).await;
    assert_eq!(a.status, 422, "{}", a.text);
    assert_eq!(a.body["error"]["field"], "subject_id");

    let a = f.post("/v1/usecases/churn/predict", &request()).await;
    let id = a.body["prediction_id"].as_str().unwrap().to_owned();
    let uri = format!("/v1/predictions/{id}/feedback");
    let big = f
        .post(&uri, &json!({"outcome": {"churn": "Y".repeat(1_900_000)}}))
        .await;
    assert_eq!(big.status, 422, "{}", &big.text[..big.text.len().min(300)]);
    assert_eq!(big.body["error"]["code"], "invalid_outcome");
    let junk = f.post(&uri, &json!({"outcome": [1, 2, 3]})).await;
    assert_eq!(
        junk.body["error"]["code"], "invalid_outcome",
        "{}",
        junk.text
    );

    let first = f.post(&uri, &json!({"outcome": {"churn": "Yes"}})).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["replaces_earlier"], false);
    assert_eq!(
        first.body["outcome"],
        json!({"type": "binary", "positive": true})
    );
    let second = f.post(&uri, &json!({"outcome": false})).await;
    assert_eq!(second.body["replaces_earlier"], true, "{}", second.text);
    for _ in 2..klartext_govern::MAX_FEEDBACK {
        assert_eq!(f.post(&uri, &json!({"outcome": true})).await.status, 201);
    }
    let over = f.post(&uri, &json!({"outcome": true})).await;
    assert_eq!(over.status, 409, "{}", over.text);
    assert_eq!(over.body["error"]["code"], "feedback_limit");
}

/// Guards JSON reading that kept the last of two equal keys: `{"x": 1, "x": 350}`.
#[tokio::test]
async fn a_key_named_twice_is_refused_naming_it() {
    let f = fixture();
    let body = r#"{"subject_id": "c-1", "features": {"tenure_months": 1, "tenure_months": 350}}"#;
    let a = f
        .call(
            "POST",
            "/v1/usecases/churn/predict",
            Some(&f.scorer),
            Some("application/json"),
            body,
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.body["error"]["code"], "malformed_json");
    assert!(
        a.text.contains("duplicate key `tenure_months`"),
        "{}",
        a.text
    );
}

/// Guards errors that left outside the envelope: a path that does not decode answered
/// 400 `text/plain`, and an overlong URI or header had an empty body.
#[tokio::test]
async fn every_error_leaves_in_the_envelope() {
    let f = fixture();
    let a = f
        .call(
            "POST",
            "/v1/usecases/%ff/predict",
            Some(&f.scorer),
            Some("application/json"),
            "{}",
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.content_type.starts_with("application/json"),
        "{}",
        a.content_type
    );
    assert_eq!(a.body["error"]["code"], "invalid_request", "{}", a.text);
    let long = format!("/v1/usecases/{}/predict", "a".repeat(10_000));
    let a = f
        .call(
            "POST",
            &long,
            Some(&f.scorer),
            Some("application/json"),
            "{}",
        )
        .await;
    assert_eq!(a.status, 414);
    assert_eq!(a.body["error"]["code"], "uri_too_long");
    let req = axum::http::Request::builder()
        .method("GET")
        .uri("/healthz")
        .header("x-big", "b".repeat(70_000))
        .body(axum::body::Body::empty())
        .unwrap();
    use tower::ServiceExt;
    let resp = f.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 431);
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"]["code"], "headers_too_large");
    // An empty id: the route does not exist, said in the envelope.
    let a = f
        .call(
            "POST",
            "/v1/usecases//predict",
            Some(&f.scorer),
            Some("application/json"),
            "{}",
        )
        .await;
    assert!(
        a.body["error"]["code"].is_string(),
        "{} {}",
        a.status,
        a.text
    );
}

/// Guards the bearer scheme read case-sensitively (HTTP says the scheme is not).
#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let f = fixture();
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/v1/usecases/churn/predict")
            .header("authorization", format!("{scheme} {}", f.scorer))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(request().to_string()))
            .unwrap();
        use tower::ServiceExt;
        let resp = f.app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn metrics_are_private_when_the_server_is_told_so() {
    let open = fixture();
    assert_eq!(
        open.call("GET", "/metrics", None, None, "").await.status,
        200
    );
    let private = fixture_with(klartext_server::ServerConfig {
        private_metrics: true,
        ..Default::default()
    });
    let a = private.call("GET", "/metrics", None, None, "").await;
    assert_eq!(a.status, 401, "{}", a.text);
    let a = private
        .call("GET", "/metrics", Some(&private.scorer), None, "")
        .await;
    assert_eq!(a.status, 403, "{}", a.text);
    let a = private
        .call("GET", "/metrics", Some(&private.operator), None, "")
        .await;
    assert_eq!(a.status, 200);
}
