//! Webhook delivery against a receiver written independently of the sender: a tiny
//! std::net HTTP server that parses the request itself and checks the signature with
//! its own HMAC-SHA256 computation. Loopback only, bounded time.

mod common;

use common::{fixture, request};
use hmac::{Hmac, Mac};
use klartext_server::webhooks::{deliver_once, new_webhook, DeliveryConfig};
use klartext_store::{NewAuditEvent, SqliteStore, Store};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What the receiver saw in one request.
#[derive(Debug)]
struct Received {
    request_line: String,
    signature: String,
    body: String,
}

/// Read one HTTP/1.1 request (headers, then `Content-Length` bytes) and answer 204.
fn handle(stream: TcpStream) -> Received {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut length = 0usize;
    let mut signature = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap(),
            "klartext-signature" => signature = value.trim().to_owned(),
            _ => {}
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    let mut stream = reader.into_inner();
    stream
        .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    Received {
        request_line: request_line.trim_end().to_owned(),
        signature,
        body: String::from_utf8(body).unwrap(),
    }
}

/// Serve requests on `listener` in the background, handing each to the channel.
fn receiver(listener: TcpListener) -> mpsc::Receiver<Received> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            if tx.send(handle(stream)).is_err() {
                return;
            }
        }
    });
    rx
}

/// The receiver's own check of `t=<t>,v1=<hex>`: HMAC-SHA256(secret, "<t>.<body>").
fn verify(secret: &str, header: &str, body: &str) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_owned()),
            Some(("v1", v)) => v1 = Some(v.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let Ok(expected) = hex::decode(v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let fresh = t
        .parse::<i64>()
        .is_ok_and(|t| (t - klartext_store::now_ms() / 1000).abs() < 300);
    fresh && mac.verify_slice(&expected).is_ok()
}

fn fast() -> DeliveryConfig {
    DeliveryConfig {
        max_attempts: 6,
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        timeout: Duration::from_secs(2),
    }
}

fn subscribe(store: &SqliteStore, url: &str, events: &[&str]) -> klartext_store::Webhook {
    let w = new_webhook(url, events.iter().map(|e| e.to_string()).collect(), "test").unwrap();
    store.create_webhook(&w).unwrap()
}

#[test]
fn signed_event_reaches_an_independent_receiver_and_unsubscribed_types_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/klartext", listener.local_addr().unwrap());
    let rx = receiver(listener);
    let w = subscribe(&store, &url, &["usecase.switched", "model.promoted"]);
    assert!(w.secret.len() >= 32);

    // Nothing happened yet after the subscription: nothing to deliver.
    assert!(deliver_once(&store, &fast()).unwrap().is_empty());

    // An event type nobody subscribed to, then one that is subscribed.
    store
        .append_audit(&NewAuditEvent {
            actor: "test".into(),
            action: "dataset.registered".into(),
            subject: "dataset/ds_1".into(),
            details: serde_json::json!({}),
        })
        .unwrap();
    let switched = store
        .set_switch("churn", false, "ops", "complaint")
        .unwrap();
    assert!(!switched.on);

    let made = deliver_once(&store, &fast()).unwrap();
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(
        made[0].delivered && made[0].http_status == Some(204),
        "{made:?}"
    );

    let got = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(got.request_line, "POST /hooks/klartext HTTP/1.1");
    assert!(verify(&w.secret, &got.signature, &got.body), "{got:?}");
    assert!(!verify("whsec_wrong", &got.signature, &got.body));
    assert!(!verify(
        &w.secret,
        &got.signature,
        &got.body.replace("ops", "eve")
    ));
    let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(body["type"], "usecase.switched");
    assert_eq!(body["subject"], "usecase/churn");
    assert_eq!(body["actor"], "ops");

    // Delivered once: the next pass has nothing, and the unsubscribed event never came.
    assert!(deliver_once(&store, &fast()).unwrap().is_empty());
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    let attempts = store.webhook_attempts(Some(&w.id)).unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        store.webhooks().unwrap()[0].cursor_seq,
        body["seq"].as_i64().unwrap()
    );

    // A removed subscription gets nothing more.
    assert!(store.remove_webhook(&w.id, "test").unwrap());
    store.set_switch("churn", true, "ops", "").unwrap();
    assert!(deliver_once(&store, &fast()).unwrap().is_empty());
    let actions: Vec<String> = store
        .audit_events(0)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"webhook.created".to_owned()));
    assert!(actions.contains(&"webhook.removed".to_owned()));
}

