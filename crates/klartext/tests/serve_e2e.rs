//! `klartext serve` end to end over real HTTP on loopback: keys, a prediction, a SIGKILL
//! during a burst of requests, and after a restart every prediction answered 2xx is in
//! the log. Then SIGTERM stops the server cleanly.

mod common;

use common::server::*;
use serde_json::Value;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BODY: &str = r#"{"subject_id": "c-1", "features": {"tenure_months": 5, "contract": "month-to-month", "support_calls": 2}}"#;

#[test]
fn serve_predicts_over_http_and_survives_sigkill_without_losing_acknowledged_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let p = served_project(dir.path(), 1500);
    let scorer = create_key(&p, "scorer");
    let operator = create_key(&p, "operator");
    let listed = run_ok(klartext_in(&p).args(["keys", "list", "--json"]));
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
