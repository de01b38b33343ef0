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
    LifetimeValue,
    Anomaly,
    Recommendation,
    Allocation,
    Content,
}

impl UseCaseKind {
    /// Every kind the use-case file accepts, in the order the file's comment lists them.
    pub const ALL: [UseCaseKind; 8] = [
        UseCaseKind::Classification,
        UseCaseKind::Regression,
        UseCaseKind::Segmentation,
        UseCaseKind::LifetimeValue,
        UseCaseKind::Anomaly,
        UseCaseKind::Recommendation,
        UseCaseKind::Allocation,
        UseCaseKind::Content,
    ];

    pub fn parse(s: &str) -> Option<UseCaseKind> {
        UseCaseKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UseCaseKind::Classification => "classification",
            UseCaseKind::Regression => "regression",
            UseCaseKind::Segmentation => "segmentation",
            UseCaseKind::LifetimeValue => "lifetime_value",
            UseCaseKind::Anomaly => "anomaly",
            UseCaseKind::Recommendation => "recommendation",
            UseCaseKind::Allocation => "allocation",
            UseCaseKind::Content => "content",
        }
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
    /// The `[<kind>]` table: settings only the use case's kind reads (empty when absent).
    #[serde(skip)]
    pub settings: toml::Table,
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

/// The `[gates]` table: thresholds a model version must meet to be promoted, by name.
/// Which names a use case may set, and what each measures, is its kind's to say (the
/// kind checks the table when the file is loaded); here they are only numbers and flags.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Gates(pub std::collections::BTreeMap<String, GateValue>);

/// One gate's threshold: a number (`min_auc = 0.75`) or a flag (`no_leakage = true`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GateValue {
    Number(f64),
    Flag(bool),
}

impl<'de> Deserialize<'de> for GateValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<GateValue, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = GateValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number (or true/false for a yes/no gate)")
            }
            fn visit_bool<E>(self, b: bool) -> Result<GateValue, E> {
                Ok(GateValue::Flag(b))
            }
            fn visit_i64<E>(self, x: i64) -> Result<GateValue, E> {
                Ok(GateValue::Number(x as f64))
            }
            fn visit_u64<E>(self, x: u64) -> Result<GateValue, E> {
                Ok(GateValue::Number(x as f64))
            }
            fn visit_f64<E>(self, x: f64) -> Result<GateValue, E> {
                Ok(GateValue::Number(x))
            }
        }
        d.deserialize_any(V)
    }
}

impl Gates {
    /// A numeric gate's threshold, if the use case sets it.
    pub fn number(&self, key: &str) -> Option<f64> {
        match self.0.get(key) {
            Some(GateValue::Number(x)) => Some(*x),
            _ => None,
        }
    }

