//! `klartext score` through the real binary: offline scoring is a decision like any
//! other, made through the governance layer and logged with a batch id.

mod common;

use common::{two_versions, Project};
use klartext_core::DecisionStatus;
use klartext_store::{SqliteStore, Store};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The first `n` rows of the project's customers file, as a file to score.
fn rows(p: &Project, n: usize) -> PathBuf {
    let all = std::fs::read_to_string(p.tmp().join("customers.csv")).unwrap();
    let part: String = all.lines().take(n + 1).map(|l| format!("{l}\n")).collect();
    p.file("to_score.csv", part)
}

fn score(p: &Project, input: &Path, out: &str) -> (Value, Vec<csv::StringRecord>) {
    let out = p.tmp().join(out);
    let s = p
        .run(&[
            "score",
            "churn",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--json",
        ])
        .json();
    let mut r = csv::Reader::from_path(&out).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["customer_id", "score", "label", "reasons", "prediction_id"]
    );
    (s, r.records().map(Result::unwrap).collect())
}

/// Guards offline scoring that skipped governance: it scored with the newest version
/// whose gates passed even after a rollback, ignored the kill switch and objections,
/// and logged nothing.
#[test]
fn offline_scoring_follows_the_champion_the_switch_and_objections_and_is_logged() {
    let (p, a, b) = two_versions();
    p.run(&["promote", &format!("churn@{a}")]).assert_ok();
    p.run(&["promote", &format!("churn@{b}")]).assert_ok();
    p.run(&["rollback", "churn"]).assert_ok();
    let input = rows(&p, 40);

    let (s, out) = score(&p, &input, "one.csv");
    assert_eq!(
        s["model_version"],
        a.as_str(),
        "the champion after the rollback: {s}"
    );
    assert_eq!(s["rows"], 40);
    assert_eq!(s["statuses"]["answered"], 40);
    let batch = s["batch_id"].as_str().unwrap().to_owned();
    let store = SqliteStore::open(&p.root.join("store")).unwrap();
    let logged: Vec<_> = store
        .predictions("churn", None)
        .unwrap()
        .into_iter()
        .filter(|r| r.batch_id.as_deref() == Some(batch.as_str()))
        .collect();
    assert_eq!(logged.len(), 40, "every scored row is in the log");
    assert!(logged
        .iter()
        .all(|r| r.model_version == a && r.status == DecisionStatus::Answered));
    for row in &out {
        let id = &row[4];
        let r = logged
            .iter()
            .find(|r| r.prediction_id == id)
            .expect("the row's id is logged");
        assert_eq!(r.subject_id.as_deref(), Some(&row[0]));
        assert_eq!(r.score, row[1].parse::<f64>().ok());
    }

    // An objection: no score for that subject, logged as such.
    let subject = out[0][0].to_owned();
    p.run(&["subject", "object", &subject]).assert_ok();
    let (s, out) = score(&p, &input, "two.csv");
    assert_eq!(s["statuses"]["objected"], 1, "{s}");
    assert_eq!(&out[0][1], "");
    assert!(out[0][3].contains("objected"), "{:?}", out[0]);
    assert!(out[1][1].parse::<f64>().is_ok());

    // Switched off: every row gets the fallback.
    p.run(&["switch", "off", "churn", "--reason", "audit"])
        .assert_ok();
    let (s, out) = score(&p, &input, "three.csv");
    assert_eq!(s["statuses"]["fallback"], 39, "{s}");
    assert!(out
        .iter()
        .skip(1)
        .all(|r| &r[1] == "0" && r[3].contains("switched off")));
}

/// A bad row refuses the run: no output file is left, and nothing of its block is logged.
#[test]
fn a_bad_row_leaves_no_output_and_logs_nothing_of_its_block() {
    let (p, a, _) = two_versions();
    p.run(&["promote", &format!("churn@{a}")]).assert_ok();
    let mut text = std::fs::read_to_string(rows(&p, 5)).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "tenure_months").unwrap();
    let bad: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut cells: Vec<&str> = l.split(',').collect();
            if i == 3 {
                cells[col] = "many";
            }
            cells.join(",")
        })
        .collect();
    text = bad.join("\n") + "\n";
    let input = p.file("bad.csv", text);
    let out = p.tmp().join("bad_out.csv");
    let err = p
        .run(&[
            "score",
            "churn",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ])
        .one_line_error();
    assert!(
        err.contains("row 3") && err.contains("tenure_months"),
        "{err}"
    );
    assert!(!out.exists());
    assert!(std::fs::read_dir(p.tmp()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".partial")));
    let store = SqliteStore::open(&p.root.join("store")).unwrap();
    assert!(store.predictions("churn", None).unwrap().is_empty());
}
