//! `klartext subject find|export|erase|object`, `review`, `retention run` and the audit
//! trail's six-month floor, through the real binary.

mod common;

use common::Project;
use klartext_data::generate::EXAMPLE_USECASE;

fn relaxed() -> String {
    EXAMPLE_USECASE
        .replace("min_auc = 0.75", "min_auc = 0.5")
        .replace("max_overfit_gap = 0.05", "max_overfit_gap = 1.0")
        .replace(
            "min_demographic_parity_ratio = 0.8",
            "min_demographic_parity_ratio = 0.0",
        )
}

#[test]
fn subject_rights_through_the_cli() {
    let p = Project::new();
    p.usecase("churn", &relaxed());
    let csv = p.tmp().join("customers.csv");
    p.run(&[
        "data",
        "generate",
        "--rows",
        "800",
        "--seed",
        "3",
        "-o",
        csv.to_str().unwrap(),
    ])
    .assert_ok();
    let first = p.add(&csv, "churn", &[]).json()["dataset_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let col = lines[0]
        .split(',')
        .position(|h| h == "customer_id")
        .unwrap();
    let id = |line: &str| line.split(',').nth(col).unwrap().to_owned();
    let subject = id(lines[1]);
    let objecting = id(lines[2]);
    // Two more datasets holding the subject.
    for (name, rows) in [("a.csv", &lines[1..300]), ("b.csv", &lines[1..2])] {
        let mut body = vec![lines[0]];
        body.extend_from_slice(rows);
        body.extend_from_slice(&lines[500..700]);
        let f = p.file(name, body.join("\n") + "\n");
        p.add(&f, "churn", &[]).assert_ok();
    }

    let found = p.run(&["subject", "find", &subject, "--json"]).json();
    let hits = found["found"].as_array().unwrap();
    assert_eq!(
        hits.iter().filter(|h| h["kind"] == "dataset").count(),
        3,
        "{found:#}"
    );
    let html = p.tmp().join("subject.html");
    let e = p
        .run(&[
            "subject",
            "export",
            &subject,
            "--json",
            "--html",
            html.to_str().unwrap(),
        ])
        .json();
    assert_eq!(e["datasets"].as_array().unwrap().len(), 3);
    assert!(std::fs::read_to_string(&html).unwrap().contains(&subject));

    // An objecting subject is left out of training.
    p.run(&["subject", "object", &objecting, "--reason", "no profiling"])
        .assert_ok();
    let trained = p
        .run(&["train", "churn", "--dataset", &first, "--json"])
        .json();
    assert_eq!(trained["excluded_objected_rows"], 1, "{trained:#}");
    // Withdrawn, the subject's rows are used again; a second withdrawal changes nothing.
    let w = p.run(&["subject", "withdraw", &objecting, "--json"]).json();
    assert_eq!(w["withdrawn"], true, "{w:#}");
    let w = p.run(&["subject", "withdraw", &objecting]);
    w.assert_ok();
    assert!(w.stdout.contains("had no objection"), "{}", w.stdout);
    let trained = p
        .run(&["train", "churn", "--dataset", &first, "--json"])
        .json();
    assert_eq!(trained["excluded_objected_rows"], 0, "{trained:#}");

    let erased = p.run(&["subject", "erase", &subject, "--json"]).json();
    assert_eq!(erased["report"]["datasets"].as_array().unwrap().len(), 3);
    let after = p.run(&["subject", "find", &subject, "--json"]).json();
    assert!(after["found"].as_array().unwrap().is_empty(), "{after:#}");
    let none = p.run(&["subject", "find", &subject]);
    none.assert_ok();
    p.assert_audit_intact();
    let events = p.audit_events();
    let ev = events
        .iter()
        .find(|e| e["action"] == "subject.erased")
        .unwrap();
    assert!(!ev.to_string().contains(&subject));
    // Training still works on the rewritten snapshots.
    p.run(&["train", "churn", "--json"]).assert_ok();

    // The audit trail cannot be cut under six months.
    let refused = p.run(&["audit", "purge", "--before", "2999-01-01"]);
    assert!(!refused.ok());
    assert!(
        refused.one_line_error().contains("six months"),
        "{}",
        refused.one_line_error()
    );

    let r = p.run(&["retention", "run", "--dry-run", "--json"]).json();
    assert_eq!(r["dry_run"], true);
    let q = p.run(&["review", "list", "--json"]).json();
    assert!(q["reviews"].as_array().unwrap().is_empty());
    let bad = p.run(&["review", "reject", "pr_x"]);
    assert!(bad.one_line_error().contains("--reason"));
}
