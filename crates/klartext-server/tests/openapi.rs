//! `/openapi.json` is generated from the route table the router is built from: the
//! document's paths and methods are exactly the routes served, and its error codes are
//! exactly the registry's.

mod common;

use axum::http::StatusCode;
use common::fixture;
use klartext_server::routes::ROUTES;
use klartext_server::ErrorCode;
use serde_json::Value;
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.insert((method.clone(), path.clone()));
        }
    }
    ops
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "churn")
}

/// Every route documented for operators or admins refuses a scorer's key with 403 (and
/// one for admins an operator's), before it looks at the request. The router enforces the
/// table's role (regression: a handler that forgot its own check took any key).
#[tokio::test]
async fn every_route_above_scorer_refuses_a_scorer_key() {
    let f = fixture();
    use klartext_store::KeyRole;
    let mut checked = 0;
    for r in ROUTES.iter().filter(|r| r.role > Some(KeyRole::Scorer)) {
        let below: &[&str] = if r.role == Some(KeyRole::Admin) {
            &[&f.scorer, &f.operator]
        } else {
            &[&f.scorer]
        };
        for key in below {
            let a = f
                .call(
                    &r.method.to_uppercase(),
                    &concrete(r.path),
                    Some(key),
                    Some("application/json"),
                    "{}",
                )
                .await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{r:?}: {}", a.text);
            assert_eq!(a.body["error"]["code"], "forbidden", "{r:?}: {}", a.text);
            let may = if r.role == Some(KeyRole::Admin) {
                "an admin key may"
            } else {
                "an operator or admin key may"
            };
            assert!(a.text.contains(may), "{r:?}: {}", a.text);
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} routes above scorer");
}

#[tokio::test]
async fn openapi_document_lists_exactly_the_routes_the_router_serves() {
    let f = fixture();
    let a = f.call("GET", "/openapi.json", None, None, "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.content_type.starts_with("application/json"));
    let doc = a.body;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(&doc, klartext_server::openapi::document());

    // The document and the route table agree, with no duplicates in the table.
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(table.len(), ROUTES.len(), "a route is listed twice");
    assert_eq!(documented(&doc), table);
    assert!(
        table.iter().any(|(_, p)| p.starts_with("/v1/")),
        "the /v1 routes are documented"
    );

    // And the router serves each documented operation (a route-level 404/405 would mean
    // a documented route is not served) and refuses every other method on those paths.
    let paths: BTreeSet<&str> = table.iter().map(|(_, p)| p.as_str()).collect();
    for path in paths {
        for m in METHODS {
            let is_documented = table.contains(&(m.to_owned(), path.to_owned()));
            let a = f
                .call(
                    &m.to_uppercase(),
                    &concrete(path),
                    Some(&f.operator),
                    Some("application/json"),
                    "{}",
                )
                .await;
            let code = a.body["error"]["code"].as_str().unwrap_or("");
            if is_documented {
                assert!(
                    code != "not_found" && code != "method_not_allowed",
                    "{m} {path} is documented but not served: {}",
                    a.text
                );
            } else {
                assert_eq!(
                    (a.status, code),
                    (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
                    "{m} {path} is served but not documented"
                );
            }
        }
    }

    // Documented security matches what the router enforces.
    for r in ROUTES {
        let op = &doc["paths"][r.path][r.method];
        let a = f
            .call(
                &r.method.to_uppercase(),
                &concrete(r.path),
                None,
                Some("application/json"),
                "{}",
            )
            .await;
        if r.role.is_some() {
            assert_eq!(op["security"][0]["apiKey"], serde_json::json!([]));
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{r:?}");
            assert!(op["responses"]["401"].is_object(), "{r:?}");
        } else {
            assert_eq!(op["security"], serde_json::json!([]));
            assert_ne!(a.status, StatusCode::UNAUTHORIZED, "{r:?}");
        }
        assert!(
            op["responses"][r.ok_status.to_string()].is_object(),
            "{r:?}"
        );
    }
}

#[test]
fn openapi_error_codes_equal_the_registry() {
    // The registry is one declaration (`error_codes!`): every variant is in `ALL`,
    // once, by construction; the document lists exactly those.
    let doc = klartext_server::openapi::document();
    let listed: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]
        ["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let registry: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, registry);
    assert_eq!(
        registry.iter().collect::<BTreeSet<_>>().len(),
        registry.len(),
        "codes are distinct"
    );
    for c in ErrorCode::ALL {
        assert!(
            doc["info"]["description"]
                .as_str()
                .unwrap()
                .contains(&format!(
                    "| `{}` | {} | {} |",
                    c.as_str(),
                    c.status().as_u16(),
                    c.description()
                )),
            "{c:?} is in the code table"
        );
    }

    // Each route's error responses carry its codes under their statuses, and every
    // `$ref` in the document resolves.
    for r in ROUTES {
        let responses = &doc["paths"][r.path][r.method]["responses"];
        for c in r.errors() {
            let codes = &responses[c.status().as_u16().to_string()]["x-klartext-error-codes"];
            assert!(
                codes.as_array().unwrap().iter().any(|v| v == c.as_str()),
                "{r:?}: {c:?}"
            );
        }
    }
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "$ref" {
                        out.push(x.as_str().unwrap().to_owned());
                    } else {
                        refs(x, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} resolves"
        );
    }
}

/// The checked-in copy (`docs/openapi.json`, at the workspace root) is what the code
/// generates: a route, schema or error code changed without regenerating it fails here.
/// Regenerate with `UPDATE_OPENAPI=1 cargo test -p klartext-server --test openapi`.
#[test]
fn checked_in_openapi_document_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let mut generated = serde_json::to_string_pretty(klartext_server::openapi::document()).unwrap();
    generated.push('\n');
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let Ok(checked_in) = std::fs::read_to_string(&path) else {
        panic!(
            "docs/openapi.json is missing; write it with \
             `UPDATE_OPENAPI=1 cargo test -p klartext-server --test openapi` and commit it"
        );
    };
    if checked_in != generated {
        let first = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(checked_in.lines().count().min(generated.lines().count()));
        panic!(
            "docs/openapi.json differs from the generated document (first at line {}); \
             regenerate it with `UPDATE_OPENAPI=1 cargo test -p klartext-server --test openapi` \
             and commit it",
            first + 1
        );
    }
}

/// `docs/errors.md` is written from the registry too; regenerate it with
/// `UPDATE_OPENAPI=1 cargo test -p klartext-server --test openapi`.
#[test]
fn checked_in_error_docs_are_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/errors.md");
    let generated = klartext_server::openapi::errors_markdown();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/errors.md differs from the registry; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p klartext-server --test openapi` and commit it"
    );
}
