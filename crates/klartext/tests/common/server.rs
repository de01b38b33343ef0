//! Helpers for tests that run real `klartext serve` processes: the binary bound to a
//! project, a free port, starting a server, and one HTTP/1.1 request per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The binary with `project` as its project and a clean environment.
pub fn klartext_in(project: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_klartext"));
    c.env_remove("KLARTEXT_FAILPOINT")
        .env("KLARTEXT_PROJECT", project)
        .env("KLARTEXT_ACTOR", "test")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

/// Run to success and return stdout (panics with both streams otherwise).
pub fn run_ok(c: &mut Command) -> String {
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
pub fn http(
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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start `klartext serve` on `port` and wait until it prints its address.
pub fn start(project: &Path, port: u16) -> Child {
    let mut child = klartext_in(project)
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

/// A project in `dir/proj` with the example churn use case (gates relaxed: these tests
/// are about serving, not model quality), `rows` generated rows registered and trained.
pub fn served_project(dir: &Path, rows: u32) -> std::path::PathBuf {
    let p = dir.join("proj");
    run_ok(
        klartext_in(&p)
            .args(["init", p.to_str().unwrap()])
            .env_remove("KLARTEXT_PROJECT"),
    );
    std::fs::write(p.join("usecases/churn.toml"), super::relaxed_usecase()).unwrap();
    let data = dir.join("churn.csv");
    run_ok(klartext_in(&p).args([
        "data",
        "generate",
        "--rows",
        &rows.to_string(),
        "--output",
        data.to_str().unwrap(),
    ]));
    run_ok(klartext_in(&p).args(["data", "add", data.to_str().unwrap(), "--usecase", "churn"]));
    run_ok(klartext_in(&p).args(["train", "churn"]));
    p
}

/// A new API key's secret.
pub fn create_key(project: &Path, role: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&run_ok(
        klartext_in(project).args(["keys", "create", "--role", role, "--json"]),
    ))
    .unwrap();
    v["key"].as_str().unwrap().to_owned()
}
