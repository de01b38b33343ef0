//! `klartext quickstart` ends with a running server and a ready-to-paste curl call that
//! works (a fresh scorer key, a real customer); `--no-serve` stops after training. And
//! `klartext serve` logs JSON lines when stderr is not a terminal.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn klartext() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_klartext"));
    c.env_remove("KLARTEXT_FAILPOINT")
        .env_remove("KLARTEXT_PROJECT")
        .env("KLARTEXT_ACTOR", "test")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http(port: u16, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw.split_once("\r\n\r\n").unwrap().1.to_owned())
}

fn sigterm(pid: u32) {
    let ok = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn quickstart_no_serve_stops_after_training() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("qs");
    let out = klartext()
        .args([
            "quickstart",
            p.to_str().unwrap(),
            "--rows",
            "3000",
            "--no-serve",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Next steps"), "{stdout}");
    assert!(
        !stdout.contains("curl"),
        "no server, no curl call: {stdout}"
    );
    assert!(Path::new(&p).join("klartext.toml").exists());
}

#[test]
fn quickstart_ends_with_a_running_server_and_a_curl_call_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("qs");
    let port = free_port();
    let mut child = klartext()
        .args([
            "quickstart",
            p.to_str().unwrap(),
            // Enough rows for the example's quality gate (AUC >= 0.75) to pass.
            "--rows",
            "10000",
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    // The printed call: `curl -s -X POST URL \`, headers, `-d '{...}'`.
    let mut key = None;
    let mut body = None;
    for l in lines.by_ref() {
        let l = l.unwrap();
        seen.push(l.clone());
        if let Some(rest) = l.trim().strip_prefix("-H 'Authorization: Bearer ") {
            key = rest.split('\'').next().map(str::to_owned);
        }
        if let Some(rest) = l.trim().strip_prefix("-d '") {
            body = Some(rest.trim_end_matches('\'').to_owned());
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let text = seen.join("\n");
    assert!(
        text.contains(&format!(
            "curl -s -X POST http://127.0.0.1:{port}/v1/usecases/churn/predict"
        )),
        "{text}"
    );
    let (key, body) = (key.expect("a key in the call"), body.expect("a body"));
    assert!(key.starts_with("kt_"), "a real, fresh key: {key}");
    assert!(text.contains("churn: model"), "the model is served: {text}");

    // Paste it: the call works.
    let (status, answer) = http(
        port,
        "POST",
        "/v1/usecases/churn/predict",
        &format!("Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"),
        &body,
    );
    assert_eq!(status, 200, "{answer}");
    let a: Value = serde_json::from_str(&answer).unwrap();
    assert!(a["score"].is_f64() && a["explanation"].is_array(), "{a}");
    assert!(
        a["warnings"].as_array().is_none_or(|w| w.is_empty()),
        "a real customer is in range: {a}"
    );

    sigterm(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM stops it cleanly: {status}");
}

#[test]
fn serve_logs_json_lines_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("proj");
    assert!(klartext()
        .args(["init", p.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let port = free_port();
    let mut child = klartext()
        .env("KLARTEXT_PROJECT", &p)
        .env("KLARTEXT_LOG", "debug")
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(out.next().unwrap().unwrap().contains("serving on"));
    std::thread::spawn(move || for _ in out {});
    let (status, _) = http(port, "GET", "/healthz", "", "");
    assert_eq!(status, 200);
    let (status, _) = http(port, "GET", "/nowhere", "", "");
    assert_eq!(status, 404);
    sigterm(child.id());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(child.wait().unwrap().success());

    let events: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(events
        .iter()
        .all(|e| e["level"].is_string() && e["timestamp"].is_string()));
    let request = |path: &str| {
        events
            .iter()
            .find(|e| e["message"] == "request" && e["path"] == path)
            .unwrap_or_else(|| panic!("a request event for {path}: {err}"))
            .clone()
    };
    assert_eq!(request("/healthz")["status"], 200);
    let missing = request("/nowhere");
    assert_eq!(
        (missing["status"].as_u64(), missing["code"].as_str()),
        (Some(404), Some("not_found"))
    );
    assert!(events.iter().any(|e| e["message"] == "serving"));
    assert!(events
        .iter()
        .any(|e| e["message"].as_str().is_some_and(|m| m.contains("flushed"))));
}
