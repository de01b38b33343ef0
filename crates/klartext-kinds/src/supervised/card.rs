//! The model card of a supervised model version: a Markdown document of what a model version is for, how it was
//! validated and how well it did, written from the use case and the training report.

use crate::supervised::train::TrainingReport;
use klartext_core::UseCase;
use klartext_learn::Task;
use std::fmt::Write;

fn f(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| {
        if v.is_nan() {
            "–".into()
        } else {
            format!("{v:.4}")
        }
    })
}

/// One row of the card's results table: the metric's name, held-out and training value.
pub type MetricRow = (&'static str, Option<f64>, Option<f64>);

/// The model card in Markdown.
/// `results` are the kind's metric rows (its module says which figures it reports).
pub fn model_card(
    uc: &UseCase,
    version: &str,
    r: &TrainingReport,
    trained_at: &str,
    trained_by: &str,
    results: &[MetricRow],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Model card: {} @ {version}\n", uc.id);
    let _ = writeln!(s, "**{}**\n", uc.title);
    let verdict = if r.gates_passed {
        "all gates passed"
    } else {
        "**gates failed**: not eligible for promotion without an override"
    };
    let headline = match r.task {
        Task::BinaryClassification => format!("held-out ROC AUC {}", f(r.metrics.auc)),
        Task::Regression => format!(
            "held-out RMSE {}, R² {}",
            f(r.metrics.rmse),
            f(r.metrics.r2)
        ),
    };
    let _ = writeln!(
        s,
        "Summary: {} chosen by {}-fold cross-validation; {headline}; {verdict}.\n",
        r.learner, r.cv.k
    );

    s.push_str("## Intended use\n\n");
    let _ = writeln!(s, "- Goal: {}", uc.goal);
    if !uc.kpi.is_empty() {
        let _ = writeln!(s, "- KPI: {}", uc.kpi);
    }
    if !uc.business_value.is_empty() {
        let _ = writeln!(s, "- Business value: {}", uc.business_value);
    }
    let _ = writeln!(
        s,
        "- Kind: {} (predicts `{}`{})",
        uc.kind,
        uc.data.target,
        uc.positive_label()
            .map(|p| format!(" = `{p}`"))
            .unwrap_or_default()
    );
    if !r.other_classes.is_empty() {
        let _ = writeln!(
            s,
            "- Classes: one against the rest: `{}` against {} (counted as not `{}`)",
            uc.positive_label().unwrap_or_default(),
            r.other_classes
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
            uc.positive_label().unwrap_or_default(),
        );
    }
    let _ = writeln!(s, "- Owner: {}", uc.owner);
    let _ = writeln!(s, "- EU AI Act risk class: {:?}", uc.risk);
    if !uc.legal_basis.is_empty() {
        let _ = writeln!(s, "- Legal basis: {}", uc.legal_basis);
    }
    let _ = writeln!(
        s,
        "- Human oversight: {}",
        if uc.significant_effect {
            "decisions have a significant effect on people (GDPR Art. 22) and wait for human review"
        } else {
            "scores support decisions made by people; every score comes with its reasons; the use case can be switched off"
        }
    );
    s.push('\n');

    s.push_str("## Model\n\n");
    let _ = writeln!(
        s,
        "- Version: `{version}` (content hash of the artifact, format {})",
        r.artifact_format
    );
    let _ = writeln!(s, "- Learner: {}", r.learner);
    let _ = writeln!(
        s,
        "- Trained: {trained_at} by {trained_by}, klartext {}",
        r.klartext_version
    );
    let _ = writeln!(
        s,
        "- Dataset: `{}` ({} rows; {} without a target value were left out)",
        r.dataset_id, r.rows_total, r.rows_without_target
    );
    let _ = writeln!(s, "- Seed: {}", r.seed);
    let _ = writeln!(
        s,
        "- Features ({}): {}",
        r.features.len(),
        r.features
            .iter()
            .map(|x| format!("`{x}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !uc.data.protected.is_empty() {
        let _ = writeln!(
            s,
            "- Protected attributes (checked for fairness{}): {}",
            if uc.data.allow_protected_features {
                ", allowed as features"
            } else {
                ", not used as features"
            },
            uc.data
                .protected
                .iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(t) = r.threshold {
        let _ = writeln!(
            s,
            "- Decision threshold: {t:.4} (flags as many customers as were positive in training)"
        );
    }
    s.push('\n');

    s.push_str("## Validation procedure\n\n");
    let _ = writeln!(s, "{} rows for training and {} held out ({}). On the training rows, {}-fold {}cross-validation compared the candidates below by {} and chose the simplest one within one standard error of the best; it was then refitted on all training rows and judged once on the held-out rows.\n",
        r.rows_train, r.rows_test, r.split, r.cv.k, if r.task == Task::BinaryClassification { "stratified " } else { "" }, r.cv.metric);
    s.push_str("| candidate | mean | std | rounds |\n| --- | ---: | ---: | ---: |\n");
    for (i, row) in r.cv.rows.iter().enumerate() {
        let mark = if i == r.cv.chosen { " (chosen)" } else { "" };
        let _ = writeln!(
            s,
            "| {}{mark} | {:.4} | {:.4} | {} |",
            row.name,
            row.mean,
            row.std,
            row.rounds.map_or("–".into(), |x| x.to_string())
        );
    }
    s.push('\n');

    s.push_str("## Results\n\n| metric | held-out | training |\n| --- | ---: | ---: |\n");
    for &(name, held, train) in results {
        let _ = writeln!(s, "| {name} | {} | {} |", f(held), f(train));
    }
    let _ = writeln!(
        s,
        "\nOverfitting gap (training minus held-out {}): {:.4}\n",
        if r.task == Task::BinaryClassification {
            "AUC"
        } else {
            "R²"
        },
        r.overfit_gap
    );

    if !r.fairness.is_empty() {
        s.push_str("## Fairness\n\nDecisions at the threshold, on held-out rows (fairlearn's definitions).\n\n");
        for p in &r.fairness {
            let _ = writeln!(s, "**`{}`**: demographic parity difference {:.4}, ratio {:.4}; equalized odds difference {:.4}\n",
                p.attribute, p.report.demographic_parity_difference, p.report.demographic_parity_ratio, p.report.equalized_odds_difference);
            s.push_str("| group | rows | selection rate | TPR | FPR |\n| --- | ---: | ---: | ---: | ---: |\n");
            for g in &p.report.groups {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.4} | {} | {} |",
                    g.group,
                    g.n,
                    g.selection_rate,
                    f(Some(g.tpr)),
                    f(Some(g.fpr))
                );
            }
            s.push('\n');
        }
    }

    s.push_str("## Gates\n\n");
    if r.gates.is_empty() {
        s.push_str("The use case sets no gates.\n\n");
    } else {
        s.push_str(
            "| gate | threshold | measured | result | what |\n| --- | ---: | ---: | --- | --- |\n",
        );
        for g in &r.gates {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                g.gate,
                g.threshold,
                f(g.value),
                if g.passed { "passed" } else { "FAILED" },
                g.detail
            );
        }
        s.push('\n');
    }

    s.push_str("## What drives the scores\n\nMean absolute contribution (exact Shapley values for trees, exact terms for linear models) over held-out rows:\n\n");
    for imp in r.importance.iter().take(10) {
        let _ = writeln!(s, "- `{}`: {:.4}", imp.feature, imp.mean_abs_contribution);
    }
    s.push('\n');

    s.push_str("## Limits\n\n");
    let _ = writeln!(s, "- The figures hold for data like the training data (dataset `{}`); monitor drift once the model serves.", r.dataset_id);
    s.push_str("- Scores rank customers; the decision threshold is a business choice and can be changed without retraining.\n");
    s.push_str("- Explanations describe the model, not causes in the world: a feature that raises a score need not cause the outcome.\n");
    if r.rows_test < 500 {
        let _ = writeln!(
            s,
            "- Only {} held-out rows: the figures above are uncertain.",
            r.rows_test
        );
    }
    s
}
