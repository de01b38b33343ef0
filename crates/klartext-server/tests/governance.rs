//! Governance over HTTP: the champion alias followed without a restart, the kill switch
//! reaching a second server on the same store within one second, fallbacks logged as
//! such, and the audit trail endpoint.

mod common;

use axum::http::StatusCode;
use common::{fixture, request, usecase, Fixture};
use klartext_server::{router, AppState, ChampionSource, ServerConfig};
use klartext_store::{AliasName, Promotion, SqliteStore, Store};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const PREDICT: &str = "/v1/usecases/churn/predict";

/// A second server process on the same store folder: its own connection, state and router.
fn second_server(f: &Fixture) -> (AppState, axum::Router) {
    let store = Arc::new(SqliteStore::open(f.dir.path()).unwrap());
    let state = AppState::new(
        store,
        vec![usecase("churn"), usecase("nomodel")],
        ServerConfig::default(),
    )
    .unwrap();
    (state.clone(), router(state))
}

async fn call(app: &axum::Router, uri: &str, key: &str, body: &Value) -> (StatusCode, Value) {
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(uri)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Register the served artifact once more under another version id: a second model
/// version without training one.
fn second_version(f: &Fixture, version: &str) {
    let mut m = f.store.model("churn", &f.version).unwrap().unwrap();
    let bytes = f.store.model_bytes(&m).unwrap();
    m.version = version.into();
    m.created_ms += 1;
    let blob = f.store.put_artifact(&m.sha256, &bytes).unwrap();
    f.store.register_model(&m, &blob).unwrap();
}

fn promote(f: &Fixture, version: &str) {
    f.store
        .promote(&Promotion {
            usecase_id: "churn".into(),
            version: version.into(),
            alias: AliasName::Champion,
            mode: None,
            canary_share: None,
            actor: "test".into(),
            reason: None,
            override_gates: false,
            failed_gates: json!([]),
        })
        .unwrap();
}

async fn wait_for(deadline: Duration, mut check: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test]
async fn switch_off_reaches_a_second_server_on_the_same_store_within_one_second() {
    let f = fixture();
    let (_state2, app2) = second_server(&f);
    let (s, b) = call(&app2, PREDICT, &f.scorer, &request()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["fallback"], false);

    let switched = Instant::now();
    let a = f
        .call(
            "POST",
            "/v1/usecases/churn/switch",
            Some(&f.operator.clone()),
            Some("application/json"),
            json!({"state": "off", "reason": "complaint from the DPO"}).to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["state"], "off");
    // The server that switched answers the fallback at once.
    let local = f.post(PREDICT, &request()).await;
    assert_eq!(local.body["fallback"], true, "{}", local.text);

    let key = f.scorer.clone();
    let took = wait_for(Duration::from_secs(3), async || {
        call(&app2, PREDICT, &key, &request()).await.1["fallback"] == true
    })
    .await
    .expect("the second server answers the fallback");
    let total = switched.elapsed();
    eprintln!(
        "switch-off reached the second server after {took:?} ({total:?} after the switch call)"
    );
    assert!(total < Duration::from_secs(1), "took {total:?}");

    // The fallback answer: the documented constant, and logged as a fallback.
    let (s, b) = call(&app2, PREDICT, &f.scorer, &request()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["score"], 0.0);
    assert_eq!(b["decision"], true);
    assert_eq!(b["model_version"], Value::Null);
    assert_eq!(b["switched_off"]["reason"], "complaint from the DPO");
    let p = f
        .store
        .prediction(b["prediction_id"].as_str().unwrap())
        .unwrap()
        .expect("fallbacks are logged");
    assert!(p.fallback);
    assert_eq!(p.subject_id.as_deref(), Some("c-1"));

    // Batches answer the fallback per row.
    let (s, b) = call(
        &app2,
        "/v1/usecases/churn/predict:batch",
        &f.scorer,
        &json!([request(), request()]),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b.as_array().unwrap().len(), 2);
    assert!(b.as_array().unwrap().iter().all(|a| a["fallback"] == true));

    // The audit trail names actor and reason.
    let e = f
        .store
        .audit_events(0)
        .unwrap()
        .into_iter()
        .rfind(|e| e.action == "usecase.switched")
        .unwrap();
    assert!(e.actor.starts_with("api:key_"), "{}", e.actor);
    assert_eq!(e.details["reason"], "complaint from the DPO");

    // Switched on through the store (as the CLI does): both servers score again.
    f.store.set_switch("churn", true, "cli", "").unwrap();
    let key = f.scorer.clone();
    assert!(wait_for(Duration::from_secs(1), async || {
        call(&app2, PREDICT, &key, &request()).await.1["fallback"] == false
    })
    .await
    .is_some());
    assert_eq!(f.post(PREDICT, &request()).await.body["fallback"], false);
}

#[tokio::test]
async fn switch_needs_an_operator_a_reason_and_a_known_use_case() {
    let f = fixture();
    let body = json!({"state": "off", "reason": "x"}).to_string();
    let scorer = f.scorer.clone();
    let op = f.operator.clone();
    let a = f
        .call(
            "POST",
            "/v1/usecases/churn/switch",
            Some(&scorer),
            Some("application/json"),
            body.clone(),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = f
        .call(
            "POST",
            "/v1/usecases/churn/switch",
            Some(&op),
            Some("application/json"),
            json!({"state": "off"}).to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["error"]["field"], "reason");
    let a = f
        .call(
            "POST",
            "/v1/usecases/churn/switch",
            Some(&op),
            Some("application/json"),
            json!({"state": "maybe", "reason": "x"}).to_string(),
        )
        .await;
    assert_eq!(a.body["error"]["field"], "state");
    let a = f
        .call(
            "POST",
            "/v1/usecases/nope/switch",
            Some(&op),
            Some("application/json"),
            body,
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // Nothing was switched.
    assert_eq!(f.post(PREDICT, &request()).await.body["fallback"], false);
}

#[tokio::test]
async fn a_use_case_without_a_model_still_answers_its_fallback_when_off() {
    let f = fixture();
    assert_eq!(
        f.post("/v1/usecases/nomodel/predict", &request())
            .await
            .status,
        StatusCode::CONFLICT
    );
    f.store
        .set_switch("nomodel", false, "cli", "incident 7")
        .unwrap();
    f.state.refresh_governance().unwrap();
    let a = f.post("/v1/usecases/nomodel/predict", &request()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["fallback"], true);
}

#[tokio::test]
async fn the_champion_alias_is_followed_without_a_restart_and_rolled_back() {
    let f = fixture();
    assert_eq!(
        f.state.champions(),
        vec![
            (
                "churn".into(),
                Some(f.version.clone()),
                ChampionSource::NewestPassed
            ),
            ("nomodel".into(), None, ChampionSource::None),
        ]
    );
    promote(&f, &f.version);
    second_version(&f, "bbbbbbbbbbbb");
    promote(&f, "bbbbbbbbbbbb");
    let took = wait_for(Duration::from_secs(2), async || {
        f.post(PREDICT, &request()).await.body["model_version"] == "bbbbbbbbbbbb"
    })
    .await
    .expect("the new champion is served");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(f.state.champions()[0].2, ChampionSource::Alias);

    f.store
        .rollback("churn", "test", Some("worse lift"))
        .unwrap();
    let version = f.version.clone();
    assert!(
        wait_for(Duration::from_secs(2), async || {
            f.post(PREDICT, &request()).await.body["model_version"] == json!(version)
        })
        .await
        .is_some(),
        "the previous champion is back"
    );
}

#[tokio::test]
async fn a_champion_alias_wins_over_a_newer_passing_version() {
    let f = fixture();
    promote(&f, &f.version);
    // A newer version whose gates passed, never promoted: not served.
    second_version(&f, "cccccccccccc");
    let (state2, app2) = second_server(&f);
    assert_eq!(state2.champions()[0].1.as_deref(), Some(f.version.as_str()));
    let (_, b) = call(&app2, PREDICT, &f.scorer, &request()).await;
    assert_eq!(b["model_version"], json!(f.version));
}

#[tokio::test]
async fn audit_endpoint_lists_events_after_a_sequence_number_for_operators() {
    let f = fixture();
    let op = f.operator.clone();
    let scorer = f.scorer.clone();
    let all = f.call("GET", "/v1/audit", Some(&op), None, "").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let events = all.body["events"].as_array().unwrap();
    assert!(events.len() >= 3, "{}", all.text);
    let since = f
        .call("GET", "/v1/audit?since=2", Some(&op), None, "")
        .await;
    assert_eq!(since.body["events"][0]["seq"], 3);
    assert_eq!(
        since.body["events"].as_array().unwrap().len(),
        events.len() - 2
    );
    let bad = f
        .call("GET", "/v1/audit?since=x", Some(&op), None, "")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let forbidden = f.call("GET", "/v1/audit", Some(&scorer), None, "").await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
}