#[test]
fn a_down_receiver_is_retried_with_growing_backoff_and_served_once_it_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    // Reserve a free port, then close it: connections are refused until it is bound again.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let w = subscribe(&store, &format!("http://{addr}/"), &["usecase.switched"]);
    store.set_switch("churn", false, "ops", "drill").unwrap();

    let config = fast();
    let start = Instant::now();
    // Three failed attempts; between them the pass finds nothing due until the backoff ends.
    for n in 1..=3u32 {
        let deadline = Instant::now() + Duration::from_secs(5);
        let made = loop {
            let made = deliver_once(&store, &config).unwrap();
            if !made.is_empty() || Instant::now() > deadline {
                break made;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(made.len(), 1, "attempt {n}: {made:?}");
        assert_eq!(made[0].attempt, n);
        assert!(!made[0].delivered && made[0].error.is_some(), "{made:?}");
        assert!(made[0].next_retry_ms.is_some());
    }
    let attempts = store.webhook_attempts(Some(&w.id)).unwrap();
    assert_eq!(attempts.len(), 3);
    let waits: Vec<i64> = attempts
        .iter()
        .map(|a| a.next_retry_ms.unwrap() - a.at_ms)
        .collect();
    // 100 ms, 200 ms, 400 ms (give or take the clock between the two readings).
    for (got, want) in waits.iter().zip([100, 200, 400]) {
        assert!((want - 5..=want + 5).contains(got), "waits {waits:?}");
    }
    // The attempts really were spaced: the third came after at least 100 + 200 ms.
    assert!(attempts[2].at_ms - attempts[0].at_ms >= 300, "{attempts:?}");

    // The receiver comes up; the next due retry delivers.
    let rx = receiver(TcpListener::bind(addr).unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    let made = loop {
        let made = deliver_once(&store, &config).unwrap();
        if !made.is_empty() || Instant::now() > deadline {
            break made;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].delivered, "{made:?}");
    assert_eq!(made[0].attempt, 4);
    assert!(made[0].next_retry_ms.is_none());
    let got = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(verify(&w.secret, &got.signature, &got.body));
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(deliver_once(&store, &config).unwrap().is_empty());
}

#[test]
fn gives_up_after_max_attempts_and_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let w = subscribe(&store, &format!("http://{addr}/"), &["usecase.switched"]);
    store.set_switch("churn", false, "ops", "drill").unwrap();
    let config = DeliveryConfig {
        max_attempts: 2,
        base_backoff: Duration::from_millis(10),
        ..fast()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.webhook_attempts(None).unwrap().len() < 2 && Instant::now() < deadline {
        deliver_once(&store, &config).unwrap();
        std::thread::sleep(Duration::from_millis(15));
    }
    let attempts = store.webhook_attempts(None).unwrap();
    assert_eq!(attempts.len(), 2);
    assert!(attempts[1].next_retry_ms.is_none(), "{attempts:?}");
    assert!(deliver_once(&store, &config).unwrap().is_empty());
    assert_eq!(
        store.webhooks().unwrap()[0].cursor_seq,
        attempts[1].event_seq,
        "{w:?}"
    );
}

/// The median of a few predictions' wall time.
async fn median_predict(f: &common::Fixture, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let a = f.post("/v1/usecases/churn/predict", &request()).await;
        assert_eq!(a.status, 200, "{}", a.text);
        times.push(t.elapsed());
    }
    times.sort();
    times[n / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_does_not_slow_predictions() {
    let f = fixture();
    // A receiver that accepts connections and never answers: every attempt times out.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (held_tx, held_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            held.push(stream);
            let _ = held_tx.send(());
        }
    });
    subscribe(&f.store, &format!("http://{addr}/"), &["*"]);
    for i in 0..20 {
        f.store
            .append_audit(&NewAuditEvent {
                actor: "test".into(),
                action: "drift.detected".into(),
                subject: "usecase/churn".into(),
                details: serde_json::json!({ "i": i }),
            })
            .unwrap();
    }
    let baseline = median_predict(&f, 40).await;
    let config = DeliveryConfig {
        timeout: Duration::from_millis(500),
        ..fast()
    };
    let _dispatcher =
        klartext_server::webhooks::spawn(f.store.clone(), config, klartext_server::GOVERNANCE_POLL);
    // The dispatcher is stuck on the receiver while we measure.
    held_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let during = median_predict(&f, 40).await;
    assert!(
        during < baseline * 5 + Duration::from_millis(20),
        "median predict {during:?} with a hanging receiver, {baseline:?} without"
    );
    // And the stuck attempts are recorded as timeouts, with a retry scheduled.
    let deadline = Instant::now() + Duration::from_secs(5);
    while f.store.webhook_attempts(None).unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let attempts = f.store.webhook_attempts(None).unwrap();
    assert!(!attempts.is_empty());
    assert!(
        !attempts[0].delivered && attempts[0].next_retry_ms.is_some(),
        "{attempts:?}"
    );
}
