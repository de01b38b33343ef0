//! The supervised training procedure classification and regression share: split,
//! cross-validate the candidates, refit, then judge the chosen model on held-out rows
//! (quality, overfitting, calibration, fairness) and evaluate every gate of the use
//! case. What differs by kind (its metrics, its gates) is asked of the kind's module
//! through [`Target`].

use crate::artifact::Lineage;
use crate::error::{KindError, Result};
use crate::gates::{evaluate, GateResult, Measured};
use crate::kind::TrainOptions;
use crate::supervised::encode::Encoder;
use crate::supervised::payload::{Header, Supervised};
use crate::supervised::score::scores_of;
use klartext_core::frame::format_number;
use klartext_core::{ColumnData, Frame, QualityReport, Schema, UseCase, UseCaseKind, MISSING_CODE};
use klartext_learn::fairness::{decisions, fairness_report, FairnessReport};
use klartext_learn::select::{auto_fit, CvTable, Progress};
use klartext_learn::split::train_test_split;
use klartext_learn::{Features, Model, Task};
use klartext_monitor::profile::ReferenceProfile;
use serde::{Deserialize, Serialize};

/// What a supervised kind says of itself; everything else of [`crate::Kind`] it gets
/// from the shared procedure (see `impl Kind for T` in [`crate::supervised`]).
pub trait Target: Sync + Send {
    fn use_case_kind(&self) -> UseCaseKind;
    fn task(&self) -> Task;
    /// The gates it measures, in report order.
    fn gate_specs(&self) -> &'static [crate::gates::GateSpec];
    /// Checks of the use-case file beyond a target column and the gates.
    fn check_more(
        &self,
        _uc: &UseCase,
        _file: &str,
        _text: &str,
    ) -> std::result::Result<(), klartext_core::UseCaseError> {
        Ok(())
    }
    /// Held-out (or training) figures from targets and raw model outputs.
    fn metrics(&self, y: &[f64], raw: &[f64]) -> Result<Metrics>;
    /// The figure whose training-minus-held-out difference is the overfitting gap.
    fn gap_figure(&self, m: &Metrics) -> f64;
    /// Its measure of one of its gates on a report (and the dataset's quality report).
    fn measure(&self, key: &str, r: &TrainingReport, data: Option<&QualityReport>) -> Measured;
    /// The held-out figures in one line, for the summary.
    fn figures_line(&self, m: &Metrics) -> String;
    /// The one figure a list of versions shows, by name.
    fn headline(&self, m: &Metrics) -> (&'static str, Option<f64>);
    /// The model card's results table.
    fn metric_rows(
        &self,
        held_out: &Metrics,
        training: &Metrics,
    ) -> Vec<crate::supervised::card::MetricRow>;
    /// What feedback means: read a reported outcome.
    fn read_outcome(
        &self,
        uc: &UseCase,
        raw: &serde_json::Value,
    ) -> std::result::Result<klartext_core::Outcome, String>;
    /// Whether monitoring judges live performance from feedback.
    fn live_performance(&self) -> bool;
}

/// Held-out (or training) figures; the ones that do not apply to the task are absent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    pub n: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr_auc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brier: Option<f64>,
    /// Expected calibration error, 10 equal-width bins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration_error: Option<f64>,
    /// Positive rate in the top 10% of scores over the overall positive rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lift_top10: Option<f64>,
    /// Share of all positives found in the top 10% of scores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gain_top10: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rmse: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r2: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectedFairness {
    pub attribute: String,
    pub report: FairnessReport,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    pub feature: String,
    /// Mean absolute contribution over held-out rows (raw-score units).
    pub mean_abs_contribution: f64,
}

/// Everything a training run found out; stored with the model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingReport {
    pub usecase: String,
    /// Absent in reports written before kinds were recorded (`task` says which).
    #[serde(default)]
    pub kind: Option<UseCaseKind>,
    pub task: Task,
    pub dataset_id: String,
    pub seed: u64,
    pub rows_total: usize,
    pub rows_train: usize,
    pub rows_test: usize,
    pub rows_without_target: usize,
    /// How the held-out rows were chosen, in words.
    pub split: String,
    pub features: Vec<String>,
    pub cv: CvTable,
    pub learner: String,
    /// On the held-out rows.
    pub metrics: Metrics,
    /// On the training rows (for the overfitting gap).
    pub train_metrics: Metrics,
    /// Training minus held-out AUC (classification) or R² (regression).
    pub overfit_gap: f64,
    pub threshold: Option<f64>,
    /// When the target has more than two values: the classes counted as "not positive"
    /// (one class against the rest), most frequent first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_classes: Vec<String>,
    pub fairness: Vec<ProtectedFairness>,
    pub gates: Vec<GateResult>,
    pub gates_passed: bool,
    pub importance: Vec<Importance>,
    pub artifact_format: u32,
    pub klartext_version: String,
}

