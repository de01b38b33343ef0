//! The serving tables: API keys with their audit events, the batched prediction log and
//! feedback linked to it.

use klartext_store::{
    now_ms, ApiKey, Feedback, KeyRole, PredictionRecord, PredictionRole, SqliteStore, Store,
};

fn key(id: &str, hash: &str, role: KeyRole) -> ApiKey {
    ApiKey {
        id: id.into(),
        role,
        key_sha256: hash.into(),
        created_ms: now_ms(),
        created_by: "test".into(),
        revoked_ms: None,
    }
}

fn record(id: &str) -> PredictionRecord {
    PredictionRecord {
        prediction_id: id.into(),
        at_ms: now_ms(),
        usecase_id: "churn".into(),
        kind: Some(klartext_core::UseCaseKind::Classification),
        model_version: "abc".into(),
        subject_id: Some("c1".into()),
        input_digest: "00".into(),
        status: klartext_core::DecisionStatus::Answered,
        output: serde_json::json!({"score": 0.5}),
        latency_us: 42,
        caller: "key_1".into(),
        fallback: false,
        role: PredictionRole::Served,
        score: Some(0.5),
        features: Some(vec![1, 2, 3]),
        shadow_of: None,
        batch_id: Some("batch_1".into()),
    }
}

#[test]
fn keys_are_created_listed_and_revoked_with_audit_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), 11);
    store
        .create_key(&key("key_1", "h1", KeyRole::Scorer))
        .unwrap();
    store
        .create_key(&key("key_2", "h2", KeyRole::Admin))
        .unwrap();
    // The same secret hash twice is refused and leaves no audit event behind.
    assert!(store
        .create_key(&key("key_3", "h1", KeyRole::Admin))
        .is_err());
    assert_eq!(store.keys().unwrap().len(), 2);
    assert_eq!(
        store.key_by_hash("h2").unwrap().unwrap().role,
        KeyRole::Admin
    );
    assert!(store.key_by_hash("nope").unwrap().is_none());
    assert!(store.revoke_key("key_1", "test").unwrap());
    assert!(store.revoke_key("key_1", "test").unwrap());
    assert!(!store.revoke_key("key_9", "test").unwrap());
    assert!(store
        .key_by_hash("h1")
        .unwrap()
        .unwrap()
        .revoked_ms
        .is_some());
    let actions: Vec<String> = store
        .audit_events(0)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["key.created", "key.created", "key.revoked"]);
    assert_eq!(store.verify_audit().unwrap(), None);
}

#[test]
fn prediction_batches_commit_whole_and_feedback_links_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store
        .log_predictions(&[record("p1"), record("p2")])
        .unwrap();
    // A batch with a duplicate id fails as a whole: p3 is not written either.
    assert!(store
        .log_predictions(&[record("p3"), record("p1")])
        .is_err());
    assert!(store.prediction("p3").unwrap().is_none());
    let p = store.prediction("p2").unwrap().unwrap();
    assert_eq!(p, record_with_time("p2", p.at_ms));
    let fb = Feedback {
        prediction_id: "p1".into(),
        outcome: serde_json::json!({"churned": true}),
        typed: Some(klartext_core::Outcome::Binary { positive: true }),
        at_ms: now_ms(),
        caller: "key_1".into(),
    };
    assert!(store.add_feedback(&fb).unwrap());
    assert!(!store
        .add_feedback(&Feedback {
            prediction_id: "nope".into(),
            ..fb.clone()
        })
        .unwrap());
    assert_eq!(store.feedback("p1").unwrap(), vec![fb]);
}

fn record_with_time(id: &str, at_ms: i64) -> PredictionRecord {
    PredictionRecord {
        at_ms,
        ..record(id)
    }
}

#[test]
fn shadow_rows_keep_their_role_and_a_use_case_lists_its_predictions_and_feedback() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let shadow = PredictionRecord {
        model_version: "def".into(),
        role: PredictionRole::Shadow,
        ..record("s1")
    };
    let other = PredictionRecord {
        usecase_id: "fraud".into(),
        ..record("o1")
    };
    store
        .log_predictions(&[record("p1"), shadow.clone(), other])
        .unwrap();
    assert_eq!(store.prediction("s1").unwrap().unwrap(), shadow);
    let churn = store.predictions("churn", None).unwrap();
    assert_eq!(
        churn
            .iter()
            .map(|p| (p.prediction_id.as_str(), p.role))
            .collect::<Vec<_>>(),
        [
            ("p1", PredictionRole::Served),
            ("s1", PredictionRole::Shadow)
        ]
    );
    assert!(store
        .predictions("churn", Some(now_ms() + 60_000))
        .unwrap()
        .is_empty());
    let fb = Feedback {
        prediction_id: "p1".into(),
        outcome: serde_json::json!({"churned": true}),
        typed: Some(klartext_core::Outcome::Binary { positive: true }),
        at_ms: now_ms(),
        caller: "key_1".into(),
    };
    store.add_feedback(&fb).unwrap();
    store
        .add_feedback(&Feedback {
            prediction_id: "o1".into(),
            ..fb.clone()
        })
        .unwrap();
    assert_eq!(store.usecase_feedback("churn").unwrap(), vec![fb]);
}
