//! Governance in the store: aliases with history and rollback, kill switches, and the
//! audit check naming the first edited, deleted, reordered or truncated event.

use klartext_store::{
    now_ms, AliasName, AuditProblemKind, ChallengerMode, DatasetRecord, ModelRecord, Promotion,
    Registration, SqliteStore, Store, StoreError,
};

fn store_with_models(versions: &[&str]) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let d = DatasetRecord {
        id: "ds_1".into(),
        sha256: "aa".into(),
        source_name: "x.csv".into(),
        snapshot: serde_json::json!({}),
        rows: 1,
        columns: 1,
        bytes: 1,
        created_ms: 1,
        created_by: "t".into(),
    };
    let reg = Registration {
        dataset_id: "ds_1".into(),
        usecase_id: "churn".into(),
        schema: Default::default(),
        report: klartext_core::QualityReport {
            rows: 1,
            columns: vec![],
            duplicate_rows: 0,
            duplicate_ids: None,
            target: None,
            leakage_suspects: vec![],
            pii: vec![],
            protected: vec![],
            warnings: vec![],
        },
        created_ms: 1,
        created_by: "t".into(),
    };
    store.register_dataset(&d, "snapshots/x", &reg).unwrap();
    for (i, v) in versions.iter().enumerate() {
        let m = ModelRecord {
            usecase_id: "churn".into(),
            version: (*v).into(),
            sha256: format!("{v}00"),
            dataset_id: "ds_1".into(),
            learner: "gbdt".into(),
            gates_passed: true,
            report: serde_json::json!({}),
            card: String::new(),
            created_ms: 10 + i as i64,
            created_by: "t".into(),
        };
        store.register_model(&m, "models/x").unwrap();
    }
    (dir, store)
}

fn promotion(version: &str, alias: AliasName) -> Promotion {
    Promotion {
        usecase_id: "churn".into(),
        version: version.into(),
        alias,
        mode: None,
        canary_share: None,
        actor: "alice".into(),
        reason: None,
        override_gates: false,
        failed_gates: serde_json::json!([]),
    }
}

fn champion(store: &SqliteStore) -> Option<String> {
    store
        .aliases(Some("churn"))
        .unwrap()
        .into_iter()
        .find(|a| a.alias == AliasName::Champion)
        .map(|a| a.version)
}

#[test]
fn promote_rollback_and_history_with_audit_events() {
    let (_d, store) = store_with_models(&["aaa", "bbb", "ccc"]);
    let v0 = store.governance_version().unwrap();
    store
        .promote(&promotion("aaa", AliasName::Champion))
        .unwrap();
    store
        .promote(&promotion("bbb", AliasName::Champion))
        .unwrap();
    store
        .promote(&promotion("ccc", AliasName::Champion))
        .unwrap();
    assert_eq!(champion(&store).as_deref(), Some("ccc"));
    assert!(store.governance_version().unwrap() >= v0 + 3);

    let r = store.rollback("churn", "bob", Some("bad lift")).unwrap();
    assert_eq!((r.from.as_str(), r.to.as_str()), ("ccc", "bbb"));
    assert_eq!(champion(&store).as_deref(), Some("bbb"));
    let r = store.rollback("churn", "bob", None).unwrap();
    assert_eq!(r.to, "aaa");
    let err = store.rollback("churn", "bob", None).unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err}");
    assert!(err.to_string().contains("no previous champion"), "{err}");

    let events = store.audit_events(0).unwrap();
    let promoted: Vec<_> = events
        .iter()
        .filter(|e| e.action == "model.promoted")
        .collect();
    assert_eq!(promoted.len(), 3);
    assert_eq!(promoted[1].details["previous"], "aaa");
    assert_eq!(promoted[1].actor, "alice");
    let rolled: Vec<_> = events
        .iter()
        .filter(|e| e.action == "model.rolled_back")
        .collect();
    assert_eq!(rolled.len(), 2);
    assert_eq!(rolled[0].details["from"], "ccc");
    assert_eq!(rolled[0].details["reason"], "bad lift");
    assert_eq!(store.alias_history("churn").unwrap().len(), 5);
    assert_eq!(
        store.governance().unwrap().champion_ever_set,
        vec!["churn".to_string()]
    );
    assert_eq!(store.verify_audit().unwrap(), None);
}

