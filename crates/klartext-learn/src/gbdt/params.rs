//! GBDT hyperparameters: the unchecked `GbdtParams` a caller fills in and the
//! validated `GbdtConfig` that training accepts.

use serde::{Deserialize, Serialize};

use crate::error::{LearnError, Result};

/// Unchecked GBDT hyperparameters; names and defaults follow LightGBM so that
/// people who know it feel at home. Call [`GbdtParams::check`] to get a [`GbdtConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GbdtParams {
    /// Maximum number of boosting rounds (trees).
    pub num_iterations: usize,
    pub learning_rate: f64,
    /// Maximum leaves per tree (leaf-wise growth stops there).
    pub num_leaves: usize,
    /// Optional depth limit; `None` = unlimited (only `num_leaves` binds).
    pub max_depth: Option<usize>,
    pub min_data_in_leaf: usize,
    pub min_sum_hessian_in_leaf: f64,
    pub lambda_l2: f64,
    /// A split must improve the loss by more than this.
    pub min_gain_to_split: f64,
    /// Share of rows sampled (without replacement, per round) for each tree.
    pub bagging_fraction: f64,
    /// Share of features each tree may split on.
    pub feature_fraction: f64,
    /// Maximum value bins per numeric feature (a missing bin comes on top).
    pub max_bin: usize,
    /// Stop when the validation loss has not improved for this many rounds.
    pub early_stopping_rounds: Option<usize>,
    /// Share of the training rows held out for early stopping when no explicit
    /// validation set is given (stratified for classification).
    pub validation_fraction: f64,
    /// Categorical features with at most this many bins use one-vs-rest splits.
    pub max_cat_to_onehot: usize,
    /// Maximum categories on the left side of a many-vs-many categorical split.
    pub max_cat_threshold: usize,
    /// Smoothing added to the hessian when ordering categories, and minimum
    /// count for a category to take part in many-vs-many splits.
    pub cat_smooth: f64,
    /// Extra L2 penalty for many-vs-many categorical splits.
    pub cat_l2: f64,
    /// Minimum rows per categorical group between split candidates.
    pub min_data_per_group: usize,
    /// Rows sampled to find bin boundaries.
    pub bin_construct_sample_cnt: usize,
    pub seed: u64,
    /// Quantised training (LightGBM 4): gradients and hessians are rounded
    /// stochastically to a few integer levels each round, and histograms sum
    /// integers. Off by default; see the crate STATUS for its speed and accuracy.
    #[serde(skip_serializing_if = "is_false")]
    pub use_quantized_grad: bool,
    /// Gradient levels for quantised training (hessians get twice as many steps).
    #[serde(skip_serializing_if = "is_default_quant_bins")]
    pub num_grad_quant_bins: usize,
    /// With quantised training, compute leaf values from the exact gradients.
    #[serde(skip_serializing_if = "is_false")]
    pub quant_train_renew_leaf: bool,
}

// Fields added after the first model format are left out of the serialised
// parameters while they hold their defaults, so models trained without them
// keep their exact bytes.
fn is_false(b: &bool) -> bool {
    !*b
}

fn is_default_quant_bins(b: &usize) -> bool {
    *b == DEFAULT_QUANT_BINS
}

const DEFAULT_QUANT_BINS: usize = 4;

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            num_iterations: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            max_depth: None,
            min_data_in_leaf: 20,
            min_sum_hessian_in_leaf: 1e-3,
            lambda_l2: 0.0,
            min_gain_to_split: 0.0,
            bagging_fraction: 1.0,
            feature_fraction: 1.0,
            max_bin: 255,
            early_stopping_rounds: None,
            validation_fraction: 0.1,
            max_cat_to_onehot: 4,
            max_cat_threshold: 32,
            cat_smooth: 10.0,
            cat_l2: 10.0,
            min_data_per_group: 100,
            bin_construct_sample_cnt: 200_000,
            seed: 0,
            use_quantized_grad: false,
            num_grad_quant_bins: DEFAULT_QUANT_BINS,
            quant_train_renew_leaf: false,
        }
    }
}

/// Validated GBDT hyperparameters; only [`GbdtParams::check`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtConfig {
    params: GbdtParams,
}

impl GbdtConfig {
    /// The validated parameters.
    pub fn params(&self) -> &GbdtParams {
        &self.params
    }
}

fn finite_in(
    name: &'static str,
    v: f64,
    ok: impl Fn(f64) -> bool,
    expected: &'static str,
) -> Result<()> {
    if v.is_finite() && ok(v) {
        Ok(())
    } else {
        Err(LearnError::invalid_param(name, v, expected))
    }
}

