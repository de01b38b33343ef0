//! The default model-selection procedure `klartext train` runs: k-fold stratified
//! cross-validation over a small candidate set, pick the best, refit on all rows.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{check_target, Features, Task};
use crate::error::{LearnError, Result};
use crate::gbdt::{GbdtModel, GbdtParams};
use crate::linear::{LinearModel, LinearParams};
use crate::metrics;
use crate::model::Model;
use crate::split::{complement, stratified_kfold};

/// How to fit one candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateSpec {
    Linear(LinearParams),
    Gbdt(GbdtParams),
}

/// A named candidate in the selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub name: String,
    pub spec: CandidateSpec,
}

/// The default candidates, from simple to flexible (the order matters for the
/// one-standard-error choice in [`cross_validate`]): a linear baseline and four
/// GBDT settings. GBDT settings use early stopping inside CV; the round
/// count that minimises the mean fold loss is used for the refit.
pub fn default_candidates(task: Task, seed: u64) -> Vec<Candidate> {
    let base = GbdtParams {
        num_iterations: 2000,
        early_stopping_rounds: Some(50),
        feature_fraction: 0.8,
        bagging_fraction: 0.8,
        lambda_l2: 1.0,
        seed,
        ..Default::default()
    };
    let gbdt = |name: &str, p: GbdtParams| Candidate {
        name: name.to_string(),
        spec: CandidateSpec::Gbdt(p),
    };
    vec![
        Candidate {
            name: match task {
                Task::BinaryClassification => "logistic".into(),
                Task::Regression => "ridge".into(),
            },
            spec: CandidateSpec::Linear(LinearParams::default()),
        },
        gbdt(
            "gbdt_tiny",
            GbdtParams {
                learning_rate: 0.05,
                num_leaves: 4,
                min_data_in_leaf: 20,
                lambda_l2: 0.0,
                ..base.clone()
            },
        ),
        gbdt(
            "gbdt_small",
            GbdtParams {
                learning_rate: 0.05,
                num_leaves: 8,
                min_data_in_leaf: 20,
                ..base.clone()
            },
        ),
        gbdt(
            "gbdt_regularised",
            GbdtParams {
                learning_rate: 0.05,
                num_leaves: 15,
                min_data_in_leaf: 50,
                lambda_l2: 10.0,
                ..base.clone()
            },
        ),
        gbdt(
            "gbdt_medium",
            GbdtParams {
                learning_rate: 0.05,
                num_leaves: 31,
                min_data_in_leaf: 20,
                ..base
            },
        ),
    ]
}

/// Cross-validation result of one candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvRow {
    pub name: String,
    pub spec: CandidateSpec,
    /// Metric on each fold's held-out rows.
    pub fold_scores: Vec<f64>,
    pub mean: f64,
    /// Sample standard deviation over folds.
    pub std: f64,
    /// Boosting rounds chosen by CV (GBDT only).
    pub rounds: Option<usize>,
}

/// The cross-validation table and the chosen row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvTable {
    /// `auc` (classification) or `rmse` (regression).
    pub metric: String,
    pub higher_is_better: bool,
    pub k: usize,
    pub seed: u64,
    pub rows: Vec<CvRow>,
    /// Index of the chosen row: the first (simplest) row whose mean is within one
    /// standard error (std / sqrt(k)) of the best row's mean.
    pub chosen: usize,
}

/// Progress reports for a CLI progress bar.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Cross-validation of a candidate is starting.
    Candidate {
        index: usize,
        total: usize,
        name: String,
    },
    /// A candidate's folds are done.
    CandidateDone { index: usize, mean: f64, std: f64 },
    /// The chosen candidate is being refitted on all rows.
    Refit { name: String },
}

fn score(task: Task, y: &[f64], raw: &[f64]) -> Result<f64> {
    match task {
        Task::BinaryClassification => metrics::roc_auc(y, raw),
        Task::Regression => metrics::rmse(y, raw),
    }
}

