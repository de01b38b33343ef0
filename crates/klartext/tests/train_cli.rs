//! `klartext train`, `models list|show` and `card` through the real binary.

mod common;

use common::Project;
use klartext_data::generate::EXAMPLE_USECASE;
use serde_json::Value;

/// A project with the example `churn` use case and generated data registered for it;
/// returns the project and the dataset id.
fn project_with_data(rows: usize) -> (Project, String) {
    let p = Project::new();
    p.usecase("churn", EXAMPLE_USECASE);
    let csv = p.tmp().join("customers.csv");
    let rows = rows.to_string();
    p.run(&[
        "data",
        "generate",
        "--rows",
        &rows,
        "--seed",
        "1",
        "-o",
        csv.to_str().unwrap(),
    ])
    .assert_ok();
    let added = p.add(&csv, "churn", &[]).json();
    let id = added["dataset_id"].as_str().expect("dataset_id").to_owned();
    (p, id)
}

fn model_trained_events(p: &Project) -> Vec<Value> {
    p.audit_events()
        .into_iter()
        .filter(|e| e["action"] == "model.trained")
        .collect()
}

#[test]
fn train_registers_one_reproducible_version() {
    let (p, dataset) = project_with_data(3000);

    let first = p.run(&["train", "churn", "--json"]).json();
    let version = first["version"].as_str().expect("version").to_owned();
    assert_eq!(version.len(), 12, "{first}");
    assert!(version.chars().all(|c| c.is_ascii_hexdigit()), "{version}");
    assert_eq!(first["status"], "registered", "{first}");
    assert_eq!(first["usecase"], "churn");
    assert_eq!(first["dataset_id"], dataset.as_str());
    let auc = first["metrics"]["auc"].as_f64().expect("metrics.auc");
    assert!(auc > 0.6 && auc < 0.95, "held-out AUC {auc}");
    assert!(
        first["metrics"].get("rmse").is_none(),
        "{}",
        first["metrics"]
    );
    assert!(first["sha256"].as_str().unwrap().starts_with(&version));
    assert!(
        first["gates"].as_array().is_some_and(|g| g.len() == 3),
        "{}",
        first["gates"]
    );
    assert!(first["gates_passed"].is_boolean());
    assert_eq!(model_trained_events(&p).len(), 1);

    // Same data, same seed: the same version, registered once.
    let second = p
        .run(&["train", "churn", "--dataset", &dataset, "--json"])
        .json();
    assert_eq!(second["version"], version.as_str());
    assert_eq!(second["status"], "existing", "{second}");
    assert_eq!(second["sha256"], first["sha256"]);
    assert_eq!(
        model_trained_events(&p).len(),
        1,
        "{:?}",
        model_trained_events(&p)
    );

    let list = p.run(&["models", "list", "churn", "--json"]).json();
    let list = list.as_array().expect("models list is an array");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["version"], version.as_str());
    assert_eq!(list[0]["dataset_id"], dataset.as_str());
    assert_eq!(list[0]["metrics"]["auc"].as_f64(), Some(auc));

    // A unique prefix finds the version.
    let show = p
        .run(&[
            "models",
            "show",
            &format!("churn@{}", &version[..6]),
            "--json",
        ])
        .json();
    assert_eq!(show["version"], version.as_str());
    assert_eq!(show["report"]["metrics"]["auc"].as_f64(), Some(auc));
    assert_eq!(show["report"]["dataset_id"], dataset.as_str());
    let text = p.run(&["models", "show", &format!("churn@{version}")]);
    text.assert_ok();
    assert!(text.stdout.contains(&version), "{}", text.stdout);

    let card = p.run(&["card", &format!("churn@{version}")]);
    card.assert_ok();
    assert!(card.stdout.starts_with("# Model card"), "{}", card.stdout);
    assert!(card.stdout.contains(&version), "{}", card.stdout);
    assert!(card
        .stdout
        .contains("Churn risk for subscription customers"));

    // A version that does not exist, and a malformed target.
    let err = p
        .run(&["models", "show", "churn@ffffffffffff"])
        .one_line_error();
    assert!(err.contains("ffffffffffff"), "{err}");
    let err = p.run(&["card", "churn"]).one_line_error();
    assert!(err.contains("USECASE@VERSION"), "{err}");

    // Another seed is another version.
    let other = p.run(&["train", "churn", "--seed", "7", "--json"]).json();
    assert_ne!(other["version"], version.as_str());
    assert_eq!(other["status"], "registered");
    assert_eq!(model_trained_events(&p).len(), 2);
    let list = p.run(&["models", "list", "churn", "--json"]).json();
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");

    p.assert_audit_intact();
}

#[test]
fn train_without_a_dataset_suggests_data_add() {
    let p = Project::new();
    p.usecase("churn", EXAMPLE_USECASE);
    let err = p.run(&["train", "churn"]).one_line_error();
    assert!(err.contains("data add"), "{err}");
    assert!(err.contains("churn"), "{err}");
    assert!(model_trained_events(&p).is_empty());
    let list = p.run(&["models", "list", "churn", "--json"]).json();
    assert_eq!(list, Value::Array(Vec::new()));
    p.assert_audit_intact();
}

#[test]
fn train_with_an_unknown_dataset_is_an_error() {
    let p = Project::new();
    p.usecase("churn", EXAMPLE_USECASE);
    let err = p
        .run(&[
            "train",
            "churn",
            "--dataset",
            "ds_0000000000000000",
            "--json",
        ])
        .one_line_error();
    assert!(err.contains("ds_0000000000000000"), "{err}");
    let err = p.run(&["train", "nosuch"]).one_line_error();
    assert!(err.contains("nosuch"), "{err}");
    assert!(model_trained_events(&p).is_empty());
    p.assert_audit_intact();
}

#[test]
fn train_of_a_segmentation_use_case_is_a_clear_error() {
    let p = Project::new();
    let seg = EXAMPLE_USECASE
        .replace("id = \"churn\"", "id = \"segments\"")
        .replace("kind = \"classification\"", "kind = \"segmentation\"")
        .replace("positive = \"Yes\"\n", "")
        .replace("min_auc = 0.75\n", "");
    p.usecase("segments", &seg);
    let csv = p.tmp().join("customers.csv");
    p.run(&[
        "data",
        "generate",
        "--rows",
        "200",
        "-o",
        csv.to_str().unwrap(),
    ])
    .assert_ok();
    p.add(&csv, "segments", &[]).assert_ok();
    let err = p.run(&["train", "segments"]).one_line_error();
    assert!(err.contains("segmentation"), "{err}");
    assert!(model_trained_events(&p).is_empty());
}
