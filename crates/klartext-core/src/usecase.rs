//! The use-case file: the unit of governance, parsed and validated from TOML text.
//!
//! Unknown keys and wrong types are rejected with line and column, because a typo in a
//! gate (`min_acu`) must never silently switch the gate off.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UseCaseKind {
    Classification,
    Regression,
    Segmentation,
    Anomaly,
    Recommendation,
    Allocation,
    Content,
}

impl UseCaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UseCaseKind::Classification => "classification",
            UseCaseKind::Regression => "regression",
            UseCaseKind::Segmentation => "segmentation",
            UseCaseKind::Anomaly => "anomaly",
            UseCaseKind::Recommendation => "recommendation",
            UseCaseKind::Allocation => "allocation",
            UseCaseKind::Content => "content",
        }
    }

    /// Kinds that learn from a target column.
    pub fn needs_target(self) -> bool {
        matches!(self, UseCaseKind::Classification | UseCaseKind::Regression)
    }
}

impl fmt::Display for UseCaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// EU AI Act risk class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskClass {
    Minimal,
    Limited,
    High,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UseCase {
    pub id: String,
    pub title: String,
    pub goal: String,
    #[serde(default)]
    pub kpi: String,
    /// What a correct decision is worth, in words or money, for the model card.
    #[serde(default)]
    pub business_value: String,
    pub kind: UseCaseKind,
    pub owner: String,
    pub risk: RiskClass,
    #[serde(default)]
    pub legal_basis: String,
    /// Decisions wait for human review (GDPR Art. 22).
    #[serde(default)]
    pub significant_effect: bool,
    #[serde(default)]
    pub data: DataSpec,
    #[serde(default)]
    pub gates: Gates,
    #[serde(default)]
    pub fallback: Fallback,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub monitoring: Monitoring,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    #[serde(default)]
    pub target: String,
    /// The target value that counts as positive (classification).
    #[serde(default)]
    pub positive: Option<TomlScalar>,
    /// The subject id column.
    #[serde(default)]
    pub id: String,
    /// Optional time column for time-ordered splits.
    #[serde(default)]
    pub time: String,
    /// Columns to use as features; empty means every column not otherwise named.
    #[serde(default)]
    pub features: Vec<String>,
    /// Columns never used as features.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Checked for fairness, not used as features unless `allow_protected_features`.
    #[serde(default)]
    pub protected: Vec<String>,
    #[serde(default)]
    pub allow_protected_features: bool,
    /// Columns to replace by a keyed hash before anything is stored.
    #[serde(default)]
    pub pseudonymise: Vec<String>,
}

/// A scalar written in TOML: `positive = "Yes"`, `positive = 1` or `positive = true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TomlScalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl TomlScalar {
    /// The value as it would appear in a data file.
    pub fn as_text(&self) -> String {
        match self {
            TomlScalar::Bool(b) => b.to_string(),
            TomlScalar::Int(i) => i.to_string(),
            TomlScalar::Float(f) => f.to_string(),
            TomlScalar::Str(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    pub min_auc: Option<f64>,
    pub min_pr_auc: Option<f64>,
    pub max_log_loss: Option<f64>,
    pub max_calibration_error: Option<f64>,
    pub max_rmse: Option<f64>,
    pub max_mae: Option<f64>,
    pub min_r2: Option<f64>,
    pub max_overfit_gap: Option<f64>,
    pub min_demographic_parity_ratio: Option<f64>,
    pub max_demographic_parity_difference: Option<f64>,
    pub max_equalized_odds_difference: Option<f64>,
    /// Largest share of missing values allowed in any feature.
    pub max_missing_share: Option<f64>,
    /// Refuse training while a leakage suspect is among the features.
    pub no_leakage: Option<bool>,
}

/// What a switched-off use case answers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    pub score: Option<f64>,
    pub label: Option<String>,
    pub rule: Option<String>,
    #[serde(default)]
    pub none: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub predictions_days: Option<u32>,
    pub datasets_days: Option<u32>,
}

/// How monitoring judges drift and live performance; every threshold defaults to
/// Evidently's (p < 0.05 for the tests on small references, distance ≥ 0.1 for the
/// distances on large ones, dataset drift when half the features drift).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Monitoring {
    /// Days of logged traffic compared with the training reference; alerts are raised
    /// at most once per window.
    pub window_days: u32,
    /// Below this many logged rows in the window, no drift verdict.
    pub min_rows: u32,
    /// A KS or chi-square p-value below this is drift (references of at most 1,000 rows).
    pub p_value: f64,
    /// A normalised Wasserstein or Jensen-Shannon distance at or above this is drift.
    pub distance: f64,
    /// A PSI at or above this is worded as a shift in the findings.
    pub psi: f64,
    /// The data set has drifted when at least this share of its features drifted.
    pub drift_share: f64,
    /// `performance.degraded` when live AUC falls this far below the validation AUC.
    pub max_auc_drop: f64,
    /// Below this many predictions with feedback in a window, no performance verdict.
    pub min_feedback: u32,
}