impl GbdtParams {
    /// Validates every parameter, naming the first bad one.
    pub fn check(self) -> Result<GbdtConfig> {
        let p = &self;
        if p.num_iterations == 0 {
            return Err(LearnError::invalid_param(
                "num_iterations",
                0,
                "an integer >= 1",
            ));
        }
        finite_in(
            "learning_rate",
            p.learning_rate,
            |v| v > 0.0 && v <= 1.0,
            "a number in (0, 1]",
        )?;
        if !(2..=131_072).contains(&p.num_leaves) {
            return Err(LearnError::invalid_param(
                "num_leaves",
                p.num_leaves,
                "an integer in [2, 131072]",
            ));
        }
        if let Some(d) = p.max_depth {
            if d == 0 {
                return Err(LearnError::invalid_param(
                    "max_depth",
                    d,
                    "an integer >= 1 or none",
                ));
            }
        }
        if p.min_data_in_leaf == 0 {
            return Err(LearnError::invalid_param(
                "min_data_in_leaf",
                0,
                "an integer >= 1",
            ));
        }
        finite_in(
            "min_sum_hessian_in_leaf",
            p.min_sum_hessian_in_leaf,
            |v| v >= 0.0,
            "a number >= 0",
        )?;
        finite_in("lambda_l2", p.lambda_l2, |v| v >= 0.0, "a number >= 0")?;
        finite_in(
            "min_gain_to_split",
            p.min_gain_to_split,
            |v| v >= 0.0,
            "a number >= 0",
        )?;
        finite_in(
            "bagging_fraction",
            p.bagging_fraction,
            |v| v > 0.0 && v <= 1.0,
            "a number in (0, 1]",
        )?;
        finite_in(
            "feature_fraction",
            p.feature_fraction,
            |v| v > 0.0 && v <= 1.0,
            "a number in (0, 1]",
        )?;
        if !(2..=255).contains(&p.max_bin) {
            return Err(LearnError::invalid_param(
                "max_bin",
                p.max_bin,
                "an integer in [2, 255]",
            ));
        }
        if let Some(r) = p.early_stopping_rounds {
            if r == 0 {
                return Err(LearnError::invalid_param(
                    "early_stopping_rounds",
                    r,
                    "an integer >= 1 or none",
                ));
            }
        }
        finite_in(
            "validation_fraction",
            p.validation_fraction,
            |v| v > 0.0 && v < 1.0,
            "a number in (0, 1)",
        )?;
        if p.max_cat_threshold == 0 {
            return Err(LearnError::invalid_param(
                "max_cat_threshold",
                0,
                "an integer >= 1",
            ));
        }
        finite_in("cat_smooth", p.cat_smooth, |v| v >= 0.0, "a number >= 0")?;
        finite_in("cat_l2", p.cat_l2, |v| v >= 0.0, "a number >= 0")?;
        if p.bin_construct_sample_cnt < 2 {
            return Err(LearnError::invalid_param(
                "bin_construct_sample_cnt",
                p.bin_construct_sample_cnt,
                "an integer >= 2",
            ));
        }
        if !(2..=64).contains(&p.num_grad_quant_bins) || !p.num_grad_quant_bins.is_multiple_of(2) {
            return Err(LearnError::invalid_param(
                "num_grad_quant_bins",
                p.num_grad_quant_bins,
                "an even integer in [2, 64]",
            ));
        }
        Ok(GbdtConfig { params: self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        GbdtParams::default().check().unwrap();
    }

    #[test]
    fn names_the_bad_parameter() {
        let cases: Vec<(GbdtParams, &str)> = vec![
            (
                GbdtParams {
                    learning_rate: 0.0,
                    ..Default::default()
                },
                "learning_rate",
            ),
            (
                GbdtParams {
                    learning_rate: f64::NAN,
                    ..Default::default()
                },
                "learning_rate",
            ),
            (
                GbdtParams {
                    num_leaves: 1,
                    ..Default::default()
                },
                "num_leaves",
            ),
            (
                GbdtParams {
                    max_depth: Some(0),
                    ..Default::default()
                },
                "max_depth",
            ),
            (
                GbdtParams {
                    min_data_in_leaf: 0,
                    ..Default::default()
                },
                "min_data_in_leaf",
            ),
            (
                GbdtParams {
                    lambda_l2: -1.0,
                    ..Default::default()
                },
                "lambda_l2",
            ),
            (
                GbdtParams {
                    bagging_fraction: 1.5,
                    ..Default::default()
                },
                "bagging_fraction",
            ),
            (
                GbdtParams {
                    feature_fraction: 0.0,
                    ..Default::default()
                },
                "feature_fraction",
            ),
            (
                GbdtParams {
                    max_bin: 256,
                    ..Default::default()
                },
                "max_bin",
            ),
            (
                GbdtParams {
                    num_iterations: 0,
                    ..Default::default()
                },
                "num_iterations",
            ),
            (
                GbdtParams {
                    early_stopping_rounds: Some(0),
                    ..Default::default()
                },
                "early_stopping_rounds",
            ),
            (
                GbdtParams {
                    num_grad_quant_bins: 3,
                    ..Default::default()
                },
                "num_grad_quant_bins",
            ),
        ];
        for (p, name) in cases {
            match p.check() {
                Err(LearnError::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
                other => panic!("expected InvalidParameter for {name}, got {other:?}"),
            }
        }
    }

    #[test]
    fn quantisation_fields_are_serialised_only_when_set() {
        // Models trained without the newer fields keep their exact bytes.
        let plain = serde_json::to_string(&GbdtParams::default()).unwrap();
        assert!(!plain.contains("quant"), "{plain}");
        let back: GbdtParams = serde_json::from_str(&plain).unwrap();
        assert_eq!(back, GbdtParams::default());
        let q = GbdtParams {
            use_quantized_grad: true,
            num_grad_quant_bins: 8,
            ..Default::default()
        };
        let s = serde_json::to_string(&q).unwrap();
        assert!(
            s.contains("\"use_quantized_grad\":true") && s.contains("\"num_grad_quant_bins\":8")
        );
        assert_eq!(serde_json::from_str::<GbdtParams>(&s).unwrap(), q);
    }
}
