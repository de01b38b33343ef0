//! The accept loop on a real socket: connections that send half a request or nothing
//! are closed after their timeout, a fresh client is answered meanwhile, connections over
//! the cap are refused with a clear answer, and a body that stops arriving is answered 408.

mod common;

use klartext_server::ServerConfig;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Serve the fixture on a loopback port with `config`; the server stops with the test.
async fn start(config: ServerConfig) -> (SocketAddr, common::Fixture) {
    let f = common::fixture_with(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(klartext_server::serve(
        listener,
        f.state.clone(),
        std::future::pending(),
    ));
    (addr, f)
}

fn config() -> ServerConfig {
    ServerConfig {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    }
}

/// A raw request and the whole answer (the server closes the connection after it).
fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the server closed `s` (a read sees the end) within `within`.
fn closed_within(mut s: &TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(_) => return false,
        }
    }
}

fn healthz() -> &'static str {
    "GET /healthz HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
}

/// Guards the server without header, body or idle timeouts, where connections that
/// send one header line stayed open for ever until the process ran out of files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_are_closed_and_a_fresh_client_is_answered_meanwhile() {
    let (addr, _f) = start(config()).await;
    let stalled: Vec<TcpStream> = tokio::task::spawn_blocking(move || {
        (0..300)
            .map(|_| {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(b"POST /v1/usecases/churn/predict HTTP/1.1\r\nhost: t\r\n")
                    .unwrap();
                s
            })
            .collect()
    })
    .await
    .unwrap();
    let answered = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let a = exchange(addr, healthz());
        (a, t.elapsed())
    })
    .await
    .unwrap();
    assert!(answered.0.starts_with("HTTP/1.1 200"), "{}", answered.0);
    assert!(
        answered.1 < Duration::from_secs(1),
        "answered after {:?}",
        answered.1
    );
    let closed = tokio::task::spawn_blocking(move || {
        stalled
            .iter()
            .filter(|s| closed_within(s, Duration::from_secs(3)))
            .count()
    })
    .await
    .unwrap();
    assert_eq!(
        closed, 300,
        "every stalled connection is closed after the header timeout"
    );
    let m = tokio::task::spawn_blocking(move || {
        exchange(
            addr,
            "GET /metrics HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n",
        )
    })
    .await
    .unwrap();
    let timed_out = m
        .lines()
        .find_map(|l| l.strip_prefix("klartext_connections_timed_out_total "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .expect("the metric is there");
    assert!(timed_out >= 300, "{timed_out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_refused_clearly_and_counted() {
    let (addr, _f) = start(ServerConfig {
        max_connections: 5,
        ..config()
    })
    .await;
    let (held, refused) = tokio::task::spawn_blocking(move || {
        let held: Vec<TcpStream> = (0..5)
            .map(|_| {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        (held, exchange(addr, healthz()))
    })
    .await
    .unwrap();
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    let body = &refused[refused.find("\r\n\r\n").unwrap() + 4..];
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["error"]["code"], "too_many_connections");
    drop(held);
    // Once those are gone, clients are served again, and the refusal was counted.
    let m = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(300));
        exchange(
            addr,
            "GET /metrics HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n",
        )
    })
    .await
    .unwrap();
    assert!(m.starts_with("HTTP/1.1 200"), "{m}");
    assert!(m.contains("\nklartext_connections_shed_total 1\n"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_answered_408_and_an_idle_connection_closed() {
    let (addr, f) = start(config()).await;
    let key = f.scorer.clone();
    let (answer, idle_closed) = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(
            format!(
                "POST /v1/usecases/churn/predict HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: 52428800\r\n\r\n{{\"subject_id\":"
            )
            .as_bytes(),
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).unwrap_or(0);
        let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
        // A keep-alive connection that answered one request and then sends nothing.
        let mut idle = TcpStream::connect(addr).unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n").unwrap();
        let mut first = [0u8; 256];
        let _ = idle.read(&mut first);
        (answer, closed_within(&idle, Duration::from_secs(4)))
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    assert!(idle_closed, "an idle keep-alive connection is closed");
}

/// Guards the HTTP layer's own refusals (a request that does not parse, headers past its
/// buffer), which left with empty bodies outside the error envelope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_layer_s_refusals_are_in_the_envelope() {
    let (addr, _f) = start(config()).await;
    let answers = tokio::task::spawn_blocking(move || {
        [
            exchange(
                addr,
                "POST /healthz HTTP/1.1\r\nhost: t\r\ncontent-length: abc\r\n\r\n",
            ),
            exchange(
                addr,
                &format!(
                    "GET /healthz HTTP/1.1\r\nhost: t\r\nx-big: {}\r\n\r\n",
                    "a".repeat(500_000)
                ),
            ),
        ]
    })
    .await
    .unwrap();
    for (a, code, status) in [
        (&answers[0], "invalid_request", "HTTP/1.1 400"),
        (&answers[1], "headers_too_large", "HTTP/1.1 431"),
    ] {
        assert!(a.starts_with(status), "{a}");
        let body = &a[a.find("\r\n\r\n").unwrap() + 4..];
        let v: serde_json::Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {a}"));
        assert_eq!(v["error"]["code"], code, "{a}");
    }
}