pub struct Trained {
    pub model: Supervised,
    pub bytes: Vec<u8>,
    /// Short version id and full SHA-256 of `bytes`.
    pub version: String,
    pub sha256: String,
    pub report: TrainingReport,
    /// The training rows' features and the held-out scores, for drift monitoring.
    pub reference: ReferenceProfile,
}

impl std::fmt::Debug for Trained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trained")
            .field("version", &self.version)
            .finish()
    }
}

/// The supervised kind of a use case.
fn target_of(uc: &UseCase) -> Result<&'static dyn Target> {
    match uc.kind {
        UseCaseKind::Classification => Ok(&crate::classification::Classification),
        UseCaseKind::Regression => Ok(&crate::regression::Regression),
        other => Err(KindError::UseCase(format!(
            "use case `{}` is of kind {other}, which does not learn from a target column",
            uc.id
        ))),
    }
}

/// The target as 0/1 (classification) or numbers; `None` where missing.
fn target_values(frame: &Frame, uc: &UseCase, task: Task) -> Result<Vec<Option<f64>>> {
    let col = frame.column(&uc.data.target).ok_or_else(|| {
        KindError::Data(format!(
            "the data has no target column `{}`",
            uc.data.target
        ))
    })?;
    if task == Task::BinaryClassification {
        check_classes(&target_classes(&col.data), uc)?;
    }
    Ok(match (&col.data, task) {
        (ColumnData::Str(s), Task::BinaryClassification) => {
            let pos: Vec<bool> = s.levels.iter().map(|l| uc.is_positive(l)).collect();
            s.codes
                .iter()
                .map(|&c| (c != MISSING_CODE).then(|| f64::from(u8::from(pos[c as usize]))))
                .collect()
        }
        (ColumnData::Num(v), Task::BinaryClassification) => v
            .iter()
            .map(|&x| (!x.is_nan()).then(|| f64::from(u8::from(uc.is_positive(&format_number(x))))))
            .collect(),
        (ColumnData::Num(v), Task::Regression) => {
            v.iter().map(|&x| (!x.is_nan()).then_some(x)).collect()
        }
        (ColumnData::Str(_), Task::Regression) => {
            return Err(KindError::Data(format!(
                "regression target `{}` is not numeric",
                uc.data.target
            )))
        }
    })
}

/// The target's distinct values with their row counts, most frequent first.
fn target_classes(data: &ColumnData) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = match data {
        ColumnData::Str(s) => {
            let counts = s.level_counts();
            s.levels
                .iter()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(l, n)| (l.clone(), n as usize))
                .collect()
        }
        ColumnData::Num(v) => {
            let mut counts: std::collections::BTreeMap<u64, usize> = Default::default();
            for x in v.iter().filter(|x| !x.is_nan()) {
                // Bits of the value: -0.0 and 0.0 are one class.
                *counts.entry((x + 0.0).to_bits()).or_default() += 1;
            }
            counts
                .into_iter()
                .map(|(b, n)| (format_number(f64::from_bits(b)), n))
                .collect()
        }
    };
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// The classes listed for a message: `basic` (120 rows), ... at most eight.
fn list_classes(classes: &[(String, usize)]) -> String {
    let mut s: Vec<String> = classes
        .iter()
        .take(8)
        .map(|(l, n)| format!("`{l}` ({n} rows)"))
        .collect();
    if classes.len() > 8 {
        s.push(format!("and {} more", classes.len() - 8));
    }
    s.join(", ")
}

