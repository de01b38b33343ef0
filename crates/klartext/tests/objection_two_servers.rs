//! An objection (GDPR Art. 21) recorded through one `klartext serve` process stops the
//! scoring of that subject at once in a second process sharing the store.

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

const BODY: &str = r#"{"subject_id": "c-objecting", "features": {"tenure_months": 5, "contract": "month-to-month", "support_calls": 2}}"#;

#[test]
fn objection_through_one_server_blocks_scoring_in_another_process_within_a_second() {
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
        "1000",
        "--output",
        data.to_str().unwrap(),
    ]));
    run_ok(klartext(&p).args(["data", "add", data.to_str().unwrap(), "--usecase", "churn"]));
    run_ok(klartext(&p).args(["train", "churn"]));
    let v: Value = serde_json::from_str(&run_ok(
        klartext(&p).args(["keys", "create", "--role", "scorer", "--json"]),
    ))
    .unwrap();
    let scorer = v["key"].as_str().unwrap().to_owned();

    let (pa, pb) = (free_port(), free_port());
    let mut a = start(&p, pa);
    let mut b = start(&p, pb);
    let predict = |port| {
        let (status, body) =
            http(port, "POST", "/v1/usecases/churn/predict", &scorer, BODY).unwrap();
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    assert!(predict(pb)["score"].is_number());

    let (status, body) = http(
        pa,
        "POST",
        "/v1/subjects/c-objecting/objection",
        &scorer,
        r#"{"reason": "no profiling"}"#,
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let at = Instant::now();
    assert_eq!(
        predict(pa)["objected"],
        true,
        "the receiving process at once"
    );
    loop {
        let answer = predict(pb);
        if answer["objected"] == true {
            assert!(answer["score"].is_null());
            break;
        }
        assert!(
            at.elapsed() < Duration::from_secs(1),
            "the second process still scores after 1 s: {answer}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = a.kill();
    let _ = b.kill();
    let _ = a.wait();
    let _ = b.wait();
}
