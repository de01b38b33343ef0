//! Gates: the thresholds a model version must meet before it may be promoted. Each
//! kind declares the gates it measures ([`GateSpec`]); loading a use case checks the
//! `[gates]` table against that list, and training evaluates the ones set, each
//! recorded passed or not.

use klartext_core::usecase::GateValue;
use klartext_core::UseCase;
use serde::{Deserialize, Serialize};

/// Which way a gate's threshold bounds its measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The measure must be at least the threshold.
    AtLeast,
    /// The measure must be at most the threshold.
    AtMost,
    /// A yes/no gate (`no_leakage = true`): its measure is a count that must be zero.
    Flag,
}

/// The values a gate's threshold may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// A share or a ratio: 0 to 1.
    Unit,
    /// An error or a loss: zero or more.
    NonNegative,
    /// `true` or `false`.
    Flag,
    /// Any number (a score that may be negative, such as R²).
    Any,
}

/// One gate a kind measures.
#[derive(Debug, Clone, Copy)]
pub struct GateSpec {
    /// The key in the use case's `[gates]` table.
    pub key: &'static str,
    pub bound: Bound,
    pub range: Range,
    /// What it measures, in words (for errors and documentation).
    pub measures: &'static str,
}

impl GateSpec {
    pub const fn new(
        key: &'static str,
        bound: Bound,
        range: Range,
        measures: &'static str,
    ) -> GateSpec {
        GateSpec {
            key,
            bound,
            range,
            measures,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The key in the use case's `[gates]` table.
    pub gate: String,
    pub threshold: f64,
    /// The measured value; `None` when it could not be measured (the gate fails).
    pub value: Option<f64>,
    pub passed: bool,
    /// What was measured, in words.
    pub detail: String,
}

/// What a kind measured for one gate.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub value: Option<f64>,
    pub detail: String,
}

/// Problems of a `[gates]` table for a kind that measures `specs`, as (dotted key,
/// message) in table order: unknown names, and thresholds out of range.
pub fn check(uc: &UseCase, specs: &[GateSpec]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, v) in &uc.gates.0 {
        let dotted = format!("gates.{key}");
        let Some(spec) = specs.iter().find(|s| s.key == key) else {
            let known: Vec<&str> = specs.iter().map(|s| s.key).collect();
            out.push((
                dotted,
                format!(
                    "unknown field `{key}`: a {} use case's gates are {}",
                    uc.kind,
                    known.join(", ")
                ),
            ));
            continue;
        };
        let problem = match (spec.range, v) {
            (Range::Flag, GateValue::Flag(_)) => None,
            (Range::Flag, GateValue::Number(_)) => Some("must be true or false".to_owned()),
            (_, GateValue::Flag(_)) => Some(format!("must be a number ({})", spec.measures)),
            (Range::Unit, GateValue::Number(x)) if !(0.0..=1.0).contains(x) => {
                Some(format!("= {x} must be between 0 and 1"))
            }
            (Range::NonNegative, GateValue::Number(x)) if x.is_nan() || *x < 0.0 => {
                Some(format!("= {x} must be zero or more"))
            }
            _ => None,
        };
        if let Some(p) = problem {
            out.push((dotted, format!("`gates.{key}` {p}")));
        }
    }
    out
}

/// Evaluate every gate the use case sets, in the order of `specs`; `measure` gives the
/// kind's measure of a gate by key.
pub fn evaluate(
    uc: &UseCase,
    specs: &[GateSpec],
    mut measure: impl FnMut(&str) -> Measured,
) -> Vec<GateResult> {
    let mut out = Vec::new();
    for spec in specs {
        // A yes/no gate set to false is not a gate (as if it were not written).
        let threshold = match (spec.bound, uc.gates.0.get(spec.key)) {
            (Bound::Flag, Some(GateValue::Flag(true))) => 0.0,
            (Bound::AtLeast | Bound::AtMost, Some(GateValue::Number(t))) => *t,
            _ => continue,
        };
        let m = measure(spec.key);
        let passed = match spec.bound {
            Bound::AtLeast => m.value.is_some_and(|v| v >= threshold),
            Bound::AtMost => m.value.is_some_and(|v| v <= threshold),
            Bound::Flag => m.value == Some(0.0),
        };
        out.push(GateResult {
            gate: spec.key.into(),
            threshold,
            value: m.value,
            passed,
            detail: m.detail,
        });
    }
    out
}
