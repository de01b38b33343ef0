//! Monitoring over the API: drift of served traffic against the training reference,
//! live performance from feedback, and alerts raised once per window.

mod common;

use axum::http::StatusCode;
use common::{fixture, usecase};
use klartext_core::ColumnData;
use klartext_data::generate::{generate, GenerateParams};
use klartext_govern::monitoring;
use klartext_store::Store;
use serde_json::{json, Map, Value};

/// `rows` generated customers as predict items carrying the model's features.
fn items(features: &[String], rows: usize, seed: u64, drift: f64) -> Vec<Value> {
    let g = generate(&GenerateParams {
        rows,
        seed,
        drift,
        ..GenerateParams::default()
    });
    (0..rows)
        .map(|i| {
            let mut m = Map::new();
            for f in features {
                let c = g.frame.column(f).expect("a generated column");
                let v = match &c.data {
                    ColumnData::Num(v) if v[i].is_nan() => Value::Null,
                    ColumnData::Num(v) => json!(v[i]),
                    ColumnData::Str(s) => s.get(i).map_or(Value::Null, |x| json!(x)),
                };
                m.insert(f.clone(), v);
            }
            json!({ "subject_id": format!("s{i}"), "features": m })
        })
        .collect()
}

/// GET with a key.
async fn get(f: &common::Fixture, uri: &str, key: &str) -> common::Answer {
    f.call("GET", uri, Some(key), None, "").await
}

fn feature_names(f: &common::Fixture) -> Vec<String> {
    let m = f.store.model("churn", &f.version).unwrap().unwrap();
    serde_json::from_value(m.report["features"].clone()).unwrap()
}

#[tokio::test]
async fn drifted_traffic_is_flagged_and_alerts_are_raised_once_per_window() {
    let f = fixture();
    let names = feature_names(&f);

    // Too little traffic: a report without a drift verdict.
    let r = get(&f, "/v1/usecases/churn/monitoring", &f.operator).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["drift"].is_null());
    assert_eq!(r.body["rows"], 0);

    let batch = items(&names, 400, 99, 1.0);
    let a = f
        .post("/v1/usecases/churn/predict:batch", &Value::Array(batch))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    f.state.flush_log().await;

    let r = get(&f, "/v1/usecases/churn/monitoring", &f.operator).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["rows"], 400);
    let drifted: Vec<&str> = r.body["drift"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drifted"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for c in [
        "tenure_months",
        "monthly_charges",
        "support_calls",
        "contract",
    ] {
        if names.iter().any(|n| n == c) {
            assert!(drifted.contains(&c), "{c} not flagged: {drifted:?}");
        }
    }
    for c in ["age", "region", "plan", "payment_method"] {
        assert!(!drifted.contains(&c), "{c} flagged: {drifted:?}");
    }
    assert_eq!(r.body["drift"]["score"]["drifted"], true);
    let findings = r.body["findings"].to_string();
    assert!(
        findings.contains("tenure_months has shifted: median"),
        "{findings}"
    );
    assert!(findings.contains("The score has shifted"), "{findings}");

    // The page has charts; scorers may not read reports; unknown use cases are 404.
    let page = get(&f, "/v1/usecases/churn/monitoring?format=html", &f.operator).await;
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.text.contains("<svg") && page.text.contains("tenure_months"));
    let denied = get(&f, "/v1/usecases/churn/monitoring", &f.scorer).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let unknown = get(&f, "/v1/usecases/nope/monitoring", &f.operator).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["error"]["code"], "unknown_use_case");

    // Feedback that contradicts the scores: live AUC collapses.
    let ids: Vec<(String, f64)> = a
        .body
        .as_array()
        .expect("a JSON array of answers")
        .iter()
        .map(|v| {
            (
                v["prediction_id"].as_str().unwrap().to_owned(),
                v["score"].as_f64().unwrap(),
            )
        })
        .collect();
    for (id, score) in ids.iter().take(120) {
        let fb = f
            .post(
                &format!("/v1/predictions/{id}/feedback"),
                &json!({ "outcome": { "churned": *score < 0.45 } }),
            )
            .await;
        assert_eq!(fb.status, StatusCode::CREATED, "{}", fb.text);
    }

    // A subscriber to alerts: what is raised is delivered to it.
    f.store
        .create_webhook(&klartext_store::Webhook {
            id: "wh_alerts".into(),
            url: "http://127.0.0.1:9/alerts".into(),
            events: vec!["drift.detected".into(), "performance.degraded".into()],
            secret: "s".into(),
            created_ms: 0,
            created_by: "test".into(),
            revoked_ms: None,
            cursor_seq: 0,
        })
        .unwrap();

    let uc = usecase("churn");
    let now = klartext_store::now_ms();
    monitoring::check_all(f.store.as_ref(), std::slice::from_ref(&uc), now);
    monitoring::check_all(f.store.as_ref(), std::slice::from_ref(&uc), now + 1000);
    let events = f.store.audit_events(0).unwrap();
    let count = |action: &str| events.iter().filter(|e| e.action == action).count();
    assert_eq!(count("drift.detected"), 1, "once per window");
    assert_eq!(count("performance.degraded"), 1, "once per window");
    let e = events
        .iter()
        .find(|e| e.action == "performance.degraded")
        .unwrap();
    assert!(e.details["summary"].as_str().unwrap().contains("Live AUC"));
    assert_eq!(f.store.verify_audit().unwrap(), None);
    let due = f.store.pending_webhook_deliveries(now + 2000).unwrap();
    assert_eq!(due.len(), 1, "one delivery at a time per subscription");
    assert!(
        ["drift.detected", "performance.degraded"].contains(&due[0].event.action.as_str()),
        "{:?}",
        due[0].event.action
    );

    let r = get(&f, "/v1/usecases/churn/monitoring", &f.operator).await;
    let windows = r.body["performance"]["windows"].as_array().unwrap();
    let last = windows.last().unwrap();
    assert_eq!(last["n"], 120);
    assert_eq!(last["degraded"], true);
}
