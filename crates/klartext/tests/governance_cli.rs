//! `klartext promote`, `rollback`, `switch`, `models list` aliases and `audit
//! verify|checkpoint` through the real binary.

mod common;

use common::{relaxed, two_versions, Project};
use serde_json::Value;

fn events(p: &Project, action: &str) -> Vec<Value> {
    p.audit_events()
        .into_iter()
        .filter(|e| e["action"] == action)
        .collect()
}

fn aliases(p: &Project, version: &str) -> Value {
    let list = p.run(&["models", "list", "churn", "--json"]).json();
    list.as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"] == version)
        .unwrap()["aliases"]
        .clone()
}

#[test]
fn promote_gates_override_rollback_and_switch() {
    let (p, a, b) = two_versions();
    let at = |v: &str| format!("churn@{v}");

    p.run(&["promote", &at(&a)]).assert_ok();
    assert_eq!(aliases(&p, &a), serde_json::json!(["champion"]));
    p.run(&["promote", &at(&b), "--to", "challenger", "--canary", "10%"])
        .assert_ok();
    assert_eq!(
        aliases(&p, &b),
        serde_json::json!(["challenger (canary 10.0%)"])
    );
    let text = p.run(&["models", "list", "churn"]).stdout.clone();
    assert!(
        text.contains("champion") && text.contains("canary"),
        "{text}"
    );
    p.run(&["promote", &at(&b)]).assert_ok();
    assert_eq!(aliases(&p, &b), serde_json::json!(["champion"]));

    // Rollback restores the previous champion in one step.
    let r = p
        .run(&["rollback", "churn", "--reason", "lift dropped", "--json"])
        .json();
    assert_eq!(
        (r["from"].as_str(), r["to"].as_str()),
        (Some(b.as_str()), Some(a.as_str()))
    );
    assert_eq!(aliases(&p, &a), serde_json::json!(["champion"]));
    let rb = events(&p, "model.rolled_back");
    assert_eq!(rb.len(), 1);
    assert_eq!(rb[0]["details"]["reason"], "lift dropped");
    let err = p.run(&["rollback", "churn"]).one_line_error();
    assert!(err.contains("no previous champion"), "{err}");

    // A stricter gate than the version passed: refused, naming the gate.
    p.usecase("churn", &relaxed("", "0.99"));
    let err = p.run(&["promote", &at(&b)]).one_line_error();
    assert!(err.contains("refused") && err.contains("min_auc"), "{err}");
    assert!(err.contains("evaluated at threshold 0.5"), "{err}");
    // A gate added after training was never evaluated: refused.
    p.usecase("churn", &relaxed("\nmax_log_loss = 5.0", "0.5"));
    let err = p.run(&["promote", &at(&b)]).one_line_error();
    assert!(err.contains("`max_log_loss` was not evaluated"), "{err}");
    // An override needs a reason ...
    let no_reason = p.run(&["promote", &at(&b), "--override"]);
    assert!(!no_reason.ok());
    assert_eq!(aliases(&p, &a), serde_json::json!(["champion"]));
    // ... and is recorded with the failed gates.
    p.run(&[
        "promote",
        &at(&b),
        "--override",
        "--reason",
        "DPO approved, ticket 17",
    ])
    .assert_ok();
    let promoted = events(&p, "model.promoted");
    let last = promoted.last().unwrap();
    assert_eq!(last["details"]["override"], true);
    assert_eq!(last["details"]["reason"], "DPO approved, ticket 17");
    assert_eq!(last["details"]["failed_gates"][0]["gate"], "max_log_loss");
    assert_eq!(
        last["details"]["failed_gates"][0]["problem"],
        "not_evaluated"
    );
    assert_eq!(promoted.len(), 4);
    assert_eq!(promoted[0]["details"]["override"], false);

    // Kill switch: a reason is required, actor and reason are audited.
    let err = p.run(&["switch", "off", "churn"]).one_line_error();
    assert!(err.contains("--reason"), "{err}");
    p.run(&["switch", "off", "churn", "--reason", "complaint"])
        .assert_ok();
    p.run(&["switch", "on", "churn"]).assert_ok();
    let sw = events(&p, "usecase.switched");
    assert_eq!(sw.len(), 2);
    assert_eq!(sw[0]["details"]["state"], "off");
    assert_eq!(sw[0]["details"]["reason"], "complaint");
    assert!(sw[0]["actor"].as_str().unwrap().starts_with("cli:"));
    p.assert_audit_intact();
}

#[test]
fn usecase_check_refuses_rule_fallbacks_clearly() {
    let p = Project::new();
    p.usecase(
        "churn",
        &relaxed("", "0.5").replace("score = 0.0", "rule = \"tenure_months < 3\""),
    );
    let r = p.run(&["usecase", "check"]);
    assert!(!r.ok());
    let err = r.one_line_error();
    assert!(
        err.contains("rule") && err.contains("not supported yet"),
        "{err}"
    );
}

