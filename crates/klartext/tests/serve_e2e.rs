//! `klartext serve` end to end over real HTTP on loopback: keys, a prediction, a SIGKILL
//! during a burst of requests, and after a restart every prediction answered 2xx is in
//! the log. Then SIGTERM stops the server cleanly.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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

/// One HTTP/1.1 request on its own connection: (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    key: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start the server and wait until it prints its address.
fn start(project: &Path, port: u16) -> Child {
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
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    child
}

const BODY: &str = r#"{"subject_id": "c-1", "features": {"tenure_months": 5, "contract": "month-to-month", "support_calls": 2}}"#;

#[test]
fn serve_predicts_over_http_and_survives_sigkill_without_losing_acknowledged_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("proj");
    run_ok(
        klartext(&p)
            .args(["init", p.to_str().unwrap()])
            .env_remove("KLARTEXT_PROJECT"),
    );
    // Gates relaxed: this test is about serving, and 1,500 rows is a small sample.
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
    let listed = run_ok(klartext(&p).args(["keys", "list", "--json"]));
    assert_eq!(
        serde_json::from_str::<Value>(&listed).unwrap()["keys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(!listed.contains(&scorer), "secrets are never shown again");

    let port = free_port();
    let mut server = start(&p, port);
    let (status, body) = http(port, "POST", "/v1/usecases/churn/predict", &scorer, BODY).unwrap();
    assert_eq!(status, 200, "{body}");
    let first: Value = serde_json::from_str(&body).unwrap();
    assert!(first["score"].as_f64().is_some());

    // A bounded burst from 8 clients; SIGKILL lands in the middle of it.
    let acked = Arc::new(Mutex::new(vec![first["prediction_id"]
        .as_str()
        .unwrap()
        .to_owned()]));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(10);
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (acked, stop, scorer) = (acked.clone(), stop.clone(), scorer.clone());
            std::thread::spawn(move || {
                for _ in 0..500 {
                    if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                        break;
                    }
                    match http(port, "POST", "/v1/usecases/churn/predict", &scorer, BODY) {
                        Ok((200, body)) => {
                            let v: Value = serde_json::from_str(&body).unwrap();
                            acked
                                .lock()
                                .unwrap()
                                .push(v["prediction_id"].as_str().unwrap().to_owned());
                        }
                        Ok((status, body)) => panic!("unexpected {status}: {body}"),
                        // The server died mid-request: no 2xx, so no promise.
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    while acked.lock().unwrap().len() < 50 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 50,
        "the burst got going: {} answered",
        acked.len()
    );

    let mut server = start(&p, port);
    for id in &acked {
        let (status, body) =
            http(port, "GET", &format!("/v1/predictions/{id}"), &operator, "").unwrap();
        assert_eq!(
            status, 200,
            "prediction {id} was answered 2xx but is not in the log: {body}"
        );
    }
    let (status, _) = http(port, "GET", "/readyz", "", "").unwrap();
    assert_eq!(status, 200);

    // SIGTERM: drain, flush, exit 0.
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let t0 = Instant::now();
    let code = loop {
        if let Some(s) = server.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(code.success(), "{code:?}");
}
