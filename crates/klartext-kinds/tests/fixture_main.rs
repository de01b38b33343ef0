//! Model versions written before kinds had a module each (artifact envelope version 1)
//! keep loading and answer exactly as the build that wrote them did; their stored
//! reports read typed and their cards come out the same. See `fixtures/main-v1/README.md`
//! for how the files were made.

use klartext_kinds::{kind_of, Artifact, Operation, ReportHead};
use serde_json::Value;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/main-v1")
        .join(name)
}

fn artifact(usecase: &str) -> Vec<u8> {
    let name = match usecase {
        "churn" => "churn-e0d552eb6ba3.ktm",
        "charges" => "charges-6be82d9f5e42.ktm",
        "value" => "value-76369d16749c.ktm",
        other => panic!("no fixture for {other}"),
    };
    std::fs::read(fixture(name)).expect("fixture artifact")
}

fn usecase(id: &str) -> klartext_core::UseCase {
    let text = std::fs::read_to_string(fixture(&format!("{id}.toml"))).unwrap();
    klartext_kinds::usecase::load(&format!("{id}.toml"), &text, Some(id)).unwrap()
}

#[test]
fn version_one_artifacts_load_as_their_kind_with_their_lineage() {
    for (id, kind, learner, version) in [
        (
            "churn",
            klartext_core::UseCaseKind::Classification,
            "logistic",
            "e0d552eb6ba3",
        ),
        (
            "charges",
            klartext_core::UseCaseKind::Regression,
            "ridge",
            "6be82d9f5e42",
        ),
        (
            "value",
            klartext_core::UseCaseKind::Regression,
            "gbdt_tiny",
            "76369d16749c",
        ),
    ] {
        let bytes = artifact(id);
        assert_eq!(
            Artifact::version_of(&bytes).0,
            version,
            "{id}: the fixture changed"
        );
        let a = Artifact::from_bytes(&bytes).unwrap();
        assert_eq!(a.envelope_version, 1);
        assert_eq!(a.header.kind, kind);
        assert_eq!(a.header.lineage.usecase, id);
        assert_eq!(a.header.lineage.learner, learner);
        assert_eq!(a.header.lineage.seed, 42);
        assert!(kind_of(kind).unwrap().load(&a).is_ok(), "{id}");
    }
}

/// Every recorded answer, field by field: score, label, reasons, explanation and
/// warnings, bit for bit.
#[test]
fn version_one_artifacts_answer_as_the_build_that_wrote_them() {
    let text = std::fs::read_to_string(fixture("answers.ndjson")).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let rec: Value = serde_json::from_str(line).unwrap();
        let id = rec["usecase"].as_str().unwrap();
        let uc = usecase(id);
        let kind = kind_of(uc.kind).unwrap();
        let model = kind
            .load(&Artifact::from_bytes(&artifact(id)).unwrap())
            .unwrap();
        let features = rec["request"]["features"].as_object().unwrap();
        let answer = model
            .decide(Operation::Predict, features, true, "features.")
            .unwrap_or_else(|_| panic!("{id}: refused {features:?}"));
        let body = serde_json::to_value(&*answer.body).unwrap();
        let expected = &rec["answer"];
        for field in ["score", "label", "reasons", "explanation"] {
            assert_eq!(
                body[field], expected[field],
                "{id} {}: {field}",
                rec["request"]["subject_id"]
            );
        }
        assert_eq!(
            serde_json::to_value(&answer.warnings).unwrap(),
            expected["warnings"],
            "{id}: warnings"
        );
        assert_eq!(answer.score, expected["score"].as_f64());
        checked += 1;
    }
    assert_eq!(checked, 30);
}

#[test]
fn stored_reports_read_typed_and_give_the_same_card() {
    let models: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("models.json")).unwrap()).unwrap();
    for (id, m) in models.as_object().unwrap() {
        let head = ReportHead::read(&m["report"]).unwrap();
        assert_eq!(head.usecase, *id);
        assert_eq!(
            head.kind, None,
            "reports of this build did not record the kind"
        );
        assert_eq!(
            head.gates_passed,
            m["gates_passed"] == 1,
            "{id}: gates_passed as the store kept it"
        );
        let uc = usecase(id);
        let kind = kind_of(uc.kind).unwrap();
        if let Err(e) = kind.summary(&m["report"]) {
            panic!("{id}: {e}");
        }
        // The card names when and by whom; the rest is written from the report.
        let card = m["card"].as_str().unwrap();
        let trained = card
            .lines()
            .find_map(|l| l.strip_prefix("- Trained: "))
            .expect("the card says when it was trained");
        let (at, rest) = trained.split_once(" by ").unwrap();
        let by = rest.rsplit_once(", klartext").unwrap().0;
        let again = kind
            .card(&uc, m["version"].as_str().unwrap(), &m["report"], at, by)
            .unwrap();
        assert_eq!(again, card, "{id}");
    }
}
