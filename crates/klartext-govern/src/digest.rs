//! The digest of a decision request kept in the log instead of the request: SHA-256 of
//! its canonical JSON, object keys sorted at every level, so that equal inputs digest
//! equally whatever order the caller sent the keys in.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Hex SHA-256 of the canonical form of `{"features": input, "subject_id": subject}`.
pub fn input_digest(subject: Option<&str>, input: &Map<String, Value>) -> String {
    hex::encode(Sha256::digest(canonical_request(subject, input)))
}

/// JSON with object keys sorted at every level, so that equal inputs digest equally
/// whatever order the client sent the keys in.
pub fn canonical(v: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(v, &mut out);
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// [`canonical`] of `{"subject_id": subject_id, "features": features}`, without building
/// that object first.
fn canonical_request(subject_id: Option<&str>, features: &Map<String, Value>) -> Vec<u8> {
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
