//! Data-subject rights end to end through the router: export across three datasets and
//! the log, erasure that leaves nothing findable and the audit chain intact, objection
//! reaching a second server at once, retention, the six-month audit floor, and the human
//! review queue.

mod common;

use common::{fixture, request, usecase, Fixture};
use klartext_data::ingest::{ingest, IngestOptions};
use klartext_govern::rights;
use klartext_server::{new_key, router, ServerConfig};
use klartext_store::{
    now_ms, DatasetRecord, Feedback, KeyRole, PredictionRecord, PredictionRole, Registration,
    RetentionRule, Store,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The fixture dataset's first customer id, and its CSV lines.
fn snapshot_lines(f: &Fixture) -> (String, Vec<String>) {
    let reg = f.store.registrations(Some("churn")).unwrap().remove(0);
    let d = f.store.dataset(&reg.dataset_id).unwrap().unwrap();
    let text = String::from_utf8(f.store.snapshot_bytes(&d).unwrap()).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = header.iter().position(|h| *h == "customer_id").unwrap();
    let id = lines[1].split(',').nth(col).unwrap().to_owned();
    (id, lines)
}

/// Register CSV text for a use case, as `klartext data add` would.
fn register(f: &Fixture, name: &str, csv: &str, uc: &str) -> String {
    register_with(f, name, csv, uc, &IngestOptions::default())
}

/// [`register`] with ingest options (pseudonymised columns).
fn register_with(f: &Fixture, name: &str, csv: &str, uc: &str, opts: &IngestOptions) -> String {
    let u = usecase(uc);
    let ing = ingest(name, csv.as_bytes(), Some(&u), opts, None).unwrap();
    let id = ing.snapshot.dataset_id();
    let blob = f
        .store
        .put_snapshot(
            &ing.snapshot.sha256,
            &ing.snapshot.extension,
            &ing.snapshot_bytes,
        )
        .unwrap();
    f.store
        .register_dataset(
            &DatasetRecord {
                id: id.clone(),
                sha256: ing.snapshot.sha256.clone(),
                source_name: name.into(),
                snapshot: serde_json::to_value(&ing.snapshot).unwrap(),
                rows: ing.frame.n_rows as u64,
                columns: ing.frame.n_cols() as u64,
                bytes: ing.snapshot_bytes.len() as u64,
                created_ms: now_ms(),
                created_by: "test".into(),
            },
            &blob,
            &Registration {
                dataset_id: id.clone(),
                usecase_id: uc.into(),
                schema: ing.schema.clone(),
                report: ing.report.clone(),
                created_ms: now_ms(),
                created_by: "test".into(),
            },
        )
        .unwrap();
    id
}

fn admin(f: &Fixture) -> String {
    let (k, secret) = new_key(KeyRole::Admin, "test").unwrap();
    f.store.create_key(&k).unwrap();
    secret
}

fn predict_body(subject: &str) -> Value {
    let mut r = request();
    r["subject_id"] = subject.into();
    r
}

fn usecases() -> Vec<klartext_core::UseCase> {
    vec![usecase("churn"), usecase("nomodel")]
}

#[tokio::test]
async fn export_finds_three_datasets_and_the_log_then_erasure_leaves_nothing() {
    let f = fixture();
    let (subject, lines) = snapshot_lines(&f);
    // Two more datasets holding the subject: a subset for churn, another for `nomodel`.
    let second = format!("{}\n{}\n", lines[0], lines[1..400].join("\n"));
    let mut third_rows = vec![lines[1].clone()];
    third_rows.extend(lines[600..900].iter().cloned());
    let third = format!("{}\n{}\n", lines[0], third_rows.join("\n"));
    let d2 = register(&f, "second.csv", &second, "churn");
    let d3 = register(&f, "third.csv", &third, "nomodel");

    let mut predicted = Vec::new();
    for _ in 0..2 {
        let a = f
            .post("/v1/usecases/churn/predict", &predict_body(&subject))
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        predicted.push(a.body["prediction_id"].as_str().unwrap().to_owned());
    }
    let fb = f
        .post(
            &format!("/v1/predictions/{}/feedback", predicted[0]),
            &json!({ "outcome": { "churn": "Yes" } }),
        )
        .await;
    assert_eq!(fb.status, 201);
    // Another subject's prediction stays untouched by the erasure.
    let other = f
        .post("/v1/usecases/churn/predict", &predict_body("someone-else"))
        .await;
    assert_eq!(other.status, 200);

    let uri = format!("/v1/subjects/{subject}");
    let scorer = f.call("GET", &uri, Some(&f.scorer), None, "").await;
    assert_eq!(scorer.status, 403);
    let e = f.call("GET", &uri, Some(&f.operator), None, "").await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert_eq!(e.body["found"], true);
    let datasets = e.body["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 3, "{:#}", e.body["datasets"]);
    for d in datasets {
        assert_eq!(
            d["rows"][0]["customer_id"].to_string().trim_matches('"'),
            subject
        );
    }
    let preds = e.body["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 2);
    for p in preds {
        assert_eq!(p["model_version"], f.version.as_str());
        assert!(p["score"].is_number());
        assert!(
            !p["reasons"].as_array().unwrap().is_empty(),
            "reasons in words: {p}"
        );
    }
    assert_eq!(e.body["feedback"].as_array().unwrap().len(), 1);
    assert!(e.body["logic"][0]["goal"].is_string());
    let html = f
        .call(
            "GET",
            &format!("{uri}?format=html"),
            Some(&f.operator),
            None,
            "",
        )
        .await;
    assert_eq!(html.status, 200);
    assert!(html.content_type.starts_with("text/html"));
    assert!(html.text.contains(&subject) && html.text.contains("Automated decisions"));
    let bad = f
        .call(
            "GET",
            &format!("{uri}?format=pdf"),
            Some(&f.operator),
            None,
            "",
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["error"]["field"], "format");

    let before: Vec<DatasetRecord> = [&d2, &d3]
        .iter()
        .map(|id| f.store.dataset(id).unwrap().unwrap())
        .collect();
    let operator_erase = f.call("DELETE", &uri, Some(&f.operator), None, "").await;
    assert_eq!(operator_erase.status, 403, "erasure needs an admin");
    let erased = f.call("DELETE", &uri, Some(&admin(&f)), None, "").await;
    assert_eq!(erased.status, 200, "{}", erased.text);
    assert_eq!(
        erased.body["report"]["datasets"].as_array().unwrap().len(),
        3
    );
    assert_eq!(erased.body["report"]["predictions_pseudonymised"], 2);
    assert_eq!(erased.body["report"]["feedback_deleted"], 1);

    // Nothing is found any more, by the API or by `find`.
    let again = f.call("GET", &uri, Some(&f.operator), None, "").await;
    assert_eq!(again.body["found"], false, "{:#}", again.body);
    assert!(rights::find(f.store.as_ref(), &usecases(), &subject, None)
        .unwrap()
        .is_empty());
    // Datasets keep their ids, get new content hashes, and lose the old files.
    for old in &before {
        let new = f.store.dataset(&old.id).unwrap().unwrap();
        assert_ne!(new.sha256, old.sha256);
        assert_eq!(new.rows, old.rows - 1);
        let bytes = f.store.snapshot_bytes(&new).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(&format!("\n{},", subject)));
        let old_file = f
            .dir
            .path()
            .join("snapshots")
            .join(format!("{}.csv", old.sha256));
        assert!(!old_file.exists(), "old snapshot {old_file:?} removed");
    }
    // The log keeps the decisions, pseudonymised: no id, no features, no reasons.
    for id in &predicted {
        let p = f.store.prediction(id).unwrap().unwrap();
        assert!(p.subject_id.as_deref().unwrap().starts_with("erased_"));
        assert!(p.features.is_none());
        assert!(p.output.get("reasons").is_none());
        assert!(p.output.get("score").is_some());
        assert!(f.store.feedback(id).unwrap().is_empty());
    }
    let kept = f
        .store
        .prediction(other.body["prediction_id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(kept.subject_id.as_deref(), Some("someone-else"));
    // The audit chain verifies, and its erasure event holds no personal data.
    assert!(f.store.verify_audit().unwrap().is_none());
    assert!(f.store.verify_audit_detailed().unwrap().problem.is_none());
    let events = f.store.audit_events(0).unwrap();
    let ev = events
        .iter()
        .find(|e| e.action == "subject.erased")
        .unwrap();
    let text = serde_json::to_string(ev).unwrap();
    assert!(!text.contains(&subject), "{text}");
    use sha2::Digest;
    assert!(!text.contains(&hex::encode(sha2::Sha256::digest(subject.as_bytes()))));
    assert!(text.contains(&before[0].sha256), "old hashes are recorded");
    // Training still loads the rewritten snapshots.
    let reg = f.store.registration(&d3, "nomodel").unwrap().unwrap();
    let d = f.store.dataset(&d3).unwrap().unwrap();
    let info = serde_json::from_value(d.snapshot.clone()).unwrap();
    klartext_data::ingest::load_snapshot(
        &f.store.snapshot_bytes(&d).unwrap(),
        &info,
        &reg.schema,
        Some(&usecase("nomodel")),
    )
    .unwrap();
}

#[tokio::test]
async fn objection_blocks_scoring_at_once_in_a_second_server_and_in_training() {
    let f = fixture();
    let second = common::app_state(f.store.clone(), usecases(), ServerConfig::default());
    let app2 = router(second);
    let subject = "c-objecting";
    let before = f
        .post("/v1/usecases/churn/predict", &predict_body(subject))
        .await;
    assert!(before.body["score"].is_number());

    let o = f
        .post(
            &format!("/v1/subjects/{subject}/objection"),
            &json!({ "reason": "no profiling please" }),
        )
        .await;
    assert_eq!(o.status, 201, "{}", o.text);
    let at = Instant::now();
    // This process: at once.
    let a = f
        .post("/v1/usecases/churn/predict", &predict_body(subject))
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["objected"], true);
    assert!(a.body["score"].is_null());
    let logged = f
        .store
        .prediction(a.body["prediction_id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert!(logged.features.is_none() && logged.score.is_none());
    // The other server: within its governance poll.
    let other = Fixture { app: app2, ..f };
    loop {
        let b = other
            .post("/v1/usecases/churn/predict", &predict_body(subject))
            .await;
        if b.body["objected"] == true {
            assert!(b.body["score"].is_null());
            break;
        }
        assert!(
            at.elapsed() < Duration::from_secs(1),
            "the second server still scores after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Batches too, and other subjects are still scored.
    let batch = other
        .post(
            "/v1/usecases/churn/predict:batch",
            &json!([predict_body(subject), predict_body("c-fine")]),
        )
        .await;
    assert_eq!(batch.body[0]["objected"], true);
    assert!(batch.body[1]["score"].is_number());
    // Recording it again is no new objection.
    let again = other
        .post(&format!("/v1/subjects/{subject}/objection"), &json!({}))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["new"], false);
    // The audit event names no subject.
    let ev = other.store.audit_events(0).unwrap();
    let ev = ev.iter().find(|e| e.action == "subject.objected").unwrap();
    assert!(!serde_json::to_string(ev).unwrap().contains(subject));

    // Training leaves the objected subject's rows out.
    let (id, _) = snapshot_lines(&other);
    other.store.object_subject(&id, "test", None).unwrap();
    let reg = other.store.registrations(Some("churn")).unwrap().remove(0);
    let d = other.store.dataset(&reg.dataset_id).unwrap().unwrap();
    let info = serde_json::from_value(d.snapshot.clone()).unwrap();
    let uc = usecase("churn");
    let frame = klartext_data::ingest::load_snapshot(
        &other.store.snapshot_bytes(&d).unwrap(),
        &info,
        &reg.schema,
        Some(&uc),
    )
    .unwrap();
    let n = frame.n_rows;
    let (kept, excluded) = rights::exclude_objected(other.store.as_ref(), frame, &uc).unwrap();
    assert_eq!(excluded, 1);
    assert_eq!(kept.n_rows, n - 1);
}

fn old_prediction(id: &str, days_ago: i64) -> PredictionRecord {
    PredictionRecord {
        prediction_id: id.into(),
        at_ms: now_ms() - days_ago * 86_400_000,
        usecase_id: "churn".into(),
        kind: Some(klartext_core::UseCaseKind::Classification),
        model_version: "v".into(),
        subject_id: Some("c-old".into()),
        input_digest: "00".into(),
        status: klartext_core::DecisionStatus::Answered,
        output: json!({ "score": 0.5 }),
        latency_us: 1,
        caller: "key".into(),
        fallback: false,
        role: PredictionRole::Served,
        score: Some(0.5),
        features: None,
        shadow_of: None,
        batch_id: None,
    }
}

#[tokio::test]
async fn retention_purges_expired_predictions_feedback_and_datasets() {
    let f = fixture();
    f.store
        .log_predictions(&[old_prediction("pr_old", 400), old_prediction("pr_new", 10)])
        .unwrap();
    f.store
        .add_feedback(&Feedback {
            prediction_id: "pr_old".into(),
            outcome: json!({ "churn": "No" }),
            typed: None,
            at_ms: now_ms(),
            caller: "key".into(),
        })
        .unwrap();
    let mut uc = usecase("churn");
    uc.retention.predictions_days = Some(365);
    uc.retention.datasets_days = Some(30);
    // The fixture's dataset was registered in 1970: long expired.
    let reg = f.store.registrations(Some("churn")).unwrap().remove(0);
    let file = f.store.dataset(&reg.dataset_id).unwrap().unwrap().sha256;

    let dry = rights::run_retention(f.store.as_ref(), &[uc.clone()], true, "test").unwrap();
    assert_eq!(dry[0].predictions, 1);
    assert_eq!(dry[0].feedback, 1);
    assert_eq!(dry[0].registrations, vec![reg.dataset_id.clone()]);
    assert!(
        f.store.prediction("pr_old").unwrap().is_some(),
        "a dry run changes nothing"
    );

    let done = rights::run_retention(f.store.as_ref(), &[uc], false, "test").unwrap();
    assert_eq!(done[0].predictions, 1);
    assert_eq!(done[0].datasets_purged, vec![reg.dataset_id.clone()]);
    assert!(f.store.prediction("pr_old").unwrap().is_none());
    assert!(f.store.prediction("pr_new").unwrap().is_some());
    assert!(f.store.feedback("pr_old").unwrap().is_empty());
    assert!(f.store.registrations(Some("churn")).unwrap().is_empty());
    assert!(!f
        .dir
        .path()
        .join("snapshots")
        .join(format!("{file}.csv"))
        .exists());
    // The dataset's id stays for the lineage of the model trained on it.
    assert!(f.store.dataset(&reg.dataset_id).unwrap().is_some());
    let events = f.store.audit_events(0).unwrap();
    assert!(events.iter().any(|e| e.action == "retention.purged"));
    assert!(f.store.verify_audit_detailed().unwrap().problem.is_none());
    // Retention never touches the audit trail, and a purge of it under six months is refused.
    let rule = RetentionRule {
        usecase_id: "churn".into(),
        predictions_before_ms: Some(now_ms()),
        datasets_before_ms: None,
    };
    f.store.purge_retention(&rule, false, "test").unwrap();
    assert_eq!(f.store.audit_events(0).unwrap().len(), events.len() + 1);
    let refused = klartext_store::check_audit_purge(now_ms() - 90 * 86_400_000, now_ms())
        .unwrap_err()
        .to_string();
    assert!(refused.contains("six months"), "{refused}");
}

#[tokio::test]
async fn review_queue_round_trip_with_contest() {
    let f = fixture();
    let mut uc = usecase("churn");
    uc.significant_effect = true;
    let reviewed = common::app_state(f.store.clone(), vec![uc], ServerConfig::default());
    let f = Fixture {
        app: router(reviewed),
        ..f
    };
    let a = f
        .post("/v1/usecases/churn/predict", &predict_body("c-7"))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["decision"], "pending review");
    assert!(
        a.body["score"].is_null(),
        "no decision is answered: {}",
        a.body
    );
    let id = a.body["prediction_id"].as_str().unwrap().to_owned();

    let list = f
        .call(
            "GET",
            "/v1/reviews?status=pending",
            Some(&f.operator),
            None,
            "",
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.body["reviews"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["prediction_id"], id.as_str());
    assert!(items[0]["score"].is_number(), "the reviewer sees the score");
    assert_eq!(items[0]["origin"], "significant_effect");

    let approve = |key: String, id: String| {
        let f = &f;
        async move {
            f.call(
                "POST",
                &format!("/v1/reviews/{id}/approve"),
                Some(&key),
                Some("application/json"),
                r#"{"reason": "checked"}"#,
            )
            .await
        }
    };
    assert_eq!(approve(f.scorer.clone(), id.clone()).await.status, 403);
    let ok = approve(f.operator.clone(), id.clone()).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["status"], "approved");
    let twice = approve(f.operator.clone(), id.clone()).await;
    assert_eq!(twice.status, 409);
    assert_eq!(twice.body["error"]["code"], "review_closed");
    let unknown = approve(f.operator.clone(), "pr_nope".into()).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["error"]["code"], "unknown_review");

    // The subject contests: back in the queue.
    let no_reason = f
        .post(&format!("/v1/predictions/{id}/contest"), &json!({}))
        .await;
    assert_eq!(no_reason.status, 400);
    assert_eq!(no_reason.body["error"]["field"], "reason");
    let c = f
        .post(
            &format!("/v1/predictions/{id}/contest"),
            &json!({ "reason": "my contract changed last month" }),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.text);
    assert_eq!(c.body["status"], "pending");
    assert_eq!(c.body["origin"], "contested");
    let reject_uri = format!("/v1/reviews/{id}/reject");
    let bare = f
        .call("POST", &reject_uri, Some(&f.operator), None, "")
        .await;
    assert_eq!(bare.status, 400);
    assert_eq!(bare.body["error"]["field"], "reason");
    let r = f
        .call(
            "POST",
            &reject_uri,
            Some(&f.operator),
            Some("application/json"),
            r#"{"reason": "the contract change was not in the data"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "rejected");
    let contested_unknown = f
        .post("/v1/predictions/pr_nope/contest", &json!({ "reason": "x" }))
        .await;
    assert_eq!(contested_unknown.status, 404);

    let actions: Vec<String> = f
        .store
        .audit_events(0)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in ["review.approved", "review.contested", "review.rejected"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    assert!(f.store.verify_audit().unwrap().is_none());
}

/// Regression: a switched-off use case answered its fallback score to subjects who had
/// objected; the objection wins over the fallback.
#[tokio::test]
async fn a_switched_off_use_case_gives_no_fallback_score_to_an_objected_subject() {
    let f = fixture();
    let subject = "c-objecting-off";
    let o = f
        .post(&format!("/v1/subjects/{subject}/objection"), &json!({}))
        .await;
    assert_eq!(o.status, 201, "{}", o.text);
    f.store
        .set_switch("churn", false, "test", "incident")
        .unwrap();
    f.state.governor().refresh().unwrap();
    let a = f
        .post("/v1/usecases/churn/predict", &predict_body(subject))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["fallback"], true);
    assert_eq!(a.body["objected"], true);
    assert!(a.body["score"].is_null(), "{}", a.text);
    let other = f
        .post("/v1/usecases/churn/predict", &predict_body("c-fine"))
        .await;
    assert_eq!(other.body["fallback"], true);
    assert!(other.body["score"].is_number(), "{}", other.text);
    assert!(other.body.get("objected").is_none());
}

/// Regression: erasing a subject deleted their objection, so the same id sent again was
/// scored. The objection now outlives the erasure as a keyed hash; no id is kept.
#[tokio::test]
async fn an_objection_outlives_the_erasure_of_its_subject() {
    let f = fixture();
    let subject = "c-object-then-erase";
    let o = f
        .post(&format!("/v1/subjects/{subject}/objection"), &json!({}))
        .await;
    assert_eq!(o.status, 201, "{}", o.text);
    let uri = format!("/v1/subjects/{subject}");
    let erased = f.call("DELETE", &uri, Some(&admin(&f)), None, "").await;
    assert_eq!(erased.status, 200, "{}", erased.text);

    // Nothing names the subject any more...
    let found = rights::find(f.store.as_ref(), &usecases(), subject, None).unwrap();
    assert!(found.is_empty(), "{found:?}");
    let db = rusqlite::Connection::open(f.dir.path().join("klartext.db")).unwrap();
    let kept: Vec<String> = db
        .prepare("SELECT subject_hmac FROM suppressed_subjects")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert!(!kept[0].contains(subject) && kept[0].len() == 64);
    assert_eq!(f.store.verify_audit().unwrap(), None);

    // ...yet when the id comes back it is still not scored, here and after a reload.
    f.state.governor().refresh().unwrap();
    let again = f
        .post("/v1/usecases/churn/predict", &predict_body(subject))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["objected"], true, "{}", again.text);
    assert!(again.body["score"].is_null());
    let other = f
        .post(
            "/v1/usecases/churn/predict",
            &predict_body("c-someone-else"),
        )
        .await;
    assert!(other.body["score"].is_number(), "{}", other.text);

    // Training leaves the returning subject's rows out too.
    let frame = klartext_core::Frame {
        n_rows: 3,
        columns: vec![klartext_core::Column {
            name: "customer_id".into(),
            data: klartext_core::ColumnData::Str(klartext_core::StrColumn {
                codes: vec![0, 1, 0],
                levels: vec![subject.into(), "c-someone-else".into()],
            }),
        }],
    };
    let (kept, excluded) =
        rights::exclude_objected(f.store.as_ref(), frame, &usecase("churn")).unwrap();
    assert_eq!((kept.n_rows, excluded), (1, 2));
}

/// A subject may withdraw an objection (operators record it): scored again at once, also
/// when the objection was only kept as a keyed hash after an erasure.
#[tokio::test]
async fn an_objection_can_be_withdrawn_also_after_an_erasure() {
    let f = fixture();
    let subject = "c-object-then-withdraw";
    let uri = format!("/v1/subjects/{subject}/objection");
    assert_eq!(f.post(&uri, &json!({})).await.status, 201);
    let objected = f
        .post("/v1/usecases/churn/predict", &predict_body(subject))
        .await;
    assert_eq!(objected.body["objected"], true, "{}", objected.text);

    // A scorer key may record an objection but not withdraw one.
    let refused = f.call("DELETE", &uri, Some(&f.scorer), None, "").await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let w = f.call("DELETE", &uri, Some(&f.operator), None, "").await;
    assert_eq!(w.status, 200, "{}", w.text);
    assert_eq!(w.body["withdrawn"], true, "{}", w.text);
    let scored = f
        .post("/v1/usecases/churn/predict", &predict_body(subject))
        .await;
    assert!(scored.body["score"].is_number(), "{}", scored.text);
    assert!(scored.body.get("objected").is_none(), "{}", scored.text);
    assert!(f.store.objections().unwrap().is_empty());
    // Nothing left to withdraw: nothing changes.
    let again = f.call("DELETE", &uri, Some(&f.operator), None, "").await;
    assert_eq!(again.body["withdrawn"], false, "{}", again.text);

    // Objected, then erased: only the keyed hash remains, and the withdrawal removes it.
    let erased_subject = "c-object-erase-withdraw";
    let uri = format!("/v1/subjects/{erased_subject}/objection");
    assert_eq!(f.post(&uri, &json!({})).await.status, 201);
    let erase = format!("/v1/subjects/{erased_subject}");
    let e = f.call("DELETE", &erase, Some(&admin(&f)), None, "").await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert_eq!(f.store.suppression().unwrap().len(), 1);
    let w = f.call("DELETE", &uri, Some(&f.operator), None, "").await;
    assert_eq!(w.body["withdrawn"], true, "{}", w.text);
    assert!(f.store.suppression().unwrap().is_empty());
    let scored = f
        .post("/v1/usecases/churn/predict", &predict_body(erased_subject))
        .await;
    assert!(scored.body["score"].is_number(), "{}", scored.text);

    // Two withdrawals audited, naming no subject; the chain still verifies.
    let events = f.store.audit_events(0).unwrap();
    let withdrawals: Vec<_> = events
        .iter()
        .filter(|e| e.action == "subject.objection_withdrawn")
        .collect();
    assert_eq!(withdrawals.len(), 2);
    assert_eq!(withdrawals[1].details["kept_as_keyed_hash"], true);
    for e in &withdrawals {
        assert!(!serde_json::to_string(e).unwrap().contains("c-object"));
    }
    assert_eq!(f.store.verify_audit().unwrap(), None);
}

/// Guards the API's subject routes, which passed no pseudonymisation key: a subject
/// whose id column was pseudonymised at ingest was neither found nor erased through the
/// API (the CLI found it).
#[tokio::test]
async fn a_subject_pseudonymised_at_ingest_is_found_and_erased_through_the_api() {
    let f = fixture();
    let opts = IngestOptions {
        pseudonymise: vec!["customer_id".into()],
        key: Some(common::PSEUDONYM_KEY.to_vec()),
        ..IngestOptions::default()
    };
    let csv = "customer_id,tenure_months,contract,female,senior_citizen,churn\nc-secret,3,month-to-month,1,0,Yes\nc-other,40,two year,0,0,No\n";
    let id = register_with(&f, "pseudo.csv", csv, "churn", &opts);
    let d = f.store.dataset(&id).unwrap().unwrap();
    let stored = String::from_utf8(f.store.snapshot_bytes(&d).unwrap()).unwrap();
    assert!(
        !stored.contains("c-secret"),
        "the id is stored as its pseudonym"
    );

    let found = f
        .call("GET", "/v1/subjects/c-secret", Some(&f.operator), None, "")
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    let rows: Vec<&Value> = found.body["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["dataset_id"] == id.as_str())
        .collect();
    assert_eq!(rows.len(), 1, "{}", found.text);
    assert_eq!(rows[0]["rows"].as_array().unwrap().len(), 1);

    let (k, admin) = new_key(KeyRole::Admin, "test").unwrap();
    f.store.create_key(&k).unwrap();
    let erased = f
        .call("DELETE", "/v1/subjects/c-secret", Some(&admin), None, "")
        .await;
    assert_eq!(erased.status, 200, "{}", erased.text);
    let removed: u64 = erased.body["report"]["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rows_removed"].as_u64().unwrap())
        .sum();
    assert_eq!(removed, 1, "{}", erased.text);
    let again = f
        .call("GET", "/v1/subjects/c-secret", Some(&f.operator), None, "")
        .await;
    assert_eq!(again.body["datasets"], json!([]), "{}", again.text);
}
