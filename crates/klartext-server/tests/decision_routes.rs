//! Every decision route of the route table, found by its mark (not by a list kept
//! here), honours the governance layer: each answer is in the prediction log, an
//! objected subject gets no score, and a switched-off use case answers its fallback,
//! logged as such, for every request shape the route takes (one object, a JSON array,
//! an NDJSON stream).

mod common;

use common::{fixture, request, Fixture};
use klartext_core::DecisionStatus;
use klartext_kinds::Operation;
use klartext_server::routes::{Decision, Shape, ROUTES};
use klartext_store::Store;
use serde_json::{json, Value};

/// A valid request object of `op` for the fixture's model, for `subject`.
fn item(op: Operation, subject: &str) -> Value {
    match op {
        Operation::Predict => {
            let mut r = request();
            r["subject_id"] = subject.into();
            r
        }
    }
}

/// The requests a decision route takes for these subjects, each with its content type
/// and the number of answers it gets.
fn bodies(d: Decision, subjects: &[&str]) -> Vec<(&'static str, String, usize)> {
    let items: Vec<Value> = subjects.iter().map(|s| item(d.op, s)).collect();
    match d.shape {
        Shape::One => items
            .iter()
            .map(|i| ("application/json", i.to_string(), 1))
            .collect(),
        Shape::Batch => vec![
            (
                "application/json",
                Value::Array(items.clone()).to_string(),
                items.len(),
            ),
            (
                "application/x-ndjson",
                items.iter().map(|i| format!("{i}\n")).collect(),
                items.len(),
            ),
        ],
    }
}

fn answers(body: &Value, text: &str, content_type: &str) -> Vec<Value> {
    if content_type == "application/x-ndjson" {
        return text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    }
    match body {
        Value::Array(a) => a.clone(),
        one => vec![one.clone()],
    }
}

fn path(template: &str) -> String {
    template.replace("{id}", "churn")
}

/// Call every form of every decision route for `subjects`; check each answer with
/// `check` and that its decision is logged with `status`.
async fn each_decision(
    f: &Fixture,
    subjects: &[&str],
    status: DecisionStatus,
    check: impl Fn(&Value),
) -> usize {
    let mut calls = 0;
    for r in ROUTES {
        let Some(d) = r.decision() else { continue };
        assert_eq!(r.method, "post", "{r:?}");
        for (ct, body, n) in bodies(d, subjects) {
            let a = f
                .call("POST", &path(r.path), Some(&f.scorer), Some(ct), body)
                .await;
            assert_eq!(a.status, 200, "{r:?} {ct}: {}", a.text);
            let got = answers(&a.body, &a.text, ct);
            assert_eq!(got.len(), n, "{r:?} {ct}: {}", a.text);
            for ans in &got {
                check(ans);
                let id = ans["prediction_id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{r:?} {ct}: {ans}"));
                let logged = f
                    .store
                    .prediction(id)
                    .unwrap()
                    .unwrap_or_else(|| panic!("{r:?} {ct}: {id} is not in the log"));
                assert_eq!(logged.status, status, "{r:?} {ct}");
                assert_eq!(
                    logged.kind,
                    Some(klartext_core::UseCaseKind::Classification)
                );
                assert!(
                    logged.caller.starts_with("key_"),
                    "{r:?}: {}",
                    logged.caller
                );
            }
            calls += 1;
        }
    }
    calls
}

#[tokio::test]
async fn every_decision_route_logs_honours_objections_and_the_kill_switch() {
    let f = fixture();
    let decision_routes = ROUTES.iter().filter(|r| r.decision().is_some()).count();
    assert!(decision_routes >= 2, "the table marks its decision routes");

    // Answered, and logged.
    let n = each_decision(&f, &["c-a", "c-b"], DecisionStatus::Answered, |a| {
        assert!(a["score"].is_number(), "{a}");
        assert_eq!(a["fallback"], false);
    })
    .await;
    assert!(n >= decision_routes);

    // An objected subject: no score, logged as an objection, without features.
    f.store.object_subject("c-objects", "test", None).unwrap();
    f.state.governor().refresh().unwrap();
    each_decision(&f, &["c-objects"], DecisionStatus::Objected, |a| {
        assert_eq!(a["objected"], true, "{a}");
        assert_eq!(a["score"], Value::Null, "{a}");
    })
    .await;

    // Switched off: the fallback answers, logged as a fallback; still no score for the
    // subject who objected.
    f.state
        .governor()
        .switch("churn", false, "test", "incident 42")
        .unwrap();
    each_decision(&f, &["c-a"], DecisionStatus::Fallback, |a| {
        assert_eq!(a["fallback"], true, "{a}");
        assert_eq!(a["score"], json!(0.0), "{a}");
        assert_eq!(a["model_version"], Value::Null);
    })
    .await;
    each_decision(&f, &["c-objects"], DecisionStatus::Objected, |a| {
        assert_eq!(a["fallback"], true, "{a}");
        assert_eq!(a["objected"], true, "{a}");
        assert_eq!(a["score"], Value::Null, "{a}");
    })
    .await;
}

/// Guards the fallback path that buffered the whole body under the body limit: a
/// switched-off use case answered a large NDJSON stream with 413, where the live path
/// streams it.
#[tokio::test]
async fn a_switched_off_use_case_streams_an_ndjson_body_larger_than_the_body_limit() {
    let f = common::fixture_with(klartext_server::ServerConfig {
        body_limit: 16 * 1024,
        ..Default::default()
    });
    f.state
        .governor()
        .switch("churn", false, "test", "maintenance")
        .unwrap();
    let line = format!("{}\n", item(Operation::Predict, "c-1"));
    let n = 64 * 1024 / line.len() + 1;
    let body = line.repeat(n);
    assert!(body.len() > 64 * 1024);
    let a = f
        .call(
            "POST",
            "/v1/usecases/churn/predict:batch",
            Some(&f.scorer),
            Some("application/x-ndjson"),
            body,
        )
        .await;
    assert_eq!(a.status, 200, "{}", &a.text[..a.text.len().min(300)]);
    let lines: Vec<Value> = a
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), n);
    assert!(lines.iter().all(|l| l["fallback"] == true), "{}", lines[0]);
    assert_eq!(lines[n - 1]["line"], n);
}
