//! PRODUCT.md's command-line basics: `init`, `--project`, finding the project from the
//! current folder, `data add --json` answering one JSON document, exit codes.

mod common;

use common::{klartext, run, Project, CHURN_USECASE, SMALL_CSV};
use serde_json::Value;

#[test]
fn init_creates_a_project_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let r = run(klartext().arg("init").arg(&dir));
    r.assert_ok();
    assert!(dir.join("klartext.toml").is_file(), "no klartext.toml");
    assert!(dir.join("usecases").is_dir(), "no usecases/");
    assert!(dir.join("store").is_dir(), "no store/");
    assert!(
        r.stderr.trim().is_empty(),
        "init wrote to stderr: {}",
        r.stderr
    );

    // A second init of the same folder is refused, with one line naming the folder.
    let again = run(klartext().arg("init").arg(&dir));
    let err = again.one_line_error();
    assert!(err.contains("already a klartext project"), "{err}");
}

#[test]
fn data_add_json_is_one_document_with_id_rows_columns() {
    let p = Project::with_churn();
    let file = p.file("customers.csv", SMALL_CSV);
    let r = p.add(&file, "churn", &[]);
    let v = r.json();
    let id = v["dataset_id"].as_str().expect("dataset_id is a string");
    assert!(id.starts_with("ds_"), "{id}");
    assert_eq!(v["rows"], 6);
    assert_eq!(v["columns"], 4);
    assert_eq!(v["status"], "registered");
    assert_eq!(v["usecase"], "churn");
    assert!(
        r.stderr.trim().is_empty(),
        "data add --json wrote to stderr: {}",
        r.stderr
    );

    let list = p.datasets();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["dataset_id"], id);
    assert_eq!(list[0]["rows"], 6);
    assert_eq!(list[0]["source"], "customers.csv");

    let events = p.registered_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["details"]["dataset_id"], id);
    assert_eq!(events[0]["subject"], "usecase/churn");
    let actor = events[0]["actor"].as_str().unwrap();
    assert!(
        actor.starts_with("cli:") && actor.ends_with(" (test)"),
        "{actor}"
    );
    p.assert_audit_intact();
}

/// Guards the actor recorded as `cli:unknown` when `$USER` was unset, and
/// `KLARTEXT_ACTOR` taken in place of the user: the user comes from the system, the
/// variable is a label beside it.
#[test]
fn the_actor_is_the_system_user_with_the_label_beside_it() {
    let p = Project::with_churn();
    let file = p.file("customers.csv", SMALL_CSV);
    let r = common::run(
        p.cmd()
            .env_remove("USER")
            .env_remove("KLARTEXT_ACTOR")
            .args(["data", "add"])
            .arg(&file)
            .args(["--usecase", "churn", "--json"]),
    );
    r.assert_ok();
    let actor = p.registered_events()[0]["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        actor.starts_with("cli:") && actor != "cli:unknown",
        "{actor}"
    );
    assert!(!actor.contains('('), "no label was given: {actor}");
}

#[test]
fn data_add_without_json_prints_a_report_for_people() {
    let p = Project::with_churn();
    let file = p.file("customers.csv", SMALL_CSV);
    let r = p.run(&["data", "add", file.to_str().unwrap(), "--usecase", "churn"]);
    r.assert_ok();
    assert!(
        r.stdout.contains("for use case `churn`: registered"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("6 rows x 4 columns"), "{}", r.stdout);
    assert!(
        serde_json::from_str::<Value>(&r.stdout).is_err(),
        "plain output should not be JSON"
    );
}

#[test]
fn the_project_is_found_from_the_current_folder_and_its_subfolders() {
    let p = Project::with_churn();
    let file = p.file("customers.csv", SMALL_CSV);
    // From the project root, no --project.
    let added = run(klartext()
        .current_dir(&p.root)
        .args(["data", "add"])
        .arg(&file)
        .args(["--usecase", "churn", "--json"]))
    .json();
    // From a subfolder of the project.
    let listed = run(klartext()
        .current_dir(p.root.join("usecases"))
        .args(["data", "list", "--json"]))
    .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["dataset_id"], added["dataset_id"]);
    // And the same project by --project from elsewhere.
    assert_eq!(p.datasets()[0]["dataset_id"], added["dataset_id"]);
}

#[test]
fn the_project_can_be_named_by_environment_variable() {
    let p = Project::with_churn();
    let r = run(klartext()
        .current_dir(p.tmp())
        .env("KLARTEXT_PROJECT", &p.root)
        .args(["usecase", "list", "--json"]));
    let v = r.json();
    assert_eq!(v[0]["id"], "churn");
}

#[test]
fn outside_a_project_commands_fail_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(klartext()
        .current_dir(tmp.path())
        .args(["data", "list", "--json"]));
    let err = r.one_line_error();
    assert!(err.contains("no klartext project"), "{err}");
    assert!(
        r.stdout.is_empty(),
        "nothing on stdout on failure: {}",
        r.stdout
    );

    // --project pointing at a folder that is not a project names it.
    let r = run(klartext()
        .arg("--project")
        .arg(tmp.path())
        .args(["data", "list"]));
    let err = r.one_line_error();
    assert!(err.contains("is not a klartext project"), "{err}");
}

#[test]
fn usecase_check_accepts_the_product_md_example() {
    let p = Project::new();
    // The use-case file users' scripts write, as the docs show it: it must always load.
    let doc = include_str!("../../../docs/usecase.md");
    let start = doc.find("```toml\n").expect("the page has a TOML example") + 8;
    let product_example = &doc[start..start + doc[start..].find("```").unwrap()];
    p.usecase("churn", product_example);
    let v = p.run(&["usecase", "check", "--json"]).json();
    assert_eq!(v["checked"], 1);
    assert_eq!(v["ok"], 1);
    assert_eq!(v["errors"], serde_json::json!([]));
}

#[test]
fn generated_data_registers_with_the_product_md_use_case() {
    let p = Project::new();
    p.usecase(
        "churn",
        &CHURN_USECASE.replace("positive = \"yes\"", "positive = \"Yes\""),
    );
    let out = p.tmp().join("gen.csv");
    run(klartext()
        .args(["data", "generate", "--rows", "500", "-o"])
        .arg(&out))
    .assert_ok();
    let v = p.add(&out, "churn", &[]).json();
    assert_eq!(v["rows"], 500);
    assert_eq!(common::column(&v, "churn")["role"], "target");
    assert_eq!(common::column(&v, "customer_id")["kind"], "id");
}
