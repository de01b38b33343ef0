//! Dataset identity (content hash: same bytes, same id; re-adding is not an error) and
//! crash safety of `data add` (a failpoint abort and a SIGKILL leave nothing half done).

mod common;

use common::{gzip, klartext, run, Project, SMALL_CSV};
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;

fn id_of(v: &Value) -> String {
    v["dataset_id"].as_str().expect("dataset_id").to_owned()
}

#[test]
fn adding_the_same_file_twice_is_not_an_error() {
    let p = Project::with_churn();
    let file = p.file("customers.csv", SMALL_CSV);
    let first = p.add(&file, "churn", &[]).json();
    assert_eq!(first["status"], "registered");
    let second = p.add(&file, "churn", &[]).json();
    assert_eq!(second["status"], "existing");
    assert_eq!(id_of(&first), id_of(&second));
    assert_eq!(first["rows"], second["rows"]);
    assert_eq!(p.datasets().len(), 1, "one registration");
    assert_eq!(
        p.registered_events().len(),
        1,
        "one dataset.registered event"
    );
    assert_eq!(p.snapshot_files().len(), 1, "one snapshot file");
    p.assert_audit_intact();
}

#[test]
fn the_same_bytes_under_another_name_are_the_same_dataset() {
    let p = Project::with_churn();
    let a = p.file("customers.csv", SMALL_CSV);
    let b = p.file("export_2024-06.csv", SMALL_CSV);
    let first = p.add(&a, "churn", &[]).json();
    let second = p.add(&b, "churn", &[]).json();
    assert_eq!(
        id_of(&first),
        id_of(&second),
        "identity is the content hash, not the name"
    );
    assert_eq!(first["sha256"], second["sha256"]);
    assert_eq!(second["status"], "existing");
    assert_eq!(p.datasets().len(), 1);
    assert_eq!(p.registered_events().len(), 1);
}

#[test]
fn different_bytes_are_a_different_dataset() {
    let p = Project::with_churn();
    let a = p.file("a.csv", SMALL_CSV);
    // One value changed.
    let b = p.file("b.csv", SMALL_CSV.replace("C006,38", "C006,39"));
    let first = p.add(&a, "churn", &[]).json();
    let second = p.add(&b, "churn", &[]).json();
    assert_ne!(id_of(&first), id_of(&second));
    assert_eq!(second["status"], "registered");
    assert_eq!(p.datasets().len(), 2);
    assert_eq!(p.registered_events().len(), 2);
    assert_eq!(p.snapshot_files().len(), 2);
    p.assert_audit_intact();
}

/// Identity is the hash of the bytes as given, not of the rows they decode to: the same
/// CSV gzip'd is other bytes and so another dataset (with the same rows and report).
/// This is documented behaviour, not an accident: the snapshot stores the file as given.
#[test]
fn the_same_content_gzipped_is_a_different_dataset() {
    let p = Project::with_churn();
    let plain = p.file("customers.csv", SMALL_CSV);
    let packed = p.file("customers.csv.gz", gzip(SMALL_CSV.as_bytes()));
    let first = p.add(&plain, "churn", &[]).json();
    let second = p.add(&packed, "churn", &[]).json();
    assert_ne!(id_of(&first), id_of(&second));
    assert_eq!(first["rows"], second["rows"]);
    assert_eq!(first["report"], second["report"], "same rows, same report");
    assert_eq!(p.datasets().len(), 2);
    let gz_snapshots: Vec<_> = p
        .snapshot_files()
        .into_iter()
        .filter(|f| f.to_string_lossy().ends_with(".csv.gz"))
        .collect();
    assert_eq!(gz_snapshots.len(), 1, "the gzip file is stored as given");
}

