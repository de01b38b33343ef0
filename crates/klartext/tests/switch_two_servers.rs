//! Issue 5: a switch-off reaches a second server process sharing the store within one
//! second. Two real `klartext serve` processes on one project; the use case is switched
//! off (and on again) over the API through the first, with an operator key, and the time
//! until the second answers accordingly is measured from just before the switch call.
//! A key revoked in the store likewise stops working on a server that cached it.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn klartext(project: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_klartext"));
    c.env_remove("KLARTEXT_FAILPOINT")
        .env("KLARTEXT_PROJECT", project)
        .env("KLARTEXT_ACTOR", "test")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One HTTP/1.1 request on its own connection: (status, body as JSON).
fn http(port: u16, method: &str, path: &str, key: &str, body: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `klartext serve`, killed when dropped (also when an assertion fails).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(project: &Path, port: u16) -> Server {
    let mut child = klartext(project)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines
        .next()
        .expect("the server prints its address")
        .unwrap();
    assert!(first.contains(&format!("127.0.0.1:{port}")), "{first}");
    std::thread::spawn(move || for _ in lines {});
    Server(child)
}

const PREDICT: &str = "/v1/usecases/churn/predict";
const BODY: &str = r#"{"subject_id": "c-1", "features": {"tenure_months": 5, "contract": "month-to-month", "support_calls": 2}}"#;

/// Ask `port` until its answer's `fallback` is `want`; the time since `since`, or a panic
/// after 10 s.
fn until_fallback(port: u16, key: &str, want: bool, since: Instant) -> Duration {
    loop {
        let (status, body) = http(port, "POST", PREDICT, key, BODY);
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
    let p = dir.path().join("proj");
    run_ok(
        klartext(&p)
            .args(["init", p.to_str().unwrap()])
            .env_remove("KLARTEXT_PROJECT"),
    );
    let uc = klartext_data::generate::EXAMPLE_USECASE
        .replace("min_auc = 0.75", "min_auc = 0.5")
        .replace("max_overfit_gap = 0.05", "max_overfit_gap = 1.0")
        .replace(
            "min_demographic_parity_ratio = 0.8",
            "min_demographic_parity_ratio = 0.0",
        );
    std::fs::write(p.join("usecases/churn.toml"), uc).unwrap();
    let data = dir.path().join("churn.csv");
    run_ok(klartext(&p).args([
        "data",
        "generate",
        "--rows",
        "1500",
        "--output",
        data.to_str().unwrap(),
    ]));
    run_ok(klartext(&p).args(["data", "add", data.to_str().unwrap(), "--usecase", "churn"]));
    run_ok(klartext(&p).args(["train", "churn"]));
    let key = |role: &str| -> String {
        let v: Value = serde_json::from_str(&run_ok(
            klartext(&p).args(["keys", "create", "--role", role, "--json"]),
        ))
        .unwrap();
        v["key"].as_str().unwrap().to_owned()
    };
    let scorer = key("scorer");
    let operator = key("operator");

    let (port_a, port_b) = (free_port(), free_port());
    let _a = start(&p, port_a);
    let _b = start(&p, port_b);
    for port in [port_a, port_b] {
        let (status, body) = http(port, "POST", PREDICT, &scorer, BODY);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["fallback"], false, "{body}");
    }

    // Off through A; measured from just before the call, so A's commit counts too.
    let t0 = Instant::now();
    let (status, body) = http(
        port_a,
        "POST",
        "/v1/usecases/churn/switch",
        &operator,
        r#"{"state": "off", "reason": "two-process test"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let off = until_fallback(port_b, &scorer, true, t0);
    // A answers the fallback at once (it applied its own switch).
    let (_, on_a) = http(port_a, "POST", PREDICT, &scorer, BODY);
    assert_eq!(on_a["fallback"], true, "{on_a}");

    // And on again, the same way.
    let t1 = Instant::now();
    let (status, body) = http(
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
        klartext(&p).args(["keys", "create", "--role", "scorer", "--json"]),
    ))
    .unwrap();
    let (id, secret) = (
        created["id"].as_str().unwrap(),
        created["key"].as_str().unwrap(),
    );
    let (status, body) = http(port_b, "POST", PREDICT, secret, BODY);
    assert_eq!(status, 200, "{body}");
    let t2 = Instant::now();
    run_ok(klartext(&p).args(["keys", "revoke", id]));
    let revoked = loop {
        let (status, body) = http(port_b, "POST", PREDICT, secret, BODY);
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
