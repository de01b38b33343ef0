//! Checking a request's features against the model's encoder before scoring: unknown
//! fields and wrong types are refused (each named), missing ones are allowed (the models
//! handle missing values), values outside what training saw are flagged as warnings.

use crate::error::FieldProblem;
use klartext_core::frame::format_number;
use klartext_core::ColumnKind;
use klartext_train::encode::{Encoder, Encoding};
use serde_json::{Map, Value};

/// A request's features as the encoder reads them (text by feature, in encoder order).
#[derive(Debug)]
pub(crate) struct Checked {
    pub values: Vec<Option<String>>,
    pub warnings: Vec<FieldProblem>,
}

pub(crate) fn check(
    enc: &Encoder,
    features: &Map<String, Value>,
    prefix: &str,
) -> Result<Checked, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for name in features.keys() {
        if !enc.features.iter().any(|f| &f.name == name) {
            let known: Vec<&str> = enc.features.iter().map(|f| f.name.as_str()).collect();
            problems.push(FieldProblem {
                field: format!("{prefix}{name}"),
                message: format!(
                    "unknown feature; the model's features are: {}",
                    known.join(", ")
                ),
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

/// JSON with object keys sorted at every level, so that equal inputs digest equally
/// whatever order the client sent the keys in.
pub(crate) fn canonical(v: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(v, &mut out);
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// [`canonical`] of `{"subject_id": subject_id, "features": features}`, without building
/// that object first.
pub(crate) fn canonical_request(
    subject_id: Option<&str>,
    features: &Map<String, Value>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"features\":");
    write_map(features, &mut out);
    out.extend_from_slice(b",\"subject_id\":");
    match subject_id {
        Some(s) => serde_json::to_writer(&mut out, s).expect("writing to a Vec"),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    out
}

fn write_map(m: &Map<String, Value>, out: &mut Vec<u8>) {
    let mut keys: Vec<&String> = m.keys().collect();
    // serde_json's map is usually sorted already; sort only when it is not.
    if !keys.windows(2).all(|w| w[0] <= w[1]) {
        keys.sort();
    }
    out.push(b'{');
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, k).expect("writing to a Vec");
        out.push(b':');
        write_canonical(&m[k], out);
    }
    out.push(b'}');
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => write_map(m, out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(x, out);
            }
            out.push(b']');
        }
        other => serde_json::to_writer(&mut *out, other).expect("writing to a Vec"),
    }
}

#[cfg(test)]
mod tests {
    use super::{canonical, canonical_request};
    use serde_json::{json, Value};

    #[test]
    fn canonical_request_is_the_canonical_form_of_the_request_object() {
        let features =
            json!({"b": 1, "a": "x\"y", "c": {"z": [1, 2.5, null], "y": true}, "é": -0.0});
        let Value::Object(m) = &features else {
            unreachable!()
        };
        for subject in [Some("c-1"), Some("quo\"te"), None] {
            let whole = canonical(&json!({"subject_id": subject, "features": features}));
            assert_eq!(
                String::from_utf8(canonical_request(subject, m)).unwrap(),
                whole
            );
        }
        assert_eq!(
            canonical(&json!({"b": 1, "a": [{"d": 1, "c": 2}]})),
            r#"{"a":[{"c":2,"d":1}],"b":1}"#
        );
    }
}
