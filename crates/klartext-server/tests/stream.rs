//! NDJSON streaming of `predict:batch`: answers per line with line numbers, errors per
//! line, no total body limit, and a client that disconnects mid-stream loses and
//! duplicates nothing in the prediction log.

mod common;

use axum::http::StatusCode;
use common::{fixture, fixture_with, request};
use klartext_server::ServerConfig;
use klartext_store::Store;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const URI: &str = "/v1/usecases/churn/predict:batch";

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn row(subject: &str) -> String {
    let mut r = request();
    r["subject_id"] = subject.into();
    r.to_string()
}

#[tokio::test]
async fn ndjson_answers_each_line_in_order_and_a_bad_line_gets_its_own_error() {
    let f = fixture_with(ServerConfig {
        body_limit: 1024,
        ..ServerConfig::default()
    });
    let long = json!({"features": {"contract": "x".repeat(3000)}}).to_string();
    let body = [
        row("a"),                                                     // 1
        String::new(),                                                // 2: blank, skipped
        "{not json".into(),                                           // 3
        json!({"features": {"no_such_feature": "gold"}}).to_string(), // 4: unknown feature
        long,                                                         // 5: longer than the limit
        "[1, 2]".into(),                                              // 6: not an object
        row("b"),                                                     // 7, no newline at the end
    ]
    .join("\r\n");
    let a = f
        .call(
            "POST",
            URI,
            Some(&f.scorer),
            Some("application/x-ndjson"),
            body,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.content_type.starts_with("application/x-ndjson"));
    let out = lines(&a.text);
    let numbers: Vec<u64> = out.iter().map(|l| l["line"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 3, 4, 5, 6, 7]);
    let codes: Vec<&str> = out
        .iter()
        .map(|l| l["error"]["code"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(
        codes,
        [
            "ok",
            "malformed_json",
            "invalid_features",
            "payload_too_large",
            "malformed_json",
            "ok"
        ]
    );
    assert_eq!(out[2]["error"]["field"], "features.no_such_feature");
    for ok in [&out[0], &out[5]] {
        assert!(ok["explanation"].is_array());
        let p = f
            .store
            .prediction(ok["prediction_id"].as_str().unwrap())
            .unwrap()
            .expect("every answered line is logged");
        assert_eq!(
            p.subject_id.as_deref(),
            ok["line"].as_u64().map(|l| if l == 1 { "a" } else { "b" })
        );
    }
    // Errors per line are counted like any other error.
    let m = f.call("GET", "/metrics", None, None, "").await;
    assert!(m.text.contains("malformed_json"), "{}", m.text);
}

#[tokio::test]
async fn ndjson_has_no_total_body_limit_and_no_row_cap() {
    let f = fixture_with(ServerConfig {
        body_limit: 1024,
        max_batch_rows: 10,
        ..Default::default()
    });
    let n = 3000;
    let body: String = (0..n).map(|i| row(&format!("s{i}")) + "\n").collect();
    assert!(body.len() > 100 * 1024);
    let a = f
        .call(
            "POST",
            &format!("{URI}?explain=false"),
            Some(&f.scorer),
            Some("application/x-ndjson"),
            body,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let out = lines(&a.text);
    assert_eq!(out.len(), n);
    for (i, l) in out.iter().enumerate() {
        assert_eq!(l["line"], i + 1, "in order");
        assert!(l["score"].is_f64(), "{l}");
    }
    let db = rusqlite::Connection::open(f.dir.path().join("klartext.db")).unwrap();
    let logged: i64 = db
        .query_row("SELECT COUNT(*) FROM predictions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(logged, n as i64);
    // A JSON array is still held to both limits.
    let rows: Vec<Value> = (0..11).map(|_| request()).collect();
    let arr = f.post(URI, &Value::Array(rows)).await;
    assert_eq!(arr.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_stream_loses_and_duplicates_no_logged_prediction() {
    let f = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(klartext_server::serve(listener, f.state.clone(), async {
        let _ = stop_rx.await;
    }));

    const SENT: usize = 100_000;
    let key = f.scorer.clone();
    let answered: Vec<Value> = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "POST {URI} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .unwrap();
        // The writer sends far more than the server will score before we hang up.
        let mut w = s.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            for block in 0..SENT / 100 {
                let chunk: String = (0..100)
                    .map(|i| row(&format!("s{}", block * 100 + i)) + "\n")
                    .collect();
                if write!(w, "{:x}\r\n{chunk}\r\n", chunk.len()).is_err() {
                    return;
                }
            }
            let _ = w.write_all(b"0\r\n\r\n");
        });
        // Read until a few answer lines have come, then drop the connection.
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let answered = loop {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "the server answers before the body ends");
            raw.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&raw);
            let complete: Vec<Value> = text
                .split_inclusive('\n')
                .filter(|l| l.starts_with('{') && l.ends_with('\n'))
                .map(|l| serde_json::from_str(l.trim()).unwrap())
                .collect();
            if complete.len() >= 5 {
                break complete;
            }
        };
        assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"));
        s.shutdown(std::net::Shutdown::Both).unwrap();
        drop(s);
        writer.join().unwrap();
        answered
    })
    .await
    .unwrap();

    // Let the server notice, then stop it: that flushes the log.
    let db = rusqlite::Connection::open(f.dir.path().join("klartext.db")).unwrap();
    let count = |db: &rusqlite::Connection| -> i64 {
        db.query_row("SELECT COUNT(*) FROM predictions", [], |r| r.get(0))
            .unwrap()
    };
    let mut last = -1;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = count(&db);
        if now == last {
            break;
        }
        last = now;
    }
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("the server stops after the client left")
        .unwrap()
        .unwrap();

    // Every answered line was logged, under the id it was answered with.
    for a in &answered {
        let id = a["prediction_id"].as_str().expect("answers, not errors");
        let p = f.store.prediction(id).unwrap().expect("answered ⇒ logged");
        assert_eq!(
            p.subject_id.as_deref(),
            Some(format!("s{}", a["line"].as_u64().unwrap() - 1).as_str())
        );
    }
    // Nothing twice, and the server stopped scoring when the client went away.
    let logged = count(&db);
    let dupes: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM (SELECT subject_id FROM predictions GROUP BY subject_id HAVING COUNT(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    eprintln!("answered {}, logged {logged} of {SENT}", answered.len());
    assert_eq!(dupes, 0, "no line logged twice");
    assert!(logged >= answered.len() as i64);
    assert!(
        (logged as usize) < SENT,
        "scoring stopped with the client: {logged} of {SENT} logged"
    );
}
