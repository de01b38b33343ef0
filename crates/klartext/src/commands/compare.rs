//! `klartext compare U`: the challenger against the champion on logged traffic.
//!
//! Reads the prediction log of the use case: for each of the two models the rows it
//! answered and the rows it scored in shadow, its mean score, and its AUC on the
//! predictions that received feedback. Where the challenger ran in shadow, both models
//! scored the same requests, so the share of equal labels on those pairs is shown too.
//! A shadow row carries the feedback of the served prediction it shadowed. In canary
//! mode the two AUCs come from different subjects and are not a paired comparison.

use super::{emit, print_json};
use crate::project::Project;
use anyhow::{bail, Result};
use klartext_core::Outcome;
use klartext_core::UseCase;
use klartext_kinds::supervised::score::ScoredOutput;
use klartext_kinds::Kind;
use klartext_store::{AliasName, Feedback, PredictionRecord, PredictionRole, Store};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// One model's figures on the logged traffic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFigures {
    pub version: String,
    /// Predictions it answered.
    pub served_rows: u64,
    /// Predictions it scored in shadow (never answered).
    pub shadow_rows: u64,
    pub mean_score: Option<f64>,
    /// Its predictions (served or shadow) whose request received feedback.
    pub feedback_rows: u64,
    /// AUC on those; `None` without both outcomes among them.
    pub auc: Option<f64>,
}

/// The comparison of a challenger with the champion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub use_case: String,
    pub champion: ModelFigures,
    pub challenger: ModelFigures,
    /// Requests scored by both (a shadow row and the champion's served row).
    pub paired_rows: u64,
    /// Share of those pairs with the same label; `None` without pairs (or labels).
    pub label_agreement: Option<f64>,
    /// Mean absolute score difference on those pairs.
    pub mean_abs_score_diff: Option<f64>,
}

fn score_of(p: &PredictionRecord) -> Option<f64> {
    p.score
}

fn figures(
    version: &str,
    rows: &[&PredictionRecord],
    outcome: &dyn Fn(&PredictionRecord) -> Option<bool>,
) -> ModelFigures {
    let scores: Vec<f64> = rows.iter().filter_map(|p| score_of(p)).collect();
    let (mut y, mut s) = (Vec::new(), Vec::new());
    for p in rows {
        if let (Some(o), Some(sc)) = (outcome(p), score_of(p)) {
            y.push(if o { 1.0 } else { 0.0 });
            s.push(sc);
        }
    }
    ModelFigures {
        version: version.to_owned(),
        served_rows: rows
            .iter()
            .filter(|p| p.role == PredictionRole::Served)
            .count() as u64,
        shadow_rows: rows
            .iter()
            .filter(|p| p.role == PredictionRole::Shadow)
            .count() as u64,
        mean_score: (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64),
        feedback_rows: y.len() as u64,
        auc: klartext_learn::metrics::roc_auc(&y, &s).ok(),
    }
}

