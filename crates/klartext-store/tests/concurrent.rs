//! Several processes on one store: each opens its own `SqliteStore` on the same folder
//! (as two `klartext data add`, or `train` beside `serve`, do).

use klartext_store::{DatasetRecord, ModelRecord, Registration, SqliteStore, Store};
use std::sync::{Arc, Barrier};

fn dataset(i: usize) -> (DatasetRecord, Registration) {
    let id = format!("ds_{i:04}");
    (
        DatasetRecord {
            id: id.clone(),
            sha256: format!("{i:064x}"),
            source_name: "x.csv".into(),
            snapshot: serde_json::json!({}),
            rows: 1,
            columns: 1,
            bytes: 1,
            created_ms: 1,
            created_by: "t".into(),
        },
        Registration {
            dataset_id: id,
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
        },
    )
}

/// Guards registrations that read, then wrote, in a deferred transaction: with another
/// writer committing in between, SQLite refuses the upgrade to a write (`SQLITE_BUSY`)
/// at once, whatever the busy timeout. Every writer now takes its lock up front.
#[test]
fn registrations_from_several_stores_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    const STORES: usize = 4;
    const EACH: usize = 40;
    let start = Arc::new(Barrier::new(STORES));
    let handles: Vec<_> = (0..STORES)
        .map(|s| {
            let path = dir.path().to_owned();
            let start = start.clone();
            std::thread::spawn(move || {
                let store = SqliteStore::open(&path).unwrap();
                start.wait();
                for k in 0..EACH {
                    let i = s * EACH + k;
                    let (d, reg) = dataset(i);
                    store
                        .register_dataset(&d, "snapshots/x", &reg)
                        .unwrap_or_else(|e| panic!("dataset {i}: {e}"));
                    let m = ModelRecord {
                        usecase_id: "churn".into(),
                        version: format!("v{i:011}"),
                        sha256: format!("{i:064x}"),
                        dataset_id: d.id.clone(),
                        learner: "ridge".into(),
                        gates_passed: true,
                        report: serde_json::json!({}),
                        card: String::new(),
                        created_ms: i as i64,
                        created_by: "t".into(),
                    };
                    store
                        .register_model(&m, "models/x")
                        .unwrap_or_else(|e| panic!("model {i}: {e}"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("no registration failed");
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(
        store.registrations(Some("churn")).unwrap().len(),
        STORES * EACH
    );
    assert_eq!(store.models("churn").unwrap().len(), STORES * EACH);
    assert!(store.verify_audit().unwrap().is_none());
}

/// Two processes opening a new store at once apply each migration once.
#[test]
fn opening_one_new_store_from_several_processes_at_once_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    let start = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let path = dir.path().to_owned();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                SqliteStore::open(&path).map(|s| s.schema_version().unwrap())
            })
        })
        .collect();
    let versions: Vec<i64> = handles
        .into_iter()
        .map(|h| h.join().unwrap().expect("opens"))
        .collect();
    assert!(versions.windows(2).all(|w| w[0] == w[1]), "{versions:?}");
}