/// Classification predicts one class against the rest. A target with more than two
/// values only becomes that when the use case says which class is predicted: never
/// binarised silently.
fn check_classes(classes: &[(String, usize)], uc: &UseCase) -> Result<()> {
    let positives = classes.iter().filter(|(l, _)| uc.is_positive(l)).count();
    let target = &uc.data.target;
    match (&uc.data.positive, classes.len()) {
        (_, 0) => Err(KindError::Data(format!(
            "target `{target}` has no values; classification needs two classes"
        ))),
        (None, n) if n > 2 => Err(KindError::Data(format!(
            "target `{target}` has {n} classes: {}; classification predicts one class against \
             the rest, so name it in the use case's [data] section, for example \
             `positive = \"{}\"` (multiclass models are not supported)",
            list_classes(classes),
            classes.last().map_or("", |c| c.0.as_str())
        ))),
        (None, _) if positives == 0 => Err(KindError::Data(format!(
            "no value of target `{target}` reads as yes: {}; name the class to predict in \
             the use case's [data] section, for example `positive = \"{}\"`",
            list_classes(classes),
            classes.last().map_or("", |c| c.0.as_str())
        ))),
        (Some(p), _) if positives == 0 => Err(KindError::Data(format!(
            "no row's target `{target}` is the positive class `{}`; its values are {}",
            p.as_text(),
            list_classes(classes)
        ))),
        _ => Ok(()),
    }
}

/// Cross-validation deals each class over its folds: a class with fewer training rows
/// than folds leaves a fold without it. Say so, with the smallest count that works,
/// instead of a fold's "single class".
fn check_rows_per_fold(
    uc: &UseCase,
    y_all: &[f64],
    y_train: &[f64],
    test_fraction: f64,
) -> Result<()> {
    let k = klartext_learn::select::CV_FOLDS;
    for (class, name) in [
        (
            1.0,
            uc.positive_label()
                .map_or_else(|| "the positive class".into(), |p| format!("`{p}`")),
        ),
        (0.0, "the other class".to_string()),
    ] {
        let all = y_all.iter().filter(|&&v| v == class).count();
        let train = y_train.iter().filter(|&&v| v == class).count();
        if train < k {
            // The split holds out round(share × n) rows of each class.
            let needed = (1..)
                .find(|&n: &usize| {
                    let test = (test_fraction * n as f64).round() as usize;
                    test >= 1 && n - test >= k
                })
                .unwrap_or(k + 1);
            return Err(KindError::Data(format!(
                "too few rows of {name} in target `{}`: {all} in all, {train} left for \
                 training after the held-out share; {k}-fold cross-validation needs at least \
                 {k} in training, so at least {needed} rows of each class",
                uc.data.target
            )));
        }
    }
    Ok(())
}

/// The classes folded into "not positive" when a target has more than two values.
fn other_classes(frame: &Frame, uc: &UseCase, task: Task) -> Vec<String> {
    if task != Task::BinaryClassification {
        return Vec::new();
    }
    let Some(col) = frame.column(&uc.data.target) else {
        return Vec::new();
    };
    let classes = target_classes(&col.data);
    if classes.len() <= 2 {
        return Vec::new();
    }
    classes
        .into_iter()
        .filter(|(l, _)| !uc.is_positive(l))
        .map(|(l, _)| l)
        .collect()
}

/// Group label of each row for a protected attribute (numbers with many values in
/// quartile bands, as the data report shows them).
fn group_labels(frame: &Frame, column: &str) -> Option<Vec<String>> {
    let col = frame.column(column)?;
    Some(match &col.data {
        ColumnData::Str(s) => s
            .codes
            .iter()
            .map(|&c| {
                if c == MISSING_CODE {
                    "(missing)".into()
                } else {
                    s.levels[c as usize].clone()
                }
            })
            .collect(),
        ColumnData::Num(v) => {
            let mut distinct: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            if distinct.len() <= 10 {
                v.iter()
                    .map(|&x| {
                        if x.is_nan() {
                            "(missing)".into()
                        } else {
                            format_number(x)
                        }
                    })
                    .collect()
            } else {
                let mut sorted: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                sorted.sort_by(f64::total_cmp);
                let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p) as usize];
                let edges = [q(0.25), q(0.5), q(0.75)];
                v.iter()
                    .map(|&x| {
                        if x.is_nan() {
                            return "(missing)".into();
                        }
                        match edges.iter().position(|&e| x <= e) {
                            Some(0) => format!("up to {}", format_number(edges[0])),
                            Some(i) => format!(
                                "{} to {}",
                                format_number(edges[i - 1]),
                                format_number(edges[i])
                            ),
                            None => format!("above {}", format_number(edges[2])),
                        }
                    })
                    .collect()
            }
        }
    })
}

