//! Governance over HTTP: the champion alias followed without a restart, the kill switch
//! reaching a second server on the same store within one second, fallbacks logged as
//! such, and the audit trail endpoint.

mod common;

use axum::http::StatusCode;
use common::{fixture, request, usecase, Fixture};
use klartext_govern::in_canary;
use klartext_server::{router, AppState, ChampionSource, ServerConfig};
use klartext_store::{AliasName, ChallengerMode, PredictionRole, Promotion, SqliteStore, Store};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const PREDICT: &str = "/v1/usecases/churn/predict";

/// A second server process on the same store folder: its own connection, state and router.
fn second_server(f: &Fixture) -> (AppState, axum::Router) {
    let store = Arc::new(SqliteStore::open(f.dir.path()).unwrap());
    let state = common::app_state(
        store,
        vec![usecase("churn"), usecase("nomodel")],
        ServerConfig::default(),
    );
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

fn promote_challenger(f: &Fixture, version: &str, mode: ChallengerMode, share: Option<f64>) {
    f.store
        .promote(&Promotion {
            usecase_id: "churn".into(),
            version: version.into(),
            alias: AliasName::Challenger,
            mode: Some(mode),
            canary_share: share,
            actor: "test".into(),
            reason: None,
            override_gates: false,
            failed_gates: json!([]),
        })
        .unwrap();
}

fn request_for(subject: &str) -> Value {
    let mut r = request();
    r["subject_id"] = subject.into();
    r
}

/// POST an NDJSON body with the scorer key; the answer lines.
async fn ndjson(f: &Fixture, rows: &[Value]) -> Vec<Value> {
    let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
    let a = f
        .call(
            "POST",
            "/v1/usecases/churn/predict:batch",
            Some(&f.scorer.clone()),
            Some("application/x-ndjson"),
            body,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
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
    // A scorer reads that the use case is off, not the operator's words; an operator
    // reads them. Guards the answer that showed every scorer the switch-off reason.
    assert_eq!(b["switched_off"]["reason"], Value::Null, "{b}");
    assert!(b["switched_off"]["since_ms"].is_i64());
    let (_, op) = call(&app2, PREDICT, &f.operator, &request()).await;
    assert_eq!(op["switched_off"]["reason"], "complaint from the DPO");
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
    f.state.governor().refresh().unwrap();
    let a = f.post("/v1/usecases/nomodel/predict", &request()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["fallback"], true);
}

#[tokio::test]
async fn the_champion_alias_is_followed_without_a_restart_and_rolled_back() {
    let f = fixture();
    assert_eq!(
        f.state.governor().champions(),
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
    assert_eq!(f.state.governor().champions()[0].2, ChampionSource::Alias);

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
    assert_eq!(
        state2.governor().champions()[0].1.as_deref(),
        Some(f.version.as_str())
    );
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

#[tokio::test]
async fn a_shadow_challenger_is_scored_and_logged_but_never_answers() {
    let f = fixture();
    promote(&f, &f.version);
    second_version(&f, "ssssssssssss");
    promote_challenger(&f, "ssssssssssss", ChallengerMode::Shadow, None);
    f.state.governor().refresh().unwrap();

    // Single, JSON batch and NDJSON stream: every answer is the champion's.
    let mut answers = Vec::new();
    for i in 0..20 {
        let a = f.post(PREDICT, &request_for(&format!("s-{i}"))).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        answers.push(a.body);
    }
    let batch: Vec<Value> = (20..60).map(|i| request_for(&format!("s-{i}"))).collect();
    let a = f
        .post("/v1/usecases/churn/predict:batch", &Value::Array(batch))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    answers.extend(a.body.as_array().unwrap().iter().cloned());
    let stream: Vec<Value> = (60..100).map(|i| request_for(&format!("s-{i}"))).collect();
    answers.extend(ndjson(&f, &stream).await);
    assert_eq!(answers.len(), 100);
    for a in &answers {
        assert_eq!(a["model_version"], json!(f.version), "{a}");
        assert_eq!(a["fallback"], false);
    }

    // The log holds one served row per answer and one shadow row beside each.
    let log = f.store.predictions("churn", None).unwrap();
    let served: Vec<_> = log
        .iter()
        .filter(|p| p.role == PredictionRole::Served)
        .collect();
    let shadows: Vec<_> = log
        .iter()
        .filter(|p| p.role == PredictionRole::Shadow)
        .collect();
    assert_eq!(served.len(), 100);
    assert_eq!(shadows.len(), 100);
    assert!(served.iter().all(|p| p.model_version == f.version));
    for a in &answers {
        let id = a["prediction_id"].as_str().unwrap();
        let s = shadows
            .iter()
            .find(|s| s.shadow_of.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no shadow row for {id}"));
        assert_eq!(s.model_version, "ssssssssssss");
        let p = served.iter().find(|p| p.prediction_id == id).unwrap();
        assert_eq!(s.subject_id, p.subject_id);
        assert!(s.subject_id.is_some());
        assert_eq!(
            s.output["score"], a["score"],
            "the same artifact scores the same"
        );
        // A shadow prediction id is never handed out.
        assert!(answers
            .iter()
            .all(|a| a["prediction_id"] != json!(s.prediction_id)));
    }

    // Without a challenger, no shadow rows are added.
    f.store.clear_challenger("churn", "test", None).unwrap();
    f.state.governor().refresh().unwrap();
    f.post(PREDICT, &request()).await;
    let log = f.store.predictions("churn", None).unwrap();
    assert_eq!(log.len(), 201);
}

#[tokio::test]
async fn a_canary_answers_its_share_of_subjects_within_two_points_and_sticky() {
    let f = fixture();
    promote(&f, &f.version);
    second_version(&f, "cccccccccccc");
    let share = 0.2;
    promote_challenger(&f, "cccccccccccc", ChallengerMode::Canary, Some(share));
    f.state.governor().refresh().unwrap();

    let n = 10_000;
    let subjects: Vec<String> = (0..n).map(|i| format!("subject-{i}")).collect();
    let batch: Vec<Value> = subjects.iter().map(|s| request_for(s)).collect();
    let a = f
        .post(
            "/v1/usecases/churn/predict:batch",
            &Value::Array(batch.clone()),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let first: Vec<String> = a
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["model_version"].as_str().unwrap().to_owned())
        .collect();
    assert!(first.iter().all(|v| v == &f.version || v == "cccccccccccc"));
    let got = first.iter().filter(|v| *v == "cccccccccccc").count() as f64 / n as f64;
    eprintln!("canary share {share}: challenger answered {got}");
    assert!((got - share).abs() < 0.02, "configured {share}, got {got}");
    for (s, v) in subjects.iter().zip(&first) {
        assert_eq!(in_canary("churn", s, share), v == "cccccccccccc", "{s}");
    }

    // Sticky: the same subjects again, as a stream and one by one, get the same model.
    let again = ndjson(&f, &batch).await;
    assert_eq!(again.len(), n);
    for (a, v) in again.iter().zip(&first) {
        assert_eq!(a["model_version"], json!(v), "{a}");
    }
    for (s, v) in subjects.iter().zip(&first).take(200) {
        let a = f.post(PREDICT, &request_for(s)).await;
        assert_eq!(a.body["model_version"], json!(v), "{s}");
    }

    // No shadow rows in canary mode; every logged row was answered.
    let log = f.store.predictions("churn", None).unwrap();
    assert_eq!(log.len(), 2 * n + 200);
    assert!(log.iter().all(|p| p.role == PredictionRole::Served));

    // A request without a subject id cannot be routed stickily: the champion answers.
    let mut anonymous = request();
    anonymous.as_object_mut().unwrap().remove("subject_id");
    for _ in 0..20 {
        let a = f.post(PREDICT, &anonymous).await;
        assert_eq!(a.body["model_version"], json!(f.version), "{}", a.text);
    }
}