#[test]
fn override_needs_a_reason_and_is_recorded() {
    let (_d, store) = store_with_models(&["aaa"]);
    let mut p = promotion("aaa", AliasName::Champion);
    p.override_gates = true;
    p.failed_gates = serde_json::json!([{"gate": "min_auc"}]);
    let err = store.promote(&p).unwrap_err();
    assert!(err.to_string().contains("needs a reason"), "{err}");
    p.reason = Some("   ".into());
    assert!(store.promote(&p).is_err());
    assert!(
        champion(&store).is_none(),
        "a refused promotion changes nothing"
    );
    p.reason = Some("board approved, see ticket 42".into());
    store.promote(&p).unwrap();
    let e = store.audit_events(0).unwrap().pop().unwrap();
    assert_eq!(e.action, "model.promoted");
    assert_eq!(e.details["override"], true);
    assert_eq!(e.details["failed_gates"][0]["gate"], "min_auc");
    assert_eq!(e.details["reason"], "board approved, see ticket 42");
}

#[test]
fn unknown_versions_and_bad_canary_shares_are_refused() {
    let (_d, store) = store_with_models(&["aaa", "bbb"]);
    assert!(store
        .promote(&promotion("zzz", AliasName::Champion))
        .is_err());
    let mut p = promotion("bbb", AliasName::Challenger);
    p.mode = Some(ChallengerMode::Canary);
    p.canary_share = Some(1.5);
    assert!(store.promote(&p).is_err());
    p.canary_share = Some(0.1);
    let a = store.promote(&p).unwrap();
    assert_eq!(a.canary_share, Some(0.1));
    // Promoting the challenger to champion clears it.
    store
        .promote(&promotion("bbb", AliasName::Champion))
        .unwrap();
    let aliases = store.aliases(Some("churn")).unwrap();
    assert_eq!(aliases.len(), 1);
    assert_eq!(aliases[0].alias, AliasName::Champion);
}

#[test]
fn switches_need_a_reason_bump_the_version_and_are_audited() {
    let (_d, store) = store_with_models(&[]);
    let v0 = store.governance_version().unwrap();
    assert!(store.set_switch("churn", false, "ops", "").is_err());
    assert_eq!(store.governance_version().unwrap(), v0);
    let s = store
        .set_switch("churn", false, "ops", "complaint from DPO")
        .unwrap();
    assert!(!s.on);
    assert_eq!(store.governance_version().unwrap(), v0 + 1);
    let e = store.audit_events(0).unwrap().pop().unwrap();
    assert_eq!(e.action, "usecase.switched");
    assert_eq!(e.actor, "ops");
    assert_eq!(e.details["state"], "off");
    assert_eq!(e.details["reason"], "complaint from DPO");
    store.set_switch("churn", true, "ops", "").unwrap();
    assert!(store.switches().unwrap()[0].on);
}

/// A store with `n` audit events (plus a checkpoint at the end when asked).
fn trail(n: usize, checkpoint: bool) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    for i in 0..n {
        store
            .append_audit(&klartext_store::NewAuditEvent {
                actor: "t".into(),
                action: "test.event".into(),
                subject: format!("thing/{i}"),
                details: serde_json::json!({ "i": i, "at": now_ms() }),
            })
            .unwrap();
    }
    if checkpoint {
        store.audit_checkpoint().unwrap().unwrap();
    }
    (dir, store)
}

fn raw(dir: &tempfile::TempDir) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.path().join("klartext.db")).unwrap()
}

fn problem(store: &SqliteStore) -> (i64, AuditProblemKind, String) {
    let v = store.verify_audit_detailed().unwrap();
    let p = v.problem.expect("a problem is found");
    (p.seq, p.kind, p.message)
}