    /// A yes/no gate, if the use case sets it.
    pub fn flag(&self, key: &str) -> Option<bool> {
        match self.0.get(key) {
            Some(GateValue::Flag(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
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

impl UseCaseError {
    /// An error at a byte range of the file (or at no place).
    pub fn at(
        file: &str,
        text: &str,
        span: Option<std::ops::Range<usize>>,
        message: &str,
    ) -> UseCaseError {
        let (line, column) = span.map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        UseCaseError {
            file: file.to_owned(),
            line,
            column,
            message: message.trim().to_owned(),
        }
    }

    /// An error about a dotted key (`data.target`, `gates.min_auc`, `gates`), placed
    /// where the file writes it.
    pub fn at_key(file: &str, text: &str, dotted: &str, message: String) -> UseCaseError {
        let (line, column) = locate_key(text, dotted).unwrap_or((0, 0));
        UseCaseError {
            file: file.to_owned(),
            line,
            column,
            message,
        }
    }
}

impl UseCase {
    /// Parse a use-case file and check what every kind shares. `file` names it in
    /// errors; `expected_id`, when given, is the id the file name implies
    /// (`usecases/<id>.toml`). The `[<kind>]` table of the file's kind is kept raw in
    /// [`UseCase::settings`] for the kind to read; a table for another kind is refused.
    /// The kind's own checks (its gates, its table, its data roles) are the kinds
    /// registry's to add: `klartext_kinds::usecase::load` runs both.
    pub fn parse(
        file: &str,
        text: &str,
        expected_id: Option<&str>,
    ) -> Result<UseCase, UseCaseError> {
        let positioned = |e: toml::de::Error| UseCaseError::at(file, text, e.span(), e.message());
        let mut root = toml::de::DeTable::parse(text).map_err(positioned)?;
        // The kind tables come out first: the rest is the common file, unknown keys refused.
        let mut tables = Vec::new();
        for k in UseCaseKind::ALL {
            let key = root
                .get_ref()
                .keys()
                .find(|n| n.get_ref() == k.as_str())
                .cloned();
            if let Some(key) = key {
                let v = root.get_mut().remove(&key).expect("the key was just found");
                tables.push((k, v));
            }
        }
        let mut uc =
            UseCase::deserialize(toml::de::Deserializer::from(root)).map_err(positioned)?;
        for (k, v) in tables {
            if k != uc.kind {
                return Err(UseCaseError::at(
                    file,
                    text,
                    Some(v.span()),
                    &format!(
                        "`[{k}]` holds the settings of {k} use cases; this use case is of kind {}",
                        uc.kind
                    ),
                ));
            }
            let span = v.span();
            if !v.get_ref().is_table() {
                return Err(UseCaseError::at(
                    file,
                    text,
                    Some(span),
                    &format!("`{k}` must be a table, `[{k}]`"),
                ));
            }
            uc.settings = toml::Table::deserialize(toml::de::ValueDeserializer::from(v))
                .map_err(positioned)?;
        }
        let problems = uc.problems(expected_id);
        if let Some((key, message)) = problems.into_iter().next() {
            return Err(UseCaseError::at_key(file, text, &key, message));
        }
        Ok(uc)
    }

    /// Read the kind's `[<kind>]` table of a use-case file as `T` (its defaults when the
    /// file has none), with the file position of a wrong or unknown key. Kinds call this
    /// when the file is loaded; later they read the validated table with [`UseCase::settings_as`].
    pub fn read_settings<T: serde::de::DeserializeOwned + Default>(
        &self,
        file: &str,
        text: &str,
    ) -> Result<T, UseCaseError> {
        let positioned = |e: toml::de::Error| UseCaseError::at(file, text, e.span(), e.message());
        let root = toml::de::DeTable::parse(text).map_err(positioned)?;
        let table = root
            .get_ref()
            .iter()
            .find(|(n, _)| n.get_ref() == self.kind.as_str())
            .map(|(_, v)| v.clone());
        match table {
            None => Ok(T::default()),
            Some(v) => T::deserialize(toml::de::ValueDeserializer::from(v)).map_err(positioned),
        }
    }

    /// The kind's table as `T`, already checked by [`UseCase::read_settings`] at load.
    pub fn settings_as<T: serde::de::DeserializeOwned + Default>(&self) -> Result<T, String> {
        if self.settings.is_empty() {
            return Ok(T::default());
        }
        T::deserialize(toml::Value::Table(self.settings.clone())).map_err(|e| e.to_string())
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

    /// The use-case file users' scripts write (also the example of docs/usecase.md):
    /// it must always load.
    pub const PRODUCT_EXAMPLE: &str = r#"id = "churn"
title = "Churn risk for subscription customers"
goal = "Find customers likely to cancel in the next 90 days so that retention calls them first."
kpi = "retention rate of contacted customers"
kind = "classification"          # classification | regression | segmentation | lifetime_value | anomaly | recommendation | allocation | content
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

    /// The example of `docs/usecase.md` is this one, byte for byte.
    #[test]
    fn the_documented_example_is_the_contract_s() {
        let doc = include_str!("../../../docs/usecase.md");
        let start = doc.find("```toml\n").expect("the page has a TOML example") + 8;
        let end = start + doc[start..].find("```").expect("the example ends");
        assert_eq!(&doc[start..end], PRODUCT_EXAMPLE);
    }

    #[test]
    fn product_example_loads() {
        let uc = UseCase::parse("usecases/churn.toml", PRODUCT_EXAMPLE, Some("churn")).unwrap();
        assert_eq!(uc.kind, UseCaseKind::Classification);
        assert_eq!(uc.risk, RiskClass::Limited);
        assert_eq!(uc.positive_label().as_deref(), Some("Yes"));
        assert_eq!(uc.data.protected, vec!["female", "senior_citizen"]);
        assert_eq!(uc.gates.number("min_auc"), Some(0.75));
        assert_eq!(uc.fallback.score, Some(0.0));
        assert_eq!(uc.retention.predictions_days, Some(365));
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text = PRODUCT_EXAMPLE.replace("kpi = ", "kip = ");
        let err = UseCase::parse("u.toml", &text, None).unwrap_err();
        assert_eq!((err.line, err.column), (4, 1), "{err}");
        assert!(err.message.contains("unknown field `kip`"), "{err}");
        let text = PRODUCT_EXAMPLE.replace("predictions_days = 365", "prediction_days = 365");
        let err = UseCase::parse("u.toml", &text, None).unwrap_err();
        assert_eq!((err.line, err.column), (28, 1), "{err}");
    }

    #[test]
    fn wrong_type_names_line_and_column() {
        let text = PRODUCT_EXAMPLE.replace("min_auc = 0.75", "min_auc = \"high\"");
        let err = UseCase::parse("u.toml", &text, None).unwrap_err();
        assert_eq!(err.line, 20, "{err}");
        assert!(err.column > 1, "{err}");
        assert!(err.to_string().starts_with("u.toml:20:"), "{err}");
        assert!(err.message.contains("a number"), "{err}");
    }

    #[test]
    fn gates_are_numbers_and_flags_by_name() {
        let uc = UseCase::parse(
            "u.toml",
            &PRODUCT_EXAMPLE.replace(
                "max_overfit_gap = 0.05",
                "max_overfit_gap = 0\nno_leakage = true",
            ),
            None,
        )
        .unwrap();
        assert_eq!(uc.gates.number("min_auc"), Some(0.75));
        assert_eq!(uc.gates.number("max_overfit_gap"), Some(0.0));
        assert_eq!(uc.gates.flag("no_leakage"), Some(true));
        assert_eq!(uc.gates.number("no_leakage"), None);
    }

    #[test]
    fn the_kind_table_is_kept_for_the_kind_and_another_kind_table_is_refused() {
        let text = format!("{PRODUCT_EXAMPLE}\n[classification]\nanything = 1\n");
        let uc = UseCase::parse("u.toml", &text, None).unwrap();
        assert_eq!(
            uc.settings.get("anything").and_then(|v| v.as_integer()),
            Some(1)
        );

        #[derive(Debug, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Settings {
            #[allow(dead_code)]
            threshold: Option<f64>,
        }
        let err = uc.read_settings::<Settings>("u.toml", &text).unwrap_err();
        assert_eq!((err.line, err.column), (31, 1), "{err}");
        assert!(err.message.contains("unknown field `anything`"), "{err}");
        assert!(UseCase::parse("u.toml", PRODUCT_EXAMPLE, None)
            .unwrap()
            .read_settings::<Settings>("u.toml", PRODUCT_EXAMPLE)
            .is_ok());

        let text = format!("{PRODUCT_EXAMPLE}\n[segmentation]\nk = 4\n");
        let err = UseCase::parse("u.toml", &text, None).unwrap_err();
        assert_eq!(err.line, 30, "{err}");
        assert!(
            err.message
                .contains("this use case is of kind classification"),
            "{err}"
        );
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
        let text = PRODUCT_EXAMPLE.replace(
            "predictions_days = 365",
            "predictions_days = 365\n\n[monitoring]\np_value = 1.75",
        );
        let err = UseCase::parse("u.toml", &text, None).unwrap_err();
        assert_eq!((err.line, err.column), (31, 1), "{err}");
        assert!(err.message.contains("above 0 and at most 1"));

        let err =
            UseCase::parse("usecases/other.toml", PRODUCT_EXAMPLE, Some("other")).unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("does not match the file name"));

        let text = PRODUCT_EXAMPLE.replace("exclude = [\"rownames\"]", "exclude = [\"churn\"]");
        let err = UseCase::parse("u.toml", &text, None).unwrap_err();
        assert_eq!(err.line, 16, "{err}");
    }

    #[test]
    fn minimal_file_loads_with_defaults() {
        let text = "id = \"seg\"\ntitle = \"t\"\ngoal = \"g\"\nkind = \"segmentation\"\nowner = \"o\"\nrisk = \"minimal\"\n";
        let uc = UseCase::parse("seg.toml", text, Some("seg")).unwrap();
        assert!(uc.data.target.is_empty());
        assert_eq!(uc.gates, Gates::default());
    }
}