/// Train a classification or regression use case on a registered frame.
/// `data_report` is the dataset's quality report (for the data gates); `progress` hears
/// about cross-validation.
pub fn train(
    frame: &Frame,
    schema: &Schema,
    uc: &UseCase,
    dataset_id: &str,
    data_report: Option<&QualityReport>,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Trained> {
    let kind = target_of(uc)?;
    let task = kind.task();
    let target = target_values(frame, uc, task)?;
    let labelled: Vec<usize> = (0..frame.n_rows).filter(|&i| target[i].is_some()).collect();
    let rows_without_target = frame.n_rows - labelled.len();
    if labelled.len() < 20 {
        return Err(KindError::Data(format!(
            "only {} rows have a target value; training needs at least 20",
            labelled.len()
        )));
    }
    let y_all: Vec<f64> = labelled
        .iter()
        .map(|&i| target[i].expect("labelled"))
        .collect();

    // Held-out rows: the latest ones when the use case names a time column (the model
    // must predict the future), else a stratified random share.
    let (train_pos, test_pos, split) = if uc.data.time.is_empty() {
        let (tr, te) = train_test_split(task, &y_all, opts.test_fraction, opts.seed)?;
        let how = match task {
            Task::BinaryClassification => "stratified",
            Task::Regression => "random",
        };
        (
            tr,
            te,
            format!(
                "{how} {:.0}/{:.0} split, seed {}",
                (1.0 - opts.test_fraction) * 100.0,
                opts.test_fraction * 100.0,
                opts.seed
            ),
        )
    } else {
        let time = match frame.column(&uc.data.time).map(|c| &c.data) {
            Some(ColumnData::Num(v)) => v,
            _ => {
                return Err(KindError::Data(format!(
                    "time column `{}` is not a date or number",
                    uc.data.time
                )))
            }
        };
        let mut order: Vec<usize> = (0..labelled.len()).collect();
        // Rows without a time cannot be "the latest": they stay in training.
        let when = |i: usize| {
            let t = time[labelled[i]];
            if t.is_nan() {
                f64::NEG_INFINITY
            } else {
                t
            }
        };
        order.sort_by(|&a, &b| when(a).total_cmp(&when(b)).then(a.cmp(&b)));
        let cut = ((1.0 - opts.test_fraction) * order.len() as f64).round() as usize;
        let (mut tr, mut te) = (order[..cut].to_vec(), order[cut..].to_vec());
        tr.sort_unstable();
        te.sort_unstable();
        (
            tr,
            te,
            format!(
                "time-ordered on `{}`: the latest {:.0}% held out",
                uc.data.time,
                opts.test_fraction * 100.0
            ),
        )
    };
    let train_rows: Vec<usize> = train_pos.iter().map(|&p| labelled[p]).collect();
    let test_rows: Vec<usize> = test_pos.iter().map(|&p| labelled[p]).collect();
    let y_train: Vec<f64> = train_pos.iter().map(|&p| y_all[p]).collect();
    let y_test: Vec<f64> = test_pos.iter().map(|&p| y_all[p]).collect();
    if task == Task::BinaryClassification {
        for (what, y) in [("training", &y_train), ("held-out", &y_test)] {
            let pos = y.iter().filter(|&&v| v == 1.0).count();
            if pos == 0 || pos == y.len() {
                return Err(KindError::Data(format!(
                    "the {what} rows hold a single class of `{}` ({pos} positive of {}); classification needs both",
                    uc.data.target,
                    y.len()
                )));
            }
        }
    }

    if task == Task::BinaryClassification {
        check_rows_per_fold(uc, &y_all, &y_train, opts.test_fraction)?;
    }

    let encoder = Encoder::fit(frame, schema, uc, &train_rows)?;
    let x_train = encoder.encode(frame, &train_rows)?;
    let x_test = encoder.encode(frame, &test_rows)?;

    let (model, cv) = auto_fit(&x_train, &y_train, task, opts.seed, progress)?;
    let raw_train = model.predict_raw_batch(&x_train)?;
    let raw_test = model.predict_raw_batch(&x_test)?;
    let metrics = kind.metrics(&y_test, &raw_test)?;
    let train_metrics = kind.metrics(&y_train, &raw_train)?;
    let overfit_gap = kind.gap_figure(&train_metrics) - kind.gap_figure(&metrics);

    // Classification labels: flag as many customers as were positive in training.
    let threshold = (task == Task::BinaryClassification).then(|| {
        let mut p = scores_of(task, &raw_train);
        p.sort_by(|a, b| b.total_cmp(a));
        let rate = y_train.iter().sum::<f64>() / y_train.len() as f64;
        let k = ((rate * p.len() as f64).round() as usize).clamp(1, p.len());
        p[k - 1]
    });

    let mut fairness = Vec::new();
    if let Some(t) = threshold {
        let p_test = scores_of(task, &raw_test);
        let decided = decisions(&p_test, t);
        for attr in &uc.data.protected {
            if let Some(all) = group_labels(frame, attr) {
                let groups: Vec<&str> = test_rows.iter().map(|&r| all[r].as_str()).collect();
                fairness.push(ProtectedFairness {
                    attribute: attr.clone(),
                    report: fairness_report(&y_test, &decided, &groups)?,
                });
            }
        }
    }

    let importance = importance(&model, &encoder, &x_test)?;
    let other_classes = other_classes(frame, uc, task);
    let header = Header {
        task,
        target: uc.data.target.clone(),
        positive: uc.positive_label(),
        negative: if other_classes.is_empty() {
            negative_label(frame, uc, task)
        } else {
            uc.positive_label().map(|p| format!("not {p}"))
        },
        threshold,
        encoder: encoder.clone(),
    };
    let supervised = Supervised {
        lineage: Lineage {
            usecase: uc.id.clone(),
            dataset_id: dataset_id.to_owned(),
            seed: opts.seed,
            learner: cv.rows[cv.chosen].name.clone(),
        },
        header,
        model,
    };
    let bytes = supervised.to_bytes();
    let (version, sha256) = crate::artifact::Artifact::version_of(&bytes);

    let mut report = TrainingReport {
        usecase: uc.id.clone(),
        kind: Some(uc.kind),
        task,
        dataset_id: dataset_id.to_owned(),
        seed: opts.seed,
        rows_total: frame.n_rows,
        rows_train: train_rows.len(),
        rows_test: test_rows.len(),
        rows_without_target,
        split,
        features: encoder.features.iter().map(|f| f.name.clone()).collect(),
        learner: cv.rows[cv.chosen].name.clone(),
        cv,
        metrics,
        train_metrics,
        overfit_gap,
        threshold,
        other_classes,
        fairness,
        gates: Vec::new(),
        gates_passed: true,
        importance,
        artifact_format: crate::artifact::ENVELOPE_VERSION,
        klartext_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    report.gates = evaluate(uc, kind.gate_specs(), |key| {
        kind.measure(key, &report, data_report)
    });
    report.gates_passed = report.gates.iter().all(|g| g.passed);
    // Live traffic is compared with what the model learned from, and its scores with
    // the scores on rows it did not see.
    let held_out_scores = scores_of(task, &raw_test);
    let mut reference = ReferenceProfile::build(
        &supervised.header.encoder.log_frame(frame, &train_rows)?,
        &held_out_scores,
    );
    for (c, f) in reference.columns.iter_mut().zip(&encoder.features) {
        c.datetime = f.kind == klartext_core::ColumnKind::Datetime;
    }
    Ok(Trained {
        model: supervised,
        bytes,
        version,
        sha256,
        report,
        reference,
    })
}

/// The most frequent target value that is not positive, as labels name it.
fn negative_label(frame: &Frame, uc: &UseCase, task: Task) -> Option<String> {
    if task != Task::BinaryClassification {
        return None;
    }
    match &frame.column(&uc.data.target)?.data {
        ColumnData::Str(s) => {
            let counts = s.level_counts();
            (0..s.levels.len())
                .filter(|&i| counts[i] > 0 && !uc.is_positive(&s.levels[i]))
                .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
                .map(|i| s.levels[i].clone())
        }
        ColumnData::Num(_) => Some("0".into()),
    }
}

/// Mean |contribution| per feature over (up to 2,000) held-out rows.
fn importance(model: &Model, encoder: &Encoder, x: &Features) -> Result<Vec<Importance>> {
    let n = x.n_rows.min(2000);
    let mut sums = vec![0.0f64; encoder.features.len()];
    let mut row = Vec::new();
    for i in 0..n {
        x.row_into(i, &mut row);
        let e = model.explain(&row)?;
        for (s, c) in sums.iter_mut().zip(&e.contributions) {
            *s += c.abs();
        }
    }
    let mut out: Vec<Importance> = encoder
        .features
        .iter()
        .zip(sums)
        .map(|(f, s)| Importance {
            feature: f.name.clone(),
            mean_abs_contribution: if n == 0 { 0.0 } else { s / n as f64 },
        })
        .collect();
    out.sort_by(|a, b| {
        b.mean_abs_contribution
            .total_cmp(&a.mean_abs_contribution)
            .then(a.feature.cmp(&b.feature))
    });
    Ok(out)
}