#[test]
fn the_same_file_for_a_second_use_case_keeps_its_id() {
    let p = Project::with_churn();
    p.usecase(
        "upsell",
        &common::CHURN_USECASE.replace("id = \"churn\"", "id = \"upsell\""),
    );
    let file = p.file("customers.csv", SMALL_CSV);
    let first = p.add(&file, "churn", &[]).json();
    let second = p.add(&file, "upsell", &[]).json();
    assert_eq!(id_of(&first), id_of(&second));
    assert_eq!(second["status"], "registered");
    assert_eq!(p.datasets().len(), 2, "one registration per use case");
    assert_eq!(p.registered_events().len(), 2);
    assert_eq!(p.snapshot_files().len(), 1, "the bytes are stored once");
}

#[cfg(unix)]
#[test]
fn an_abort_between_snapshot_and_registration_leaves_nothing_registered() {
    use std::os::unix::process::ExitStatusExt;
    let p = Project::with_churn();
    let file = p.file("customers.csv", SMALL_CSV);
    let crashed = common::run(
        p.cmd()
            .env("KLARTEXT_FAILPOINT", "after-snapshot")
            .args(["data", "add"])
            .arg(&file)
            .args(["--usecase", "churn", "--json"]),
    );
    assert!(!crashed.ok(), "the failpoint should abort the process");
    assert_eq!(
        crashed.output.status.code(),
        None,
        "killed by a signal, not an exit"
    );
    assert_eq!(crashed.output.status.signal(), Some(6), "SIGABRT");

    // The snapshot file may be there (written before the crash), the registration is not.
    assert_eq!(p.datasets(), Vec::<Value>::new());
    assert!(p.registered_events().is_empty());
    p.assert_audit_intact();
    assert!(
        p.temp_snapshot_files().is_empty(),
        "temporary files are swept"
    );

    // The same command without the failpoint registers it, once.
    let v = p.add(&file, "churn", &[]).json();
    assert_eq!(v["status"], "registered");
    let list = p.datasets();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["dataset_id"], v["dataset_id"]);
    assert_eq!(p.registered_events().len(), 1);
    assert_eq!(p.snapshot_files().len(), 1);
    p.assert_audit_intact();
    // And a show of it reads the snapshot's registration back.
    let id = id_of(&v);
    let shown = p.run(&["data", "show", &id, "--json"]).json();
    assert_eq!(shown["rows"], 6);
}

#[cfg(unix)]
#[test]
fn a_sigkill_during_data_add_leaves_nothing_or_everything() {
    let p = Project::new();
    p.usecase(
        "churn",
        &common::CHURN_USECASE.replace("positive = \"yes\"", "positive = \"Yes\""),
    );
    let big = p.tmp().join("big.csv");
    run(klartext()
        .args(["data", "generate", "--rows", "300000", "-o"])
        .arg(&big))
    .assert_ok();

    // Kill early (reading/parsing) and late (profiling, storing, committing).
    for delay_ms in [150u64, 900, 2500] {
        let mut child = p
            .cmd()
            .args(["data", "add"])
            .arg(&big)
            .args(["--usecase", "churn", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn data add");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL; an error means it had already finished
        let _ = child.wait().expect("reap data add");

        // The store opens, the chain verifies, list and audit agree.
        let list = p.datasets();
        let events = p.registered_events();
        p.assert_audit_intact();
        assert!(list.len() <= 1, "after kill at {delay_ms} ms: {list:?}");
        assert_eq!(
            list.len(),
            events.len(),
            "registrations and audit events agree"
        );
        if let Some(d) = list.first() {
            assert_eq!(d["rows"], 300_000, "a registered dataset is complete");
            assert_eq!(d["columns"], 17);
        }
        assert!(
            p.temp_snapshot_files().is_empty(),
            "temporary files are swept on open"
        );
    }

    // A re-run succeeds and the dataset is registered exactly once.
    let v = p.add(&big, "churn", &[]).json();
    assert!(
        v["status"] == "registered" || v["status"] == "existing",
        "{}",
        v["status"]
    );
    assert_eq!(v["rows"], 300_000);
    let list = p.datasets();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["dataset_id"], v["dataset_id"]);
    assert_eq!(p.registered_events().len(), 1);
    assert_eq!(p.snapshot_files().len(), 1);
    p.assert_audit_intact();
}
