//! `klartext export docs USECASE@VERSION` through the real binary.

mod common;

use common::Project;
use klartext_data::generate::EXAMPLE_USECASE;

const SECTIONS: [&str; 8] = [
    "1. General description and intended purpose",
    "2. Data",
    "3. Model and validation procedure",
    "4. Results and fairness",
    "5. Limits and foreseeable misuse",
    "6. Human oversight measures",
    "7. Change log",
    "8. Lineage",
];

/// A project with the example `churn` use case, generated data and one trained model;
/// returns the project, the dataset id and the model version.
fn trained() -> (Project, String, String) {
    let p = Project::new();
    p.usecase("churn", EXAMPLE_USECASE);
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
    let added = p.add(&csv, "churn", &[]).json();
    let dataset = added["dataset_id"].as_str().expect("dataset_id").to_owned();
    let t = p.run(&["train", "churn", "--json"]).json();
    let version = t["version"].as_str().expect("version").to_owned();
    (p, dataset, version)
}

#[test]
fn export_docs_writes_markdown_and_html_with_every_section() {
    let (p, dataset, version) = trained();
    let out = p.tmp().join("bundle");
    let target = format!("churn@{version}");
    let r = p
        .run(&[
            "export",
            "docs",
            &target,
            "--output",
            out.to_str().unwrap(),
            "--json",
        ])
        .json();
    let md_path = out.join("technical-documentation.md");
    let html_path = out.join("technical-documentation.html");
    assert_eq!(r["markdown"].as_str(), md_path.to_str(), "{r}");
    assert_eq!(r["html"].as_str(), html_path.to_str(), "{r}");
    assert_eq!(r["version"], version.as_str(), "{r}");

    let md = std::fs::read_to_string(&md_path).expect("markdown written");
    let html = std::fs::read_to_string(&html_path).expect("html written");
    for h in SECTIONS {
        assert!(
            md.contains(&format!("## {h}")),
            "markdown lacks `{h}`:\n{md}"
        );
        assert!(
            html.contains(&format!("<h2>{h}</h2>")),
            "html lacks `{h}`:\n{html}"
        );
    }
    for doc in [&md, &html] {
        assert!(doc.contains(&version), "model version missing");
        assert!(doc.contains(&dataset), "dataset id missing");
    }
    let log = &md[md.find("## 7. Change log").unwrap()..md.find("## 8. Lineage").unwrap()];
    let trained_line = log
        .lines()
        .find(|l| l.contains("`model.trained`"))
        .unwrap_or_else(|| panic!("no training event in the change log:\n{log}"));
    assert!(trained_line.contains(&version), "{trained_line}");
    assert!(
        log.contains("`dataset.registered`"),
        "no registration event:\n{log}"
    );
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "no script in the page");
}

#[test]
fn export_docs_defaults_to_a_folder_in_the_project_and_refuses_unknown_versions() {
    let (p, _dataset, version) = trained();
    let short = &version[..6];
    let r = p.run(&["export", "docs", &format!("churn@{short}")]);
    r.assert_ok();
    let dir = p.root.join(format!("docs-churn-{version}"));
    assert!(dir.join("technical-documentation.md").is_file());
    assert!(dir.join("technical-documentation.html").is_file());

    let bad = p.run(&["export", "docs", "churn@ffffffffffff"]);
    assert!(!bad.ok(), "an unknown version must fail");
}
