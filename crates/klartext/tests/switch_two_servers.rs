//! Issue 5: a switch-off reaches a second server process sharing the store within one
//! second. Two real `klartext serve` processes on one project; the use case is switched
//! off (and on again) over the API through the first, with an operator key, and the time
//! until the second answers accordingly is measured from just before the switch call.
//! A key revoked in the store likewise stops working on a server that cached it.

mod common;

use common::server::*;
use serde_json::Value;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// A running `klartext serve`, killed when dropped (also when an assertion fails).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(project: &Path, port: u16) -> Server {
    Server(start(project, port))
}

/// One request; the body as JSON.
fn call(port: u16, method: &str, path: &str, key: &str, body: &str) -> (u16, Value) {
    let (status, body) = http(port, method, path, key, body).unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

const PREDICT: &str = "/v1/usecases/churn/predict";
const BODY: &str = r#"{"subject_id": "c-1", "features": {"tenure_months": 5, "contract": "month-to-month", "support_calls": 2}}"#;

/// Ask `port` until its answer's `fallback` is `want`; the time since `since`, or a panic
/// after 10 s.
fn until_fallback(port: u16, key: &str, want: bool, since: Instant) -> Duration {
    loop {
        let (status, body) = call(port, "POST", PREDICT, key, BODY);
        assert_eq!(status, 200, "{body}");
        if body["fallback"] == want {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "the second server never answered fallback={want}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn switch_off_through_one_server_reaches_a_second_server_process_within_one_second() {
    let dir = tempfile::tempdir().unwrap();
    let p = served_project(dir.path(), 1500);
    let scorer = create_key(&p, "scorer");
    let operator = create_key(&p, "operator");

    let (port_a, port_b) = (free_port(), free_port());
    let _a = serve(&p, port_a);
    let _b = serve(&p, port_b);
    for port in [port_a, port_b] {
        let (status, body) = call(port, "POST", PREDICT, &scorer, BODY);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["fallback"], false, "{body}");
    }

    // Off through A; measured from just before the call, so A's commit counts too.
    let t0 = Instant::now();
    let (status, body) = call(
        port_a,
        "POST",
        "/v1/usecases/churn/switch",
        &operator,
        r#"{"state": "off", "reason": "two-process test"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let off = until_fallback(port_b, &scorer, true, t0);
    // A answers the fallback at once (it applied its own switch).
    let (_, on_a) = call(port_a, "POST", PREDICT, &scorer, BODY);
    assert_eq!(on_a["fallback"], true, "{on_a}");

    // And on again, the same way.
    let t1 = Instant::now();
    let (status, body) = call(
        port_a,
        "POST",
        "/v1/usecases/churn/switch",
        &operator,
        r#"{"state": "on", "reason": "two-process test done"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let on = until_fallback(port_b, &scorer, false, t1);

    // A key revoked (through the CLI, i.e. the store) stops working on a server that had
    // checked and cached it, within a poll too.
    let created: Value = serde_json::from_str(&run_ok(
        klartext_in(&p).args(["keys", "create", "--role", "scorer", "--json"]),
    ))
    .unwrap();
    let (id, secret) = (
        created["id"].as_str().unwrap(),
        created["key"].as_str().unwrap(),
    );
    let (status, body) = call(port_b, "POST", PREDICT, secret, BODY);
    assert_eq!(status, 200, "{body}");
    let t2 = Instant::now();
    run_ok(klartext_in(&p).args(["keys", "revoke", id]));
    let revoked = loop {
        let (status, body) = call(port_b, "POST", PREDICT, secret, BODY);
        if status == 401 {
            assert_eq!(body["error"]["code"], "key_revoked", "{body}");
            break t2.elapsed();
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            t2.elapsed() < Duration::from_secs(10),
            "the revocation never arrived"
        );
        std::thread::sleep(Duration::from_millis(2));
    };

    println!(
        "switch-off reached the second server process in {:.0} ms, switch-on in {:.0} ms, \
         a key revocation in {:.0} ms (limit 1000 ms)",
        off.as_secs_f64() * 1e3,
        on.as_secs_f64() * 1e3,
        revoked.as_secs_f64() * 1e3
    );
    assert!(off < Duration::from_secs(1), "switch-off took {off:?}");
    assert!(on < Duration::from_secs(1), "switch-on took {on:?}");
    assert!(
        revoked < Duration::from_secs(1),
        "the revocation took {revoked:?}"
    );
}
