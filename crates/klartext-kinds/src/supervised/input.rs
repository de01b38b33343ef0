//! Checking a request's features against the model's encoder before scoring: unknown
//! fields and wrong types are refused (each named), missing ones are allowed (the models
//! handle missing values), values outside what training saw are flagged as warnings.

use crate::kind::Problem as FieldProblem;
use crate::supervised::encode::{Encoder, Encoding};
use klartext_core::frame::format_number;
use klartext_core::ColumnKind;
use serde_json::{Map, Value};

/// A request's features as the encoder reads them (text by feature, in encoder order).
#[derive(Debug)]
pub struct Checked {
    pub values: Vec<Option<String>>,
    pub warnings: Vec<FieldProblem>,
}

pub fn check(
    enc: &Encoder,
    features: &Map<String, Value>,
    prefix: &str,
) -> Result<Checked, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for name in features.keys() {
        if !enc.features.iter().any(|f| &f.name == name) {
            // The model's features are named once, with the first unknown one: an answer
            // stays small however many unknown fields a request holds.
            let message = if problems.is_empty() {
                let known: Vec<&str> = enc.features.iter().map(|f| f.name.as_str()).collect();
                format!(
                    "unknown feature; the model's features are: {}",
                    known.join(", ")
                )
            } else {
                "unknown feature".to_owned()
            };
            problems.push(FieldProblem {
                field: format!("{prefix}{}", shown(name)),
                message,
            });
        }
    }
    let mut values = Vec::with_capacity(enc.features.len());
    for f in &enc.features {
        let field = || format!("{prefix}{}", f.name);
        let v = match features.get(&f.name) {
            None | Some(Value::Null) => {
                values.push(None);
                continue;
            }
            Some(v) => v,
        };
        let wrong = |expected: &str| FieldProblem {
            field: field(),
            message: format!("expected {expected}, got {}", type_name(v)),
        };
        let text = match (&f.encoding, v) {
            (Encoding::Numeric { .. }, Value::String(s)) if f.kind == ColumnKind::Datetime => {
                Ok(s.clone())
            }
            (Encoding::Numeric { .. } | Encoding::BooleanText, Value::Bool(b))
                if f.kind == ColumnKind::Boolean || matches!(f.encoding, Encoding::BooleanText) =>
            {
                Ok(b.to_string())
            }
            (Encoding::Numeric { .. }, Value::String(s)) if f.kind == ColumnKind::Boolean => {
                Ok(s.clone())
            }
            (Encoding::BooleanText, Value::String(s)) => Ok(s.clone()),
            (Encoding::Numeric { min, max }, Value::Number(n)) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                // A feature without any training value has no range to compare with.
                if let (Some(lo), Some(hi)) = (*min, *max) {
                    if f.kind != ColumnKind::Boolean && (x < lo || x > hi) {
                        warnings.push(FieldProblem {
                            field: field(),
                            message: format!(
                                "{x} is outside the range seen in training ({} to {}); the score extrapolates",
                                format_number(lo),
                                format_number(hi)
                            ),
                        });
                    }
                }
                Ok(n.to_string())
            }
            (Encoding::Numeric { .. }, _) => Err(wrong(match f.kind {
                ColumnKind::Datetime => "a date (text) or a number",
                ColumnKind::Boolean => "true or false",
                _ => "a number",
            })),
            (Encoding::BooleanText, _) => Err(wrong("true or false")),
            (Encoding::Categorical { levels, other }, Value::String(_) | Value::Number(_)) => {
                let s = match v {
                    Value::Number(n) => format_number(n.as_f64().unwrap_or(f64::NAN)),
                    Value::String(s) => s.trim().to_owned(),
                    _ => unreachable!("matched above"),
                };
                if !s.is_empty() && !levels.contains(&s) {
                    warnings.push(FieldProblem {
                        field: field(),
                        message: format!(
                            "`{s}` was not seen in training (or too rarely); it counts as {}",
                            if *other { "another value" } else { "missing" }
                        ),
                    });
                }
                Ok(s)
            }
            (Encoding::Categorical { .. }, _) => Err(wrong("text")),
        };
        match text {
            Ok(t) => values.push(Some(t)),
            Err(p) => {
                problems.push(p);
                values.push(None);
            }
        }
    }
    if problems.is_empty() {
        Ok(Checked { values, warnings })
    } else {
        Err(problems)
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A field name as errors show it: at most 100 characters.
fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    match name.char_indices().nth(100) {
        None => name.into(),
        Some((end, _)) => format!("{}…", &name[..end]).into(),
    }
}