#[test]
fn audit_verify_names_the_kind_and_place_and_catches_a_truncated_tail() {
    let p = Project::new();
    p.usecase("churn", &relaxed("", "0.5"));
    for i in 0..6 {
        let reason = format!("drill {i}");
        let state = if i % 2 == 0 { "off" } else { "on" };
        p.run(&["switch", state, "churn", "--reason", &reason])
            .assert_ok();
    }
    // Event 1 is `usecase.created`, events 2 to 7 the switches.
    let cp = p.run(&["audit", "checkpoint", "--json"]).json();
    assert_eq!(cp["seq"], 7);
    let ok = p.run(&["audit", "verify", "--json"]).json();
    assert_eq!(ok["intact"], true);
    assert_eq!(ok["checkpoint"]["seq"], 7);

    let db = rusqlite::Connection::open(p.root.join("store").join("klartext.db")).unwrap();
    db.execute("DELETE FROM audit_events WHERE seq > 5", [])
        .unwrap();
    let r = p.run(&["audit", "verify"]);
    assert!(!r.ok());
    let err = r.one_line_error();
    assert!(err.contains("broken at event 6 (truncated)"), "{err}");

    db.execute(
        "UPDATE audit_events SET details = '{\"state\":\"on\",\"reason\":\"nothing\"}' WHERE seq = 3",
        [],
    )
    .unwrap();
    let err = p.run(&["audit", "verify"]).one_line_error();
    assert!(err.contains("broken at event 3 (edited)"), "{err}");
}

#[test]
fn creating_and_changing_a_use_case_file_are_audit_events() {
    let p = Project::new();
    p.usecase("churn", &relaxed("", "0.5"));
    p.run(&["models", "list", "churn"]).assert_ok();
    p.run(&["models", "list", "churn"]).assert_ok();
    let created = events(&p, "usecase.created");
    assert_eq!(created.len(), 1, "the same content is recorded once");
    assert_eq!(created[0]["subject"], "usecase/churn");
    let first = created[0]["details"]["sha256"].clone();

    p.usecase("churn", &relaxed("", "0.6"));
    p.run(&["models", "list", "churn"]).assert_ok();
    let changed = events(&p, "usecase.changed");
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["details"]["previous_sha256"], first);
    assert_ne!(changed[0]["details"]["sha256"], first);

    // Going back to the first content is a change too.
    p.usecase("churn", &relaxed("", "0.5"));
    p.run(&["models", "list", "churn"]).assert_ok();
    let changed = events(&p, "usecase.changed");
    assert_eq!(changed.len(), 2);
    assert_eq!(changed[1]["details"]["sha256"], first);
    p.assert_audit_intact();
}

#[test]
fn compare_shows_challenger_and_champion_on_logged_traffic() {
    use klartext_store::{Feedback, PredictionRecord, PredictionRole, SqliteStore, Store};
    let (p, a, b) = two_versions();
    p.run(&["promote", &format!("churn@{a}")]).assert_ok();
    let err = p.run(&["compare", "churn"]).one_line_error();
    assert!(err.contains("no challenger"), "{err}");
    p.run(&["promote", &format!("churn@{b}"), "--to", "challenger"])
        .assert_ok();

    // Logged traffic as a server with a shadow challenger writes it.
    let store = SqliteStore::open(&p.root.join("store")).unwrap();
    let row = |id: &str, v: &str, role, score: f64, of: Option<&str>| {
        let output =
            serde_json::json!({"score": score, "label": if score >= 0.5 { "Yes" } else { "No" }});
        PredictionRecord {
            prediction_id: id.into(),
            at_ms: 1,
            usecase_id: "churn".into(),
            kind: Some(klartext_core::UseCaseKind::Classification),
            model_version: v.into(),
            subject_id: Some(id.into()),
            input_digest: "00".into(),
            status: klartext_core::DecisionStatus::Answered,
            output,
            latency_us: 1,
            caller: "k".into(),
            fallback: false,
            role,
            score: Some(score),
            features: None,
            shadow_of: of.map(str::to_owned),
            batch_id: None,
        }
    };
    store
        .log_predictions(&[
            row("p1", &a, PredictionRole::Served, 0.9, None),
            row("s1", &b, PredictionRole::Shadow, 0.7, Some("p1")),
            row("p2", &a, PredictionRole::Served, 0.1, None),
            row("s2", &b, PredictionRole::Shadow, 0.6, Some("p2")),
        ])
        .unwrap();
    for (id, churn) in [("p1", "Yes"), ("p2", "No")] {
        store
            .add_feedback(&Feedback {
                prediction_id: id.into(),
                outcome: serde_json::json!({ "churn": churn }),
                typed: None,
                at_ms: 2,
                caller: "k".into(),
            })
            .unwrap();
    }
    let c = p.run(&["compare", "churn", "--json"]).json();
    assert_eq!(c["champion"]["version"], a.as_str());
    assert_eq!(c["champion"]["served_rows"], 2);
    assert_eq!(c["challenger"]["shadow_rows"], 2);
    assert_eq!(c["paired_rows"], 2);
    assert_eq!(c["label_agreement"], 0.5);
    assert_eq!(c["champion"]["auc"], 1.0);
    assert_eq!(c["challenger"]["auc"], 1.0);
    let text = p.run(&["compare", "churn"]).assert_ok().stdout.clone();
    assert!(
        text.contains("AUC") && text.contains("labels agree on 50.0%"),
        "{text}"
    );
}