#[test]
fn verify_names_an_edited_event() {
    let (dir, store) = trail(10, false);
    assert!(store.verify_audit_detailed().unwrap().problem.is_none());
    raw(&dir)
        .execute(
            "UPDATE audit_events SET details = '{\"i\":99}' WHERE seq = 4",
            [],
        )
        .unwrap();
    let (seq, kind, msg) = problem(&store);
    assert_eq!((seq, kind), (4, AuditProblemKind::Edited), "{msg}");
    assert!(msg.contains("event 4 was edited"), "{msg}");
    assert_eq!(store.verify_audit().unwrap(), Some(4));
}

#[test]
fn verify_names_a_deleted_event() {
    let (dir, store) = trail(10, false);
    raw(&dir)
        .execute("DELETE FROM audit_events WHERE seq = 6", [])
        .unwrap();
    let (seq, kind, msg) = problem(&store);
    assert_eq!((seq, kind), (6, AuditProblemKind::Deleted), "{msg}");
    assert!(msg.contains("event 6 was deleted"), "{msg}");
}

#[test]
fn verify_names_a_deleted_event_even_when_the_rest_was_renumbered() {
    let (dir, store) = trail(10, false);
    let c = raw(&dir);
    c.execute("DELETE FROM audit_events WHERE seq = 6", [])
        .unwrap();
    for s in 7..=10 {
        c.execute(
            "UPDATE audit_events SET seq = ?1 WHERE seq = ?2",
            [s - 1, s],
        )
        .unwrap();
    }
    let (seq, kind, msg) = problem(&store);
    assert_eq!(seq, 6, "{msg}");
    assert!(
        matches!(
            kind,
            AuditProblemKind::Deleted | AuditProblemKind::Reordered
        ),
        "{kind:?}: {msg}"
    );
}

#[test]
fn verify_names_reordered_events() {
    let (dir, store) = trail(10, false);
    let c = raw(&dir);
    c.execute("UPDATE audit_events SET seq = -1 WHERE seq = 3", [])
        .unwrap();
    c.execute("UPDATE audit_events SET seq = 3 WHERE seq = 4", [])
        .unwrap();
    c.execute("UPDATE audit_events SET seq = 4 WHERE seq = -1", [])
        .unwrap();
    let (seq, kind, msg) = problem(&store);
    assert_eq!((seq, kind), (3, AuditProblemKind::Reordered), "{msg}");
    assert!(msg.contains("out of order"), "{msg}");
}

#[test]
fn verify_catches_a_truncated_tail_through_the_signed_checkpoint() {
    let (dir, store) = trail(10, true);
    let v = store.verify_audit_detailed().unwrap();
    assert!(v.problem.is_none(), "{:?}", v.problem);
    assert_eq!(v.checkpoint.as_ref().unwrap().seq, 10);
    // Cutting off the newest events leaves a valid chain: only the checkpoint tells.
    raw(&dir)
        .execute("DELETE FROM audit_events WHERE seq > 7", [])
        .unwrap();
    assert_eq!(
        store.verify_audit().unwrap(),
        None,
        "the chain alone is fine"
    );
    let (seq, kind, msg) = problem(&store);
    assert_eq!((seq, kind), (8, AuditProblemKind::Truncated), "{msg}");
    assert!(msg.contains("events 8-10 were deleted"), "{msg}");
}

#[test]
fn a_forged_checkpoint_is_refused_and_the_key_is_private() {
    let (dir, store) = trail(5, true);
    let key = dir.path().join(klartext_store::KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    raw(&dir)
        .execute("UPDATE audit_checkpoints SET seq = 9", [])
        .unwrap();
    let (_, kind, msg) = problem(&store);
    assert_eq!(kind, AuditProblemKind::Checkpoint, "{msg}");
}

#[test]
fn checkpoints_are_signed_automatically() {
    let n = klartext_store::CHECKPOINT_EVERY as usize + 3;
    let (dir, store) = trail(n, false);
    let cps = store.audit_checkpoints().unwrap();
    assert_eq!(cps.len(), 1);
    assert_eq!(cps[0].seq, klartext_store::CHECKPOINT_EVERY);
    raw(&dir)
        .execute("DELETE FROM audit_events WHERE seq > 50", [])
        .unwrap();
    assert_eq!(problem(&store).1, AuditProblemKind::Truncated);
}