impl Default for Monitoring {
    fn default() -> Self {
        Monitoring {
            window_days: 7,
            min_rows: 100,
            p_value: 0.05,
            distance: 0.1,
            psi: 0.2,
            drift_share: 0.5,
            max_auc_drop: 0.05,
            min_feedback: 50,
        }
    }
}

/// A use-case file that does not load, with where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct UseCaseError {
    pub file: String,
    /// 1-based; 0 when the problem has no single place in the file.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl UseCase {
    /// Parse and validate a use-case file. `file` names it in errors; `expected_id`, when
    /// given, is the id the file name implies (`usecases/<id>.toml`).
    pub fn parse(
        file: &str,
        text: &str,
        expected_id: Option<&str>,
    ) -> Result<UseCase, UseCaseError> {
        let uc: UseCase = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            UseCaseError {
                file: file.to_owned(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        let problems = uc.problems(expected_id);
        if let Some((key, message)) = problems.into_iter().next() {
            let (line, column) = locate_key(text, &key).unwrap_or((0, 0));
            return Err(UseCaseError {
                file: file.to_owned(),
                line,
                column,
                message,
            });
        }
        Ok(uc)
    }

    /// Semantic problems as (dotted key, message), in file order as far as possible.
    fn problems(&self, expected_id: Option<&str>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut bad = |key: &str, msg: String| out.push((key.to_owned(), msg));
        if !is_valid_id(&self.id) {
            bad("id", format!("id `{}` must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter", self.id));
        }
        if let Some(exp) = expected_id {
            if exp != self.id {
                bad(
                    "id",
                    format!(
                        "id `{}` does not match the file name (expected `{exp}`)",
                        self.id
                    ),
                );
            }
        }
        for (key, v) in [
            ("title", &self.title),
            ("goal", &self.goal),
            ("owner", &self.owner),
        ] {
            if v.trim().is_empty() {
                bad(key, format!("`{key}` must not be empty"));
            }
        }
        let d = &self.data;
        if self.kind.needs_target() && d.target.trim().is_empty() {
            bad(
                "data.target",
                format!(
                    "a {} use case needs `data.target`, the column to predict",
                    self.kind
                ),
            );
        }
        if self.kind == UseCaseKind::Regression && d.positive.is_some() {
            bad(
                "data.positive",
                "`data.positive` applies to classification only".into(),
            );
        }
        let named: [(&str, &str); 3] = [
            ("data.target", &d.target),
            ("data.id", &d.id),
            ("data.time", &d.time),
        ];
        for (key, col) in named {
            if col.is_empty() {
                continue;
            }
            for (list_key, list) in [
                ("data.exclude", &d.exclude),
                ("data.protected", &d.protected),
                ("data.features", &d.features),
            ] {
                if list.iter().any(|c| c == col) {
                    bad(
                        list_key,
                        format!("column `{col}` is `{key}` and cannot also be in `{list_key}`"),
                    );
                }
            }
        }
        if !d.target.is_empty() && (d.target == d.id || d.target == d.time) {
            bad(
                "data.target",
                format!(
                    "column `{}` cannot be both the target and the id or time column",
                    d.target
                ),
            );
        }
        if !d.allow_protected_features {
            for p in &d.protected {
                if d.features.contains(p) {
                    bad("data.features", format!("protected column `{p}` is listed as a feature; set `data.allow_protected_features = true` to allow it"));
                }
            }
        }
        let m = &self.monitoring;
        for (key, v) in [
            ("monitoring.p_value", m.p_value),
            ("monitoring.distance", m.distance),
            ("monitoring.drift_share", m.drift_share),
            ("monitoring.max_auc_drop", m.max_auc_drop),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                bad(key, format!("`{key}` = {v} must be above 0 and at most 1"));
            }
        }
        if !(m.psi > 0.0 && m.psi.is_finite()) {
            bad(
                "monitoring.psi",
                format!("`monitoring.psi` = {} must be above 0", m.psi),
            );
        }
        if m.window_days == 0 {
            bad(
                "monitoring.window_days",
                "`monitoring.window_days` must be at least 1".into(),
            );
        }
        let g = &self.gates;
        for (key, v) in [
            ("gates.min_auc", g.min_auc),
            ("gates.min_pr_auc", g.min_pr_auc),
            ("gates.max_calibration_error", g.max_calibration_error),
            (
                "gates.min_demographic_parity_ratio",
                g.min_demographic_parity_ratio,
            ),
            (
                "gates.max_demographic_parity_difference",
                g.max_demographic_parity_difference,
            ),
            (
                "gates.max_equalized_odds_difference",
                g.max_equalized_odds_difference,
            ),
            ("gates.max_missing_share", g.max_missing_share),
            ("gates.max_overfit_gap", g.max_overfit_gap),
        ] {
            if let Some(v) = v {
                if !(0.0..=1.0).contains(&v) {
                    bad(key, format!("`{key}` = {v} must be between 0 and 1"));
                }
            }
        }
        for (key, v) in [
            ("gates.max_rmse", g.max_rmse),
            ("gates.max_mae", g.max_mae),
            ("gates.max_log_loss", g.max_log_loss),
        ] {
            if let Some(v) = v {
                if v.is_nan() || v < 0.0 {
                    bad(key, format!("`{key}` = {v} must be zero or more"));
                }
            }
        }
        if self.kind == UseCaseKind::Regression {
            for (key, v) in [
                ("gates.min_auc", g.min_auc),
                ("gates.min_pr_auc", g.min_pr_auc),
            ] {
                if v.is_some() {
                    bad(
                        key,
                        format!("`{key}` applies to classification, not regression"),
                    );
                }
            }
        }
        let f = &self.fallback;
        let set = usize::from(f.score.is_some() || f.label.is_some())
            + usize::from(f.rule.is_some())
            + usize::from(f.none);
        if set > 1 {
            bad(
                "fallback",
                "`fallback` takes one of `score` (with optional `label`), `rule`, or `none = true`"
                    .into(),
            );
        }
        out
    }

    /// Does a target value count as the positive class? The use case's `positive`
    /// (case-insensitive, or numerically equal), else a yes-like word.
    pub fn is_positive(&self, value: &str) -> bool {
        match &self.data.positive {
            Some(p) => {
                let p = p.as_text();
                value.eq_ignore_ascii_case(&p)
                    || matches!((value.trim().parse::<f64>(), p.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
            }
            None => ["yes", "true", "1", "y", "t", "ja"]
                .contains(&value.trim().to_ascii_lowercase().as_str()),
        }
    }

    /// The positive class as text, if the use case names one.
    pub fn positive_label(&self) -> Option<String> {
        self.data.positive.as_ref().map(TomlScalar::as_text)
    }
}

fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && id.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Find where a dotted key (`data.target`, `gates`, `id`) is written, for errors found
/// after parsing. Good enough for the flat files use cases are; (0, 0) when not found.
fn locate_key(text: &str, dotted: &str) -> Option<(usize, usize)> {
    let (table, key) = match dotted.rsplit_once('.') {
        Some((t, k)) => (t, k),
        None => ("", dotted),
    };
    let mut current = String::new();
    let mut table_line = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        let indent = raw.len() - line.len();
        if let Some(rest) = line.strip_prefix('[') {
            current = rest.split(']').next().unwrap_or("").trim().to_owned();
            if current == dotted {
                table_line = Some((i + 1, indent + 1));
            }
            continue;
        }
        if current == table {
            if let Some((k, _)) = line.split_once('=') {
                if k.trim() == key {
                    return Some((i + 1, indent + 1));
                }
            }
        }
    }
    table_line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example file of PRODUCT.md, byte for byte: it must always load.
    pub const PRODUCT_EXAMPLE: &str = r#"id = "churn"
title = "Churn risk for subscription customers"
goal = "Find customers likely to cancel in the next 90 days so that retention calls them first."
kpi = "retention rate of contacted customers"
kind = "classification"          # classification | regression | segmentation | anomaly | recommendation | allocation | content
owner = "crm-team@example.com"
risk = "limited"                  # minimal | limited | high (EU AI Act)
legal_basis = "legitimate interest, GDPR Art. 6(1)(f)"
significant_effect = false        # true: decisions wait for human review (GDPR Art. 22)

[data]
target = "churn"
positive = "Yes"                  # the target value that counts as positive
id = "customer_id"                # the subject id column
time = ""                         # optional: a time column for time-ordered splits
exclude = ["rownames"]            # columns never used as features
protected = ["female", "senior_citizen"]   # checked for fairness, not used as features

[gates]
min_auc = 0.75
max_overfit_gap = 0.05
min_demographic_parity_ratio = 0.8

[fallback]
score = 0.0                       # answered while switched off (or: rule = "...", or none = true)

[retention]
predictions_days = 365
"#;

    #[test]
    fn product_example_loads() {
        let uc = UseCase::parse("usecases/churn.toml", PRODUCT_EXAMPLE, Some("churn")).unwrap();
        assert_eq!(uc.kind, UseCaseKind::Classification);
        assert_eq!(uc.risk, RiskClass::Limited);
        assert_eq!(uc.positive_label().as_deref(), Some("Yes"));
        assert_eq!(uc.data.protected, vec!["female", "senior_citizen"]);
        assert_eq!(uc.gates.min_auc, Some(0.75));
        assert_eq!(uc.fallback.score, Some(0.0));
        assert_eq!(uc.retention.predictions_days, Some(365));
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text = PRODUCT_EXAMPLE.replace("min_auc = 0.75", "min_acu = 0.75");
        let err = UseCase::parse("u.toml", &text, None).unwrap_err();
        assert_eq!((err.line, err.column), (20, 1), "{err}");
        assert!(err.message.contains("unknown field `min_acu`"), "{err}");
    }

    #[test]
    fn wrong_type_names_line_and_column() {
        let text = PRODUCT_EXAMPLE.replace("min_auc = 0.75", "min_auc = \"high\"");
        let err = UseCase::parse("u.toml", &text, None).unwrap_err();
        assert_eq!(err.line, 20, "{err}");
        assert!(err.column > 1, "{err}");
        assert!(err.to_string().starts_with("u.toml:20:"), "{err}");
    }

    #[test]
    fn bad_kind_is_rejected() {
        let text = PRODUCT_EXAMPLE.replace("kind = \"classification\"", "kind = \"magic\"");
        let err = UseCase::parse("u.toml", &text, None).unwrap_err();
        assert_eq!(err.line, 5, "{err}");
        assert!(err.message.contains("magic"), "{err}");
    }

    #[test]
    fn semantic_errors_point_at_the_key() {
        let text = PRODUCT_EXAMPLE.replace("min_auc = 0.75", "min_auc = 1.75");
        let err = UseCase::parse("u.toml", &text, None).unwrap_err();
        assert_eq!((err.line, err.column), (20, 1), "{err}");
        assert!(err.message.contains("between 0 and 1"));

        let err =
            UseCase::parse("usecases/other.toml", PRODUCT_EXAMPLE, Some("other")).unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("does not match the file name"));

        let text = PRODUCT_EXAMPLE.replace("target = \"churn\"", "target = \"\"");
        let err = UseCase::parse("u.toml", &text, None).unwrap_err();
        assert_eq!(err.line, 12, "{err}");
    }

    #[test]
    fn minimal_file_loads_with_defaults() {
        let text = "id = \"seg\"\ntitle = \"t\"\ngoal = \"g\"\nkind = \"segmentation\"\nowner = \"o\"\nrisk = \"minimal\"\n";
        let uc = UseCase::parse("seg.toml", text, Some("seg")).unwrap();
        assert!(uc.data.target.is_empty());
        assert_eq!(uc.gates, Gates::default());
    }
}
