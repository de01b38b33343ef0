//! Model versions trained before kinds had a module each, in a store as that build left
//! them, serve unchanged: every recorded answer of that build's server comes back the
//! same, field for field (`crates/klartext-kinds/tests/fixtures/main-v1/README.md` says
//! how the files were made).

mod common;

use klartext_server::{new_key, router, ServerConfig};
use klartext_store::{DatasetRecord, KeyRole, ModelRecord, SqliteStore, Store};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../klartext-kinds/tests/fixtures/main-v1")
        .join(name)
}

#[tokio::test]
async fn versions_trained_by_the_earlier_build_serve_its_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let models: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("models.json")).unwrap()).unwrap();
    let mut usecases = Vec::new();
    for (id, m) in models.as_object().unwrap() {
        let artifact = std::fs::read(fixture(&format!(
            "{id}-{}.ktm",
            m["version"].as_str().unwrap()
        )))
        .unwrap();
        let dataset = DatasetRecord {
            id: m["dataset_id"].as_str().unwrap().into(),
            sha256: format!("{id:0>64}"),
            source_name: "churn.csv".into(),
            snapshot: serde_json::json!({}),
            rows: 1,
            columns: 1,
            bytes: 1,
            created_ms: 1,
            created_by: "fixture".into(),
        };
        if store.dataset(&dataset.id).unwrap().is_none() {
            let reg = klartext_store::Registration {
                dataset_id: dataset.id.clone(),
                usecase_id: id.clone(),
                schema: Default::default(),
                report: serde_json::from_value(serde_json::json!({
                    "rows": 1, "columns": [], "duplicate_rows": 0, "duplicate_ids": null,
                    "target": null, "leakage_suspects": [], "pii": [], "protected": [], "warnings": []
                }))
                .unwrap(),
                created_ms: 1,
                created_by: "fixture".into(),
            };
            store
                .register_dataset(&dataset, "snapshots/none", &reg)
                .unwrap();
        }
        let record = ModelRecord {
            usecase_id: id.clone(),
            version: m["version"].as_str().unwrap().into(),
            sha256: m["sha256"].as_str().unwrap().into(),
            dataset_id: dataset.id.clone(),
            learner: m["learner"].as_str().unwrap().into(),
            gates_passed: m["gates_passed"] == 1,
            report: m["report"].clone(),
            card: m["card"].as_str().unwrap().into(),
            created_ms: m["created_ms"].as_i64().unwrap(),
            created_by: m["created_by"].as_str().unwrap().into(),
        };
        let blob = store.put_artifact(&record.sha256, &artifact).unwrap();
        store.register_model(&record, &blob).unwrap();
        let text = std::fs::read_to_string(fixture(&format!("{id}.toml"))).unwrap();
        usecases
            .push(klartext_kinds::usecase::load(&format!("{id}.toml"), &text, Some(id)).unwrap());
    }
    let (key, secret) = new_key(KeyRole::Scorer, "fixture").unwrap();
    store.create_key(&key).unwrap();
    let state = common::app_state(store.clone(), usecases, ServerConfig::default());
    let app = router(state);

    let recorded = std::fs::read_to_string(fixture("answers.ndjson")).unwrap();
    let mut checked = 0;
    for line in recorded.lines() {
        let rec: Value = serde_json::from_str(line).unwrap();
        let id = rec["usecase"].as_str().unwrap();
        let req = axum::http::Request::builder()
            .method("POST")
            .uri(format!("/v1/usecases/{id}/predict"))
            .header("authorization", format!("Bearer {secret}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(rec["request"].to_string()))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let mut got: Value = serde_json::from_slice(&bytes).unwrap();
        let pid = got
            .as_object_mut()
            .unwrap()
            .remove("prediction_id")
            .expect("an id");
        assert_eq!(got, rec["answer"], "{id} {}", rec["request"]["subject_id"]);
        let logged = store.prediction(pid.as_str().unwrap()).unwrap().unwrap();
        assert_eq!(
            logged.model_version,
            rec["answer"]["model_version"].as_str().unwrap()
        );
        checked += 1;
    }
    assert_eq!(checked, 30);
}
