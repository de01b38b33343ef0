//! Optional real-data tests: ingest each public file in `../shared/data` (beside the
//! workspace) and check a sensible schema. Skipped, with a message, when it is missing.

mod common;

use common::{column, profile, Project};
use serde_json::Value;
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: ../shared/data not found");
        None
    }
}

/// Ingest `file` for a use case of `kind` whose `[data]` section is `data`.
fn ingest(file: &str, kind: &str, data: &str) -> Option<Value> {
    let dir = data_dir()?;
    let path = dir.join(file);
    if !path.is_file() {
        println!("skipped: {} not found", path.display());
        return None;
    }
    let p = Project::new();
    p.usecase(
        "real",
        &format!(
            "id = \"real\"\ntitle = \"Real data\"\ngoal = \"Check ingest.\"\nkind = \"{kind}\"\n\
             owner = \"data@example.com\"\nrisk = \"minimal\"\n\n[data]\n{data}\n"
        ),
    );
    let v = p.add(&path, "real", &[]).json();
    // The registration reads back.
    let list = p.datasets();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["rows"], v["rows"]);
    Some(v)
}

fn kind(v: &Value, col: &str) -> String {
    column(v, col)["kind"].as_str().unwrap().to_owned()
}

fn role(v: &Value, col: &str) -> String {
    column(v, col)["role"].as_str().unwrap().to_owned()
}

fn min(v: &Value, col: &str) -> f64 {
    profile(v, col)["numeric"]["min"]
        .as_f64()
        .expect("numeric min")
}

fn positives(v: &Value) -> (String, u64) {
    let c = &v["report"]["target"]["classes"][0];
    (
        c["value"].as_str().unwrap().to_owned(),
        c["count"].as_u64().unwrap(),
    )
}

/// 1997-01-01T00:00:00Z in Unix seconds.
const JAN_1_1997: f64 = 852_076_800.0;

#[test]
fn mlc_churn() {
    let Some(v) = ingest(
        "mlc_churn.csv",
        "classification",
        "target = \"churn\"\npositive = \"yes\"\nexclude = [\"rownames\"]",
    ) else {
        return;
    };
    assert_eq!(
        (v["rows"].as_u64(), v["columns"].as_u64()),
        (Some(5000), Some(21))
    );
    assert_eq!(kind(&v, "churn"), "boolean");
    assert_eq!(role(&v, "churn"), "target");
    assert_eq!(positives(&v), ("yes".to_owned(), 707));
    assert_eq!(
        v["report"]["target"]["positive_rate"].as_f64(),
        Some(707.0 / 5000.0)
    );
    assert_eq!(kind(&v, "state"), "categorical");
    assert_eq!(kind(&v, "total_day_minutes"), "numeric");
    assert_eq!(kind(&v, "total_day_calls"), "integer");
    assert_eq!(kind(&v, "international_plan"), "boolean");
    assert_eq!(kind(&v, "rownames"), "id");
    assert_eq!(role(&v, "rownames"), "excluded");
    assert_eq!(v["report"]["pii"], serde_json::json!([]));
}

#[test]
fn caravan() {
    let Some(v) = ingest(
        "caravan.csv",
        "classification",
        "target = \"Purchase\"\npositive = \"Yes\"\nexclude = [\"rownames\"]",
    ) else {
        return;
    };
    assert_eq!(
        (v["rows"].as_u64(), v["columns"].as_u64()),
        (Some(5822), Some(87))
    );
    assert_eq!(role(&v, "Purchase"), "target");
    assert_eq!(positives(&v), ("Yes".to_owned(), 348));
    assert_eq!(role(&v, "rownames"), "excluded");
    assert_eq!(kind(&v, "MOSTYPE"), "integer");
}

#[test]
fn cdnow_master() {
    let Some(v) = ingest("cdnow_master.txt", "segmentation", "id = \"customer_id\"") else {
        return;
    };
    assert_eq!(
        (v["rows"].as_u64(), v["columns"].as_u64()),
        (Some(69_659), Some(4))
    );
    assert_eq!(kind(&v, "customer_id"), "id");
    // Leading zeros are kept: ids stay text.
    let top: Vec<&str> = profile(&v, "customer_id")["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["value"].as_str().unwrap())
        .collect();
    assert!(
        top.iter().any(|t| t.starts_with('0') && t.len() == 5),
        "{top:?}"
    );
    assert_eq!(kind(&v, "date"), "datetime");
    assert_eq!(min(&v, "date"), JAN_1_1997);
    assert_eq!(kind(&v, "number_of_cds"), "integer");
    assert_eq!(kind(&v, "dollar_value"), "numeric");
}

#[test]
fn ml_100k_inter() {
    let Some(v) = ingest("ml-100k.inter", "recommendation", "id = \"user_id\"") else {
        return;
    };
    assert_eq!(
        (v["rows"].as_u64(), v["columns"].as_u64()),
        (Some(100_000), Some(4))
    );
    assert_eq!(kind(&v, "user_id"), "id");
    assert_eq!(kind(&v, "item_id"), "id");
    assert_eq!(kind(&v, "rating"), "integer");
    assert_eq!(kind(&v, "timestamp"), "datetime");
    // September 1997 to April 1998.
    assert!((874_000_000.0..875_000_000.0).contains(&min(&v, "timestamp")));
}

#[test]
fn bank_calls() {
    let Some(v) = ingest("bank_calls.csv", "anomaly", "time = \"DateTime\"") else {
        return;
    };
    assert_eq!(
        (v["rows"].as_u64(), v["columns"].as_u64()),
        (Some(27_716), Some(3))
    );
    assert_eq!(kind(&v, "DateTime"), "datetime");
    assert_eq!(role(&v, "DateTime"), "time");
    assert_eq!(kind(&v, "Calls"), "integer");
    // 2003-03-03T07:00:00Z
    assert_eq!(min(&v, "DateTime"), 1_046_674_800.0);
}

#[test]
fn ecom_events_gzip() {
    let Some(v) = ingest(
        "ecom_events.csv.gz",
        "anomaly",
        "id = \"user_id\"\ntime = \"timestamp\"",
    ) else {
        return;
    };
    assert_eq!(
        (v["rows"].as_u64(), v["columns"].as_u64()),
        (Some(31_106), Some(8))
    );
    assert_eq!(kind(&v, "timestamp"), "datetime");
    assert_eq!(kind(&v, "user_id"), "id");
    assert_eq!(kind(&v, "event"), "categorical");
}

#[test]
fn mmm_simulated_weekly() {
    let Some(v) = ingest("mmm_simulated_weekly.csv", "allocation", "time = \"DATE\"") else {
        return;
    };
    assert_eq!(
        (v["rows"].as_u64(), v["columns"].as_u64()),
        (Some(208), Some(12))
    );
    assert_eq!(kind(&v, "DATE"), "datetime");
    assert_eq!(kind(&v, "revenue"), "numeric");
    // 2015-11-23
    assert_eq!(min(&v, "DATE"), 1_448_236_800.0);
}