/// Fits one candidate on all rows with a fixed round count (GBDT) or as is.
pub fn fit_candidate(
    spec: &CandidateSpec,
    task: Task,
    x: &Features,
    y: &[f64],
    rounds: Option<usize>,
) -> Result<Model> {
    match spec {
        CandidateSpec::Linear(p) => Ok(Model::Linear(LinearModel::fit(
            &p.clone().check()?,
            task,
            x,
            y,
        )?)),
        CandidateSpec::Gbdt(p) => {
            let mut p = p.clone();
            if let Some(r) = rounds {
                p.num_iterations = r.max(1);
                p.early_stopping_rounds = None;
            }
            Ok(Model::Gbdt(GbdtModel::fit(&p.check()?, task, x, y)?))
        }
    }
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// k-fold (stratified for classification) cross-validation of `candidates`.
/// Folds run in parallel; every result is independent of the thread count.
pub fn cross_validate(
    x: &Features,
    y: &[f64],
    task: Task,
    candidates: &[Candidate],
    k: usize,
    seed: u64,
    progress: &mut dyn FnMut(&Progress),
) -> Result<CvTable> {
    x.validate()?;
    check_target(task, y, x.n_rows)?;
    if candidates.is_empty() {
        return Err(LearnError::invalid_param(
            "candidates",
            0,
            "at least one candidate",
        ));
    }
    let folds = stratified_kfold(task, y, k, seed)?;
    let parts: Vec<(Features, Vec<f64>, Features, Vec<f64>)> = folds
        .iter()
        .map(|va| {
            let tr = complement(x.n_rows, va);
            (
                x.take_rows(&tr),
                tr.iter().map(|&i| y[i]).collect(),
                x.take_rows(va),
                va.iter().map(|&i| y[i]).collect(),
            )
        })
        .collect();
    let mut rows = Vec::new();
    for (ci, cand) in candidates.iter().enumerate() {
        progress(&Progress::Candidate {
            index: ci,
            total: candidates.len(),
            name: cand.name.clone(),
        });
        let (fold_scores, rounds) = match &cand.spec {
            CandidateSpec::Linear(p) => {
                let cfg = p.clone().check()?;
                let scores = parts
                    .par_iter()
                    .map(|(xt, yt, xv, yv)| {
                        let m = LinearModel::fit(&cfg, task, xt, yt)?;
                        score(task, yv, &m.predict_raw_batch(xv)?)
                    })
                    .collect::<Result<Vec<f64>>>()?;
                (scores, None)
            }
            CandidateSpec::Gbdt(p) => {
                let cfg = p.clone().check()?;
                let models = parts
                    .par_iter()
                    .map(|(xt, yt, xv, yv)| {
                        GbdtModel::fit_inner(&cfg, task, xt, yt, Some((xv, yv)), false)
                    })
                    .collect::<Result<Vec<GbdtModel>>>()?;
                // One round count for all folds: the minimum of the mean fold loss
                // over the rounds every fold reached (as lightgbm.cv does).
                let len = models.iter().map(|m| m.valid_loss.len()).min().unwrap_or(0);
                let mut best = (f64::INFINITY, len.max(1));
                for i in 0..len {
                    let l =
                        models.iter().map(|m| m.valid_loss[i]).sum::<f64>() / models.len() as f64;
                    if l < best.0 {
                        best = (l, i + 1);
                    }
                }
                let r = best.1;
                let scores = models
                    .par_iter()
                    .zip(parts.par_iter())
                    .map(|(m, (_, _, xv, yv))| {
                        let mut e = m.ensemble.clone();
                        e.truncate(r);
                        score(task, yv, &e.predict_raw_batch(xv))
                    })
                    .collect::<Result<Vec<f64>>>()?;
                (scores, Some(r))
            }
        };
        let (mean, std) = mean_std(&fold_scores);
        progress(&Progress::CandidateDone {
            index: ci,
            mean,
            std,
        });
        rows.push(CvRow {
            name: cand.name.clone(),
            spec: cand.spec.clone(),
            fold_scores,
            mean,
            std,
            rounds,
        });
    }
    let higher = task == Task::BinaryClassification;
    let mut best = 0;
    for (i, r) in rows.iter().enumerate() {
        let better = if higher {
            r.mean > rows[best].mean
        } else {
            r.mean < rows[best].mean
        };
        if better {
            best = i;
        }
    }
    // One-standard-error rule (Breiman et al.): candidates are listed from simple
    // to flexible, and the first whose mean is within one standard error of the
    // best is chosen, so noise-level CV differences never buy extra complexity.
    let se = rows[best].std / (k as f64).sqrt();
    let chosen = rows
        .iter()
        .position(|r| {
            if higher {
                r.mean >= rows[best].mean - se
            } else {
                r.mean <= rows[best].mean + se
            }
        })
        .unwrap_or(best);
    Ok(CvTable {
        metric: if higher { "auc" } else { "rmse" }.into(),
        higher_is_better: higher,
        k,
        seed,
        rows,
        chosen,
    })
}

/// klartext's default training procedure: 5-fold CV of [`default_candidates`],
/// choose by mean CV score (AUC, or RMSE for regression) with the
/// one-standard-error rule, refit the choice on all rows.
/// Folds of the cross-validation [`auto_fit`] runs; every class needs at least this many
/// training rows so that each fold holds it.
pub const CV_FOLDS: usize = 5;

pub fn auto_fit(
    x: &Features,
    y: &[f64],
    task: Task,
    seed: u64,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Model, CvTable)> {
    let cands = default_candidates(task, seed);
    let table = cross_validate(x, y, task, &cands, CV_FOLDS, seed, progress)?;
    let row = &table.rows[table.chosen];
    progress(&Progress::Refit {
        name: row.name.clone(),
    });
    let model = fit_candidate(&row.spec, task, x, y, row.rounds)?;
    Ok((model, table))
}
