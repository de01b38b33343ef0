//! Snapshots (insta) of the data-quality report `data add` prints for a small fixed CSV
//! file: the text for people and the `--json` document.

mod common;

use common::Project;
use serde_json::Value;
use std::path::PathBuf;

/// The use case of the fixture: yes/no target, id column, one protected attribute.
const USECASE: &str = r#"id = "churn"
title = "Churn risk for subscription customers"
goal = "Find customers likely to cancel so that retention calls them first."
kind = "classification"
owner = "crm-team@example.com"
risk = "limited"

[data]
target = "churn"
positive = "yes"
id = "customer_id"
protected = ["gender"]
"#;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/churn_small.csv")
}

fn project() -> Project {
    let p = Project::new();
    p.usecase("churn", USECASE);
    p
}

/// Replace values that change from run to run (timestamps) by a placeholder.
fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if k.ends_with("_ms") || k == "at" || k == "created" {
                    *x = Value::String("[redacted]".into());
                } else {
                    redact(x);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[test]
fn the_report_for_people() {
    let p = project();
    let r = p.run(&[
        "data",
        "add",
        fixture().to_str().unwrap(),
        "--usecase",
        "churn",
    ]);
    r.assert_ok();
    insta::assert_snapshot!("data_add_report", r.stdout);
}

#[test]
fn the_json_report() {
    let p = project();
    let mut v = p.add(&fixture(), "churn", &[]).json();
    redact(&mut v);
    insta::assert_json_snapshot!("data_add_report_json", v);
}

#[test]
fn data_show_prints_the_same_report_as_data_add() {
    let p = project();
    let added = p.run(&[
        "data",
        "add",
        fixture().to_str().unwrap(),
        "--usecase",
        "churn",
    ]);
    added.assert_ok();
    let id = p.add(&fixture(), "churn", &[]).json()["dataset_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown = p.run(&["data", "show", &id]);
    shown.assert_ok();
    // Everything after the header lines (the table and findings) is the same text.
    let body = |s: &str| {
        s.split_once("\n\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    };
    assert_eq!(body(&shown.stdout), body(&added.stdout));
}

/// A numeric column with a single non-missing value has no standard deviation (NaN);
/// the stored report must still read back.
#[test]
fn a_column_with_one_value_does_not_break_data_list() {
    let p = Project::with_churn();
    let csv = "customer_id,age,bonus,churn\nC1,30,,yes\nC2,40,,no\nC3,50,7.5,no\nC4,45,,yes\n";
    let file = p.file("one_bonus.csv", csv);
    let v = p.add(&file, "churn", &[]).json();
    let list = p.datasets();
    assert_eq!(list.len(), 1);
    let id = v["dataset_id"].as_str().unwrap();
    p.run(&["data", "show", id, "--json"]).json();
}
