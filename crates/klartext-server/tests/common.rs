//! A served project for the router tests: churn data generated, registered and trained
//! once per test binary, then copied into a fresh store for each test.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use klartext_core::UseCase;
use klartext_data::generate::{generate, GenerateParams, EXAMPLE_USECASE};
use klartext_data::ingest::{ingest, IngestOptions};
use klartext_server::{new_key, router, AppState, ServerConfig};
use klartext_store::{DatasetRecord, KeyRole, ModelRecord, Registration, SqliteStore, Store};
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

/// The example use case with gates a 1,500-row model passes for sure: these tests are
/// about serving, not about model quality.
pub fn usecase(id: &str) -> UseCase {
    let text = EXAMPLE_USECASE
        .replace("id = \"churn\"", &format!("id = \"{id}\""))
        .replace("min_auc = 0.75", "min_auc = 0.5")
        .replace("max_overfit_gap = 0.05", "max_overfit_gap = 1.0")
        .replace(
            "min_demographic_parity_ratio = 0.8",
            "min_demographic_parity_ratio = 0.0",
        );
    klartext_kinds::usecase::load("test.toml", &text, Some(id))
        .expect("the example use case parses")
}

/// A server's state over `store` serving `usecases`, as `klartext serve` makes it.
pub fn app_state(
    store: Arc<SqliteStore>,
    usecases: Vec<UseCase>,
    config: ServerConfig,
) -> AppState {
    let gov = klartext_govern::Governor::open(
        store,
        usecases,
        klartext_govern::Options {
            serve: true,
            pseudonym_key: Some(PSEUDONYM_KEY.to_vec()),
        },
    )
    .expect("the governor opens");
    AppState::new(gov, config)
}

/// The project key the fixture's servers pseudonymise with.
pub const PSEUDONYM_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

struct Trained {
    dataset: DatasetRecord,
    registration: Registration,
    snapshot: Vec<u8>,
    extension: String,
    model: ModelRecord,
    artifact: Vec<u8>,
    reference: String,
}

fn trained() -> &'static Trained {
    static T: OnceLock<Trained> = OnceLock::new();
    T.get_or_init(|| {
        let uc = usecase("churn");
        let g = generate(&GenerateParams {
            rows: 1500,
            seed: 7,
            ..GenerateParams::default()
        });
        let mut csv = Vec::new();
        klartext_data::write::write_csv(&g.frame, Some(&g.schema), &mut csv).unwrap();
        let ing = ingest(
            "churn.csv",
            &csv,
            Some(&uc),
            &IngestOptions::default(),
            None,
        )
        .unwrap();
        let dataset_id = ing.snapshot.dataset_id();
        let dataset = DatasetRecord {
            id: dataset_id.clone(),
            sha256: ing.snapshot.sha256.clone(),
            source_name: "churn.csv".into(),
            snapshot: serde_json::to_value(&ing.snapshot).unwrap(),
            rows: ing.frame.n_rows as u64,
            columns: ing.frame.n_cols() as u64,
            bytes: ing.snapshot_bytes.len() as u64,
            created_ms: 1,
            created_by: "test".into(),
        };
        let registration = Registration {
            dataset_id: dataset_id.clone(),
            usecase_id: "churn".into(),
            schema: ing.schema.clone(),
            report: ing.report.clone(),
            created_ms: 1,
            created_by: "test".into(),
        };
        let t = klartext_kinds::supervised::train::train(
            &ing.frame,
            &ing.schema,
            &uc,
            &dataset_id,
            Some(&ing.report),
            &klartext_kinds::TrainOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        assert!(t.report.gates_passed, "the relaxed gates pass");
        let model = ModelRecord {
            usecase_id: "churn".into(),
            version: t.version.clone(),
            sha256: t.sha256.clone(),
            dataset_id,
            learner: t.report.learner.clone(),
            gates_passed: true,
            report: serde_json::to_value(&t.report).unwrap(),
            card: String::new(),
            created_ms: 2,
            created_by: "test".into(),
        };
        Trained {
            dataset,
            registration,
            snapshot: ing.snapshot_bytes.into_owned(),
            extension: ing.snapshot.extension.clone(),
            model,
            artifact: t.bytes,
            reference: t.reference.to_json(),
        }
    })
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub state: AppState,
    pub app: axum::Router,
    pub version: String,
    pub scorer: String,
    pub operator: String,
}

/// A fresh store holding the trained churn model, a use case `nomodel` without one, and
/// a scorer and an operator key.
pub fn fixture_with(config: ServerConfig) -> Fixture {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let blob = store
        .put_snapshot(&t.dataset.sha256, &t.extension, &t.snapshot)
        .unwrap();
    store
        .register_dataset(&t.dataset, &blob, &t.registration)
        .unwrap();
    let blob = store.put_artifact(&t.model.sha256, &t.artifact).unwrap();
    store.register_model(&t.model, &blob).unwrap();
    assert!(store
        .set_model_reference("churn", &t.model.version, &t.reference)
        .unwrap());
    let key = |role| {
        let (k, secret) = new_key(role, "test").unwrap();
        store.create_key(&k).unwrap();
        secret
    };
    let scorer = key(KeyRole::Scorer);
    let operator = key(KeyRole::Operator);
    let state = app_state(
        store.clone(),
        vec![usecase("churn"), usecase("nomodel")],
        config,
    );
    Fixture {
        app: router(state.clone()),
        dir,
        store,
        state,
        version: t.model.version.clone(),
        scorer,
        operator,
    }
}

pub fn fixture() -> Fixture {
    fixture_with(ServerConfig::default())
}

/// A response as status, content type and body (JSON when it parses, else a string).
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
    pub text: String,
}

impl Fixture {
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        key: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        if let Some(c) = content_type {
            req = req.header("content-type", c);
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Answer {
            status,
            content_type,
            body,
            text,
        }
    }

    /// POST JSON with the scorer key.
    pub async fn post(&self, uri: &str, body: &Value) -> Answer {
        self.call(
            "POST",
            uri,
            Some(&self.scorer.clone()),
            Some("application/json"),
            body.to_string(),
        )
        .await
    }
}

/// A valid request for the churn model.
pub fn request() -> Value {
    serde_json::json!({
        "subject_id": "c-1",
        "features": {
            "tenure_months": 3,
            "contract": "month-to-month",
            "monthly_charges": 80.5,
            "support_calls": 4,
            "payment_method": "invoice"
        }
    })
}
