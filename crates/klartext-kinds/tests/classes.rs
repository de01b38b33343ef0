//! Which targets classification takes: two classes, or one class against the rest when
//! the use case names it; never a silent binarisation. And the reason when there are too
//! few rows of a class for cross-validation.

use klartext_core::UseCase;
use klartext_data::ingest::{ingest, IngestOptions};
use klartext_kinds::supervised::train::{train, Trained};
use klartext_kinds::{KindError, TrainOptions};
use std::fmt::Write;

const USECASE: &str = r#"id = "plan"
title = "Plan choice"
goal = "Offer the plan a customer is likely to choose."
kind = "classification"
owner = "crm-team@example.com"
risk = "minimal"

[data]
target = "plan"
id = "customer_id"
"#;

/// `rows` customers with two numeric features and a `plan` picked by `class_of(i, x)`.
fn csv(rows: usize, class_of: impl Fn(usize, f64) -> &'static str) -> String {
    let mut s = String::from("customer_id,usage,tenure,plan\n");
    // A fixed LCG: the data never changes.
    let mut state: u64 = 7;
    for i in 0..rows {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let usage = (state >> 33) as f64 / f64::from(1u32 << 31) * 100.0;
        let tenure = (i * 7 % 60) as f64;
        let _ = writeln!(s, "c{i},{usage:.2},{tenure},{}", class_of(i, usage));
    }
    s
}

fn train_on(csv: &str, usecase: &str) -> klartext_kinds::Result<Trained> {
    let uc = UseCase::parse("plan.toml", usecase, Some("plan")).expect("use case parses");
    let ing = ingest(
        "plans.csv",
        csv.as_bytes(),
        Some(&uc),
        &IngestOptions::default(),
        None,
    )
    .expect("ingest");
    train(
        &ing.frame,
        &ing.schema,
        &uc,
        &ing.snapshot.dataset_id(),
        Some(&ing.report),
        &TrainOptions::default(),
        &mut |_| {},
    )
}

fn three_plans(i: usize, usage: f64) -> &'static str {
    match (usage, i % 9) {
        (_, 0) => "basic",
        (u, _) if u < 40.0 => "basic",
        (u, _) if u < 75.0 => "pro",
        _ => "premium",
    }
}

#[test]
fn three_classes_without_a_positive_class_are_refused_naming_them() {
    let err = train_on(&csv(300, three_plans), USECASE).expect_err("three classes");
    assert!(matches!(err, KindError::Data(_)), "{err:?}");
    let msg = err.to_string();
    for part in [
        "target `plan` has 3 classes",
        "`basic` (",
        "`pro` (",
        "`premium` (",
        "positive = ",
        "multiclass models are not supported",
    ] {
        assert!(msg.contains(part), "`{part}` missing from: {msg}");
    }
}

#[test]
fn three_classes_with_a_positive_class_are_one_against_the_rest_and_the_card_says_so() {
    let uc_text = USECASE.replace(
        "target = \"plan\"\n",
        "target = \"plan\"\npositive = \"premium\"\n",
    );
    let t = train_on(&csv(300, three_plans), &uc_text).expect("one against the rest");
    assert_eq!(t.report.other_classes, ["basic", "pro"]);
    assert_eq!(t.model.header.negative.as_deref(), Some("not premium"));
    let uc = UseCase::parse("plan.toml", &uc_text, Some("plan")).unwrap();
    let card = klartext_kinds::supervised::card::model_card(
        &uc,
        &t.version,
        &t.report,
        "2026-12-03T00:00:00Z",
        "tester",
        &[],
    );
    assert!(
        card.contains(
            "- Classes: one against the rest: `premium` against `basic`, `pro` (counted as not `premium`)"
        ),
        "{card}"
    );
}

#[test]
fn two_classes_neither_yes_like_ask_for_the_positive_class() {
    let err = train_on(
        &csv(200, |_, u| if u < 50.0 { "Stayed" } else { "Churned" }),
        USECASE,
    )
    .expect_err("no yes-like value");
    let msg = err.to_string();
    assert!(
        msg.contains("no value of target `plan` reads as yes")
            && msg.contains("`Stayed` (")
            && msg.contains("positive = "),
        "{msg}"
    );
}

#[test]
fn a_named_positive_class_absent_from_the_data_is_named() {
    let uc_text = USECASE.replace(
        "target = \"plan\"\n",
        "target = \"plan\"\npositive = \"gold\"\n",
    );
    let err = train_on(
        &csv(200, |_, u| if u < 50.0 { "basic" } else { "pro" }),
        &uc_text,
    )
    .expect_err("no gold rows");
    let msg = err.to_string();
    assert!(
        msg.contains("no row's target `plan` is the positive class `gold`")
            && msg.contains("`basic` ("),
        "{msg}"
    );
}

#[test]
fn too_few_rows_of_a_class_for_cross_validation_name_the_minimum() {
    // 30 rows with 5 positives: 1 is held out and 4 cannot fill 5 folds.
    let uc_text = USECASE.replace(
        "target = \"plan\"\n",
        "target = \"plan\"\npositive = \"yes\"\n",
    );
    let err = train_on(&csv(30, |i, _| if i < 5 { "yes" } else { "no" }), &uc_text)
        .expect_err("too few positives");
    let msg = err.to_string();
    assert!(
        msg.contains("too few rows of `yes` in target `plan`: 5 in all, 4 left for training")
            && msg.contains("5-fold cross-validation needs at least 5 in training")
            && msg.contains("at least 7 rows of each class")
            && !msg.contains("single class"),
        "{msg}"
    );
    // With the minimum it trains.
    train_on(&csv(30, |i, _| if i < 7 { "yes" } else { "no" }), &uc_text)
        .expect("7 positives are enough");
}
