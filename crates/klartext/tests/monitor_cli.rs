//! `klartext drift` and `klartext monitor` through the real binary.

mod common;

use common::{relaxed_usecase, Project};

fn trained() -> (Project, String) {
    let p = Project::new();
    p.usecase("churn", &relaxed_usecase());
    let csv = p.tmp().join("customers.csv");
    p.run(&[
        "data",
        "generate",
        "--rows",
        "2000",
        "--seed",
        "1",
        "-o",
        csv.to_str().unwrap(),
    ])
    .assert_ok();
    p.add(&csv, "churn", &[]).assert_ok();
    let v = p.run(&["train", "churn", "--json"]).json()["version"]
        .as_str()
        .unwrap()
        .to_owned();
    (p, v)
}

#[test]
fn drift_of_a_file_names_the_shifted_columns_and_writes_a_page() {
    let (p, _) = trained();
    let drifted = p.tmp().join("later.csv");
    p.run(&[
        "data",
        "generate",
        "--rows",
        "1500",
        "--seed",
        "9",
        "--drift",
        "1",
        "-o",
        drifted.to_str().unwrap(),
    ])
    .assert_ok();
    let html = p.tmp().join("drift.html");
    let j = p
        .run(&[
            "drift",
            "churn",
            "--data",
            drifted.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
            "--json",
        ])
        .json();
    let flagged: Vec<&str> = j["drift"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drifted"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for c in [
        "tenure_months",
        "monthly_charges",
        "support_calls",
        "contract",
    ] {
        assert!(flagged.contains(&c), "{c} not in {flagged:?}");
    }
    assert!(
        !flagged.contains(&"age") && !flagged.contains(&"region"),
        "{flagged:?}"
    );
    assert_eq!(j["drift"]["score"]["drifted"], true);
    assert!(
        j["alerts"].as_array().unwrap().is_empty(),
        "a file alerts no one"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("tenure_months"));

    // The same population again: nothing drifts.
    let same = p.tmp().join("same.csv");
    p.run(&[
        "data",
        "generate",
        "--rows",
        "1500",
        "--seed",
        "10",
        "-o",
        same.to_str().unwrap(),
    ])
    .assert_ok();
    let j = p
        .run(&["drift", "churn", "--data", same.to_str().unwrap(), "--json"])
        .json();
    assert_eq!(j["drift"]["drifted_features"], 0, "{}", j["findings"]);

    // Text output words the finding.
    let out = p.run(&["drift", "churn", "--data", drifted.to_str().unwrap()]);
    out.assert_ok();
    assert!(
        out.stdout.contains("tenure_months has shifted: median"),
        "{}",
        out.stdout
    );
}

#[test]
fn monitor_without_traffic_says_so_and_bad_input_is_a_clear_error() {
    let (p, v) = trained();
    let j = p.run(&["monitor", "churn", "--json"]).json();
    assert_eq!(j["model_version"], v.as_str());
    assert_eq!(j["rows"], 0);
    assert!(j["drift"].is_null());
    assert!(j["findings"]
        .to_string()
        .contains("a drift verdict needs at least 100"));
    let e = p.run(&["monitor", "nope"]).one_line_error();
    assert!(e.contains("nope"), "{e}");
    let missing = p.tmp().join("nothing.csv");
    std::fs::write(&missing, "a,b\n1,2\n").unwrap();
    let e = p
        .run(&["drift", "churn", "--data", missing.to_str().unwrap()])
        .one_line_error();
    assert!(e.contains("lacks the model's feature columns"), "{e}");
}
