//! A store written before the log recorded kinds (schema 10) opens, and its rows read
//! typed: kind, status and the shadow link come from what the rows kept.

use klartext_core::{DecisionStatus, UseCaseKind};
use klartext_store::{PredictionRole, SqliteStore, Store};

/// The schema as it was at version 10, applied the way `SqliteStore::open` applied it.
const V10: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_models.sql"),
    include_str!("../migrations/0003_serving.sql"),
    include_str!("../migrations/0004_governance.sql"),
    include_str!("../migrations/0005_usecases.sql"),
    include_str!("../migrations/0006_shadow.sql"),
    include_str!("../migrations/0007_webhooks.sql"),
    include_str!("../migrations/0008_monitoring.sql"),
    include_str!("../migrations/0009_subjects.sql"),
    include_str!("../migrations/0010_suppression.sql"),
];

#[test]
fn rows_logged_before_kinds_read_typed_after_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    {
        let c = rusqlite::Connection::open(dir.path().join("klartext.db")).unwrap();
        c.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
        )
        .unwrap();
        for (i, sql) in V10.iter().enumerate() {
            c.execute_batch(sql).unwrap();
            c.execute(
                "INSERT INTO schema_migrations VALUES (?1, 0)",
                [i as i64 + 1],
            )
            .unwrap();
        }
        c.execute_batch(
            r#"
            INSERT INTO datasets (id, sha256, source_name, snapshot, blob_path, rows, columns, bytes, created_ms, created_by) VALUES ('ds_1', 'aa', 'x.csv', '{}', 'snapshots/x', 1, 1, 1, 0, 't');
            INSERT INTO models (usecase_id, version, sha256, dataset_id, learner, gates_passed, report, card, blob_path, created_ms, created_by)
                VALUES ('churn', 'v1', 'bb', 'ds_1', 'logistic', 1, '{"task":"binary_classification"}', '', 'models/x', 0, 't'),
                       ('value', 'v2', 'cc', 'ds_1', 'ridge', 1, '{"task":"regression"}', '', 'models/y', 0, 't');
            INSERT INTO predictions (prediction_id, at_ms, usecase_id, model_version, subject_id, input_digest, output, latency_us, caller, fallback, role, score) VALUES
                ('p_answered', 1, 'churn', 'v1', 'c1', 'd', '{"label":"No","reasons":[],"score":0.1}', 1, 'k', 0, 'served', 0.1),
                ('p_shadow', 1, 'churn', 'v1', 'c1', 'd', '{"label":"No","reasons":[],"score":0.2,"shadow_of":"p_answered"}', 1, 'k', 0, 'shadow', 0.2),
                ('p_fallback', 2, 'churn', 'fallback', 'c2', 'd', '{"score":0.0,"label":null,"decision":true,"fallback":true}', 1, 'k', 1, 'served', 0.0),
                ('p_objected', 3, 'churn', 'objected', 'c3', 'd', '{"score":null,"objected":true,"reasons":["x"]}', 1, 'k', 0, 'served', NULL),
                ('p_held', 4, 'churn', 'v1', 'c4', 'd', '{"label":"Yes","reasons":[],"score":0.9,"review":"pending","decision":"pending review"}', 1, 'k', 0, 'served', 0.9),
                ('p_value', 5, 'value', 'v2', 'c5', 'd', '{"label":null,"reasons":[],"score":12.5}', 1, 'k', 0, 'served', 12.5),
                ('p_nomodel', 6, 'off', 'fallback', NULL, 'd', '{"score":null}', 1, 'k', 1, 'served', NULL);
            INSERT INTO feedback (prediction_id, outcome, at_ms, caller) VALUES ('p_answered', '{"churn":"Yes"}', 7, 'k');
            "#,
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let p = |id: &str| store.prediction(id).unwrap().unwrap();
    let cases = [
        (
            "p_answered",
            Some(UseCaseKind::Classification),
            DecisionStatus::Answered,
        ),
        (
            "p_shadow",
            Some(UseCaseKind::Classification),
            DecisionStatus::Answered,
        ),
        (
            "p_fallback",
            Some(UseCaseKind::Classification),
            DecisionStatus::Fallback,
        ),
        (
            "p_objected",
            Some(UseCaseKind::Classification),
            DecisionStatus::Objected,
        ),
        (
            "p_held",
            Some(UseCaseKind::Classification),
            DecisionStatus::HeldForReview,
        ),
        (
            "p_value",
            Some(UseCaseKind::Regression),
            DecisionStatus::Answered,
        ),
        ("p_nomodel", None, DecisionStatus::Fallback),
    ];
    for (id, kind, status) in cases {
        let r = p(id);
        assert_eq!((r.kind, r.status), (kind, status), "{id}");
        assert_eq!(r.batch_id, None);
    }
    let shadow = p("p_shadow");
    assert_eq!(shadow.role, PredictionRole::Shadow);
    assert_eq!(shadow.shadow_of.as_deref(), Some("p_answered"));
    assert_eq!(p("p_answered").shadow_of, None);
    let fb = store.feedback("p_answered").unwrap();
    assert_eq!(fb.len(), 1);
    assert_eq!(fb[0].typed, None, "read by its kind, not by the store");
}