/// Compare two versions on a use case's logged predictions and feedback.
pub fn compare(
    uc: &UseCase,
    kind: &dyn Kind,
    champion: &str,
    challenger: &str,
    log: &[PredictionRecord],
    feedback: &[Feedback],
) -> Comparison {
    // The latest outcome of each served prediction, as the kind reads it (feedback
    // stored before outcomes were read on arrival is read now).
    let mut outcomes: HashMap<&str, bool> = HashMap::new();
    for f in feedback {
        let typed = f.typed.or_else(|| kind.outcome(uc, &f.outcome).ok());
        if let Some(Outcome::Binary { positive }) = typed {
            outcomes.insert(f.prediction_id.as_str(), positive);
        }
    }
    let by_id: HashMap<&str, &PredictionRecord> =
        log.iter().map(|p| (p.prediction_id.as_str(), p)).collect();
    let shadowed = |p: &PredictionRecord| -> Option<String> { p.shadow_of.clone() };
    let outcome = |p: &PredictionRecord| -> Option<bool> {
        match p.role {
            PredictionRole::Served => outcomes.get(p.prediction_id.as_str()).copied(),
            PredictionRole::Shadow => outcomes.get(shadowed(p)?.as_str()).copied(),
        }
    };
    let rows_of = |v: &str| -> Vec<&PredictionRecord> {
        log.iter()
            .filter(|p| !p.fallback && p.model_version == v)
            .collect()
    };
    let champ_rows = rows_of(champion);
    let chall_rows = rows_of(challenger);

    let (mut pairs, mut agree, mut labelled, mut diff) = (0u64, 0u64, 0u64, 0.0);
    for s in chall_rows
        .iter()
        .filter(|p| p.role == PredictionRole::Shadow)
    {
        let Some(served) = shadowed(s).and_then(|id| by_id.get(id.as_str()).copied()) else {
            continue;
        };
        if served.model_version != champion {
            continue;
        }
        pairs += 1;
        if let (Some(a), Some(b)) = (score_of(s), score_of(served)) {
            diff += (a - b).abs();
        }
        let label = |p: &PredictionRecord| {
            ScoredOutput::deserialize(&p.output)
                .ok()
                .and_then(|o| o.label)
        };
        if let (Some(a), Some(b)) = (label(s), label(served)) {
            labelled += 1;
            agree += u64::from(a == b);
        }
    }
    Comparison {
        use_case: uc.id.clone(),
        champion: figures(champion, &champ_rows, &outcome),
        challenger: figures(challenger, &chall_rows, &outcome),
        paired_rows: pairs,
        label_agreement: (labelled > 0).then(|| agree as f64 / labelled as f64),
        mean_abs_score_diff: (pairs > 0).then(|| diff / pairs as f64),
    }
}

pub fn run(project: Option<&Path>, usecase: &str, json: bool) -> Result<()> {
    let p = Project::find(project)?;
    let uc = p.usecase(usecase)?;
    let store = p.open_store()?;
    let aliases = store.aliases(Some(&uc.id))?;
    let version = |name| {
        aliases
            .iter()
            .find(|a| a.alias == name)
            .map(|a| a.version.clone())
    };
    let Some(champion) = version(AliasName::Champion) else {
        bail!(
            "`{}` has no champion alias; promote one with `klartext promote {}@VERSION`",
            uc.id,
            uc.id
        );
    };
    let Some(challenger) = version(AliasName::Challenger) else {
        bail!(
            "`{}` has no challenger; set one with `klartext promote {}@VERSION --to challenger`",
            uc.id,
            uc.id
        );
    };
    let log = store.predictions(&uc.id, None)?;
    let feedback = store.usecase_feedback(&uc.id)?;
    let kind = klartext_kinds::kind_of(uc.kind)?;
    let c = compare(&uc, kind, &champion, &challenger, &log, &feedback);
    if json {
        print_json(&serde_json::to_value(&c)?);
        return Ok(());
    }
    let num = |v: Option<f64>, digits: usize| v.map_or("-".to_owned(), |x| format!("{x:.digits$}"));
    let mut out = format!(
        "{}: champion {} vs challenger {} on the prediction log\n\n{:<12} {:>12} {:>12}\n",
        c.use_case, c.champion.version, c.challenger.version, "", "champion", "challenger"
    );
    for (name, a, b) in [
        (
            "answered",
            c.champion.served_rows.to_string(),
            c.challenger.served_rows.to_string(),
        ),
        (
            "shadow",
            c.champion.shadow_rows.to_string(),
            c.challenger.shadow_rows.to_string(),
        ),
        (
            "mean score",
            num(c.champion.mean_score, 4),
            num(c.challenger.mean_score, 4),
        ),
        (
            "feedback",
            c.champion.feedback_rows.to_string(),
            c.challenger.feedback_rows.to_string(),
        ),
        ("AUC", num(c.champion.auc, 3), num(c.challenger.auc, 3)),
    ] {
        out.push_str(&format!("{name:<12} {a:>12} {b:>12}\n"));
    }
    out.push('\n');
    if c.paired_rows > 0 {
        out.push_str(&format!(
            "scored by both (shadow): {} requests; labels agree on {}; mean |score difference| {}\n",
            c.paired_rows,
            c.label_agreement
                .map_or("-".to_owned(), |a| format!("{:.1}%", a * 100.0)),
            num(c.mean_abs_score_diff, 4),
        ));
    } else {
        out.push_str("no request was scored by both models (no shadow traffic logged)\n");
    }
    emit(&out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn uc() -> UseCase {
        UseCase::parse("churn.toml", klartext_data::generate::EXAMPLE_USECASE, None).unwrap()
    }

    fn row(
        id: &str,
        version: &str,
        role: PredictionRole,
        score: f64,
        shadow_of: Option<&str>,
    ) -> PredictionRecord {
        let output =
            json!({ "score": score, "label": if score >= 0.5 { "churned" } else { "stays" } });
        PredictionRecord {
            prediction_id: id.into(),
            at_ms: 1,
            usecase_id: "churn".into(),
            kind: Some(klartext_core::UseCaseKind::Classification),
            model_version: version.into(),
            subject_id: Some(format!("s-{id}")),
            input_digest: "00".into(),
            status: klartext_core::DecisionStatus::Answered,
            output,
            latency_us: 1,
            caller: "k".into(),
            fallback: false,
            role,
            score: Some(score),
            features: None,
            shadow_of: shadow_of.map(str::to_owned),
            batch_id: None,
        }
    }

    fn fb(id: &str, churned: bool) -> Feedback {
        Feedback {
            prediction_id: id.into(),
            outcome: json!({ "churned": churned }),
            typed: None,
            at_ms: 2,
            caller: "k".into(),
        }
    }

    #[test]
    fn shadow_pairs_agreement_means_and_auc_per_model() {
        use PredictionRole::{Served, Shadow};
        let log = vec![
            row("a", "champ", Served, 0.9, None),
            row("a'", "chall", Shadow, 0.8, Some("a")),
            row("b", "champ", Served, 0.2, None),
            row("b'", "chall", Shadow, 0.6, Some("b")),
            row("c", "champ", Served, 0.4, None),
            row("c'", "chall", Shadow, 0.1, Some("c")),
            row("d", "champ", Served, 0.7, None),
        ];
        let feedback = [fb("a", true), fb("b", false), fb("c", true)];
        let mut uc = uc();
        uc.data.target = "churned".into();
        let c = compare(
            &uc,
            &klartext_kinds::classification::Classification,
            "champ",
            "chall",
            &log,
            &feedback,
        );
        assert_eq!(c.champion.served_rows, 4);
        assert_eq!(c.champion.shadow_rows, 0);
        assert_eq!(c.challenger.served_rows, 0);
        assert_eq!(c.challenger.shadow_rows, 3);
        assert!((c.champion.mean_score.unwrap() - 0.55).abs() < 1e-12);
        assert!((c.challenger.mean_score.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(c.paired_rows, 3);
        // a: churned/churned, b: stays/churned, c: stays/stays.
        assert!((c.label_agreement.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.mean_abs_score_diff.unwrap() - (0.1 + 0.4 + 0.3) / 3.0).abs() < 1e-12);
        // Champion: positives 0.9, 0.4 vs negative 0.2 → AUC 1. Challenger: positives
        // 0.8, 0.1 vs negative 0.6 → 0.5. Shadow rows carry their served row's outcome.
        assert_eq!(c.champion.feedback_rows, 3);
        assert_eq!(c.challenger.feedback_rows, 3);
        assert_eq!(c.champion.auc, Some(1.0));
        assert_eq!(c.challenger.auc, Some(0.5));
    }

    #[test]
    fn canary_traffic_has_no_pairs_and_one_class_feedback_has_no_auc() {
        let log = vec![
            row("a", "champ", PredictionRole::Served, 0.9, None),
            row("b", "chall", PredictionRole::Served, 0.3, None),
        ];
        let mut uc = uc();
        uc.data.target = "churned".into();
        let c = compare(
            &uc,
            &klartext_kinds::classification::Classification,
            "champ",
            "chall",
            &log,
            &[fb("a", true)],
        );
        assert_eq!(c.paired_rows, 0);
        assert_eq!(c.label_agreement, None);
        assert_eq!(c.challenger.served_rows, 1);
        assert_eq!(c.champion.feedback_rows, 1);
        assert_eq!(c.champion.auc, None);
        assert_eq!(c.challenger.feedback_rows, 0);
    }
}
