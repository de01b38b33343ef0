//! A small closed-loop HTTP/1.1 load generator for `bench/serve/run.sh`: keep-alive
//! connections on loopback, each sending the same request as soon as the last answer
//! arrived; prints one JSON line with requests/s and latency percentiles.
//!
//! ```text
//! loadgen URL [--method POST] [--body FILE] [--header 'K: V']... [--connections 16]
//!         [--duration 10] [--warmup 2] [--threads 1] [--name NAME]
//! loadgen URL --stream-rows 1000000 --body LINE_FILE --header ...   # NDJSON stream
//! ```
//! The stream mode sends one chunked NDJSON request of N lines (the body file's line with
//! `subject_id` made unique) while reading the answer lines, and reports rows/s.

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    host: String,
    path: String,
    method: String,
    body: Vec<u8>,
    headers: Vec<String>,
    connections: usize,
    duration: f64,
    warmup: f64,
    threads: usize,
    name: String,
    stream_rows: usize,
}

fn parse() -> Args {
    let mut a = Args {
        host: String::new(),
        path: "/".into(),
        method: "GET".into(),
        body: Vec::new(),
        headers: Vec::new(),
        connections: 16,
        duration: 10.0,
        warmup: 2.0,
        threads: 1,
        name: "load".into(),
        stream_rows: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut val = || it.next().expect("a value after the flag");
        match x.as_str() {
            "--method" => a.method = val(),
            "--body" => a.body = std::fs::read(val()).expect("body file"),
            "--header" => a.headers.push(val()),
            "--connections" => a.connections = val().parse().unwrap(),
            "--duration" => a.duration = val().parse().unwrap(),
            "--warmup" => a.warmup = val().parse().unwrap(),
            "--threads" => a.threads = val().parse().unwrap(),
            "--name" => a.name = val(),
            "--stream-rows" => a.stream_rows = val().parse().unwrap(),
            url => {
                let rest = url.strip_prefix("http://").expect("an http:// URL");
                let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
                a.host = host.to_owned();
                a.path = format!("/{path}");
            }
        }
    }
    assert!(!a.host.is_empty(), "give the URL");
    a
}

fn request(a: &Args) -> Vec<u8> {
    let mut r = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", a.method, a.path, a.host);
    for h in &a.headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    if !a.body.is_empty() || a.method == "POST" {
        r.push_str(&format!("Content-Length: {}\r\n", a.body.len()));
    }
    r.push_str("\r\n");
    let mut r = r.into_bytes();
    r.extend_from_slice(&a.body);
    r
}

/// Read one response; returns its status.
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    let mut tmp = [0u8; 16384];
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(std::io::Error::other)?;
            let status: u16 = head
                .split(' ')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| std::io::Error::other("no status"))?;
            let lower = head.to_ascii_lowercase();
            let len: usize = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap_or(0))
                .ok_or_else(|| std::io::Error::other("no content-length"))?;
            let total = end + 4 + len;
            while buf.len() < total {
                let n = s.read(&mut tmp).await?;
                if n == 0 {
                    return Err(std::io::Error::other("closed"));
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            buf.drain(..total);
            return Ok(status);
        }
        let n = s.read(&mut tmp).await?;
        if n == 0 {
            return Err(std::io::Error::other("closed"));
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn worker(
    host: String,
    req: std::sync::Arc<Vec<u8>>,
    start_measure: Instant,
    end: Instant,
) -> (Vec<u32>, u64) {
    let mut lat = Vec::with_capacity(1 << 16);
    let mut errors = 0u64;
    let Ok(mut s) = TcpStream::connect(&host).await else {
        eprintln!("loadgen: cannot connect to {host}");
        return (lat, 1);
    };
    s.set_nodelay(true).unwrap();
    let mut buf = Vec::with_capacity(8192);
    loop {
        let t = Instant::now();
        if t >= end {
            break;
        }
        let ok = async {
            s.write_all(&req).await?;
            read_response(&mut s, &mut buf).await
        }
        .await;
        let took = t.elapsed();
        match ok {
            Ok(st) if (200..300).contains(&st) => {
                if t >= start_measure {
                    lat.push(took.as_micros().min(u32::MAX as u128) as u32);
                }
            }
            Ok(_) => errors += 1,
            Err(_) => {
                errors += 1;
                buf.clear();
                // A server that went away ends this connection's run (counted as errors)
                // instead of spinning on refused reconnects.
                match TcpStream::connect(&host).await {
                    Ok(n) => {
                        s = n;
                        s.set_nodelay(true).unwrap();
                    }
                    Err(_) => break,
                }
            }
        }
    }
    (lat, errors)
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

async fn load(a: Args) {
    let req = std::sync::Arc::new(request(&a));
    let now = Instant::now();
    let start_measure = now + Duration::from_secs_f64(a.warmup);
    let end = start_measure + Duration::from_secs_f64(a.duration);
    let tasks: Vec<_> = (0..a.connections)
        .map(|_| tokio::spawn(worker(a.host.clone(), req.clone(), start_measure, end)))
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    println!(
        "{}",
        serde_json::json!({
            "name": a.name,
            "connections": a.connections,
            "duration_s": a.duration,
            "requests": all.len(),
            "errors": errors,
            "rps": (all.len() as f64 / a.duration).round(),
            "p50_ms": pct(&all, 0.50),
            "p90_ms": pct(&all, 0.90),
            "p99_ms": pct(&all, 0.99),
            "p999_ms": pct(&all, 0.999),
            "max_ms": all.last().map_or(f64::NAN, |&m| m as f64 / 1000.0),
        })
    );
}

/// One NDJSON stream of `rows` lines; reads answers while sending.
async fn stream(a: Args) {
    let line: serde_json::Value = serde_json::from_slice(&a.body).expect("a JSON line");
    let mut head = format!("POST {} HTTP/1.1\r\nHost: {}\r\n", a.path, a.host);
    for h in &a.headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n");
    let s = TcpStream::connect(&a.host).await.expect("connect");
    let (mut r, mut w) = s.into_split();
    let rows = a.stream_rows;
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        w.write_all(head.as_bytes()).await.unwrap();
        let mut i = 0;
        while i < rows {
            let mut chunk = String::new();
            for _ in 0..1000.min(rows - i) {
                let mut l = line.clone();
                l["subject_id"] = format!("s{i}").into();
                chunk.push_str(&l.to_string());
                chunk.push('\n');
                i += 1;
            }
            w.write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
                .await
                .unwrap();
        }
        w.write_all(b"0\r\n\r\n").await.unwrap();
        w
    });
    // Count answer lines (`{"...` at a line start; chunk-size lines are hex).
    let mut buf = vec![0u8; 1 << 16];
    let (mut answered, mut errors) = (0usize, 0usize);
    let mut carry = Vec::new();
    while answered + errors < rows {
        let n = r.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        carry.extend_from_slice(&buf[..n]);
        let mut last = 0;
        for i in memchr_all(&carry) {
            let l = &carry[last..i];
            if l.starts_with(b"{") {
                if find(l, b"\"error\"").is_some() && find(l, b"\"prediction_id\"").is_none() {
                    errors += 1;
                } else {
                    answered += 1;
                }
            }
            last = i + 1;
        }
        carry.drain(..last);
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = writer.await;
    println!(
        "{}",
        serde_json::json!({
            "name": a.name, "rows": rows, "answered": answered, "errors": errors,
            "seconds": (secs * 100.0).round() / 100.0, "rows_per_s": (answered as f64 / secs).round(),
        })
    );
}

fn memchr_all(hay: &[u8]) -> Vec<usize> {
    hay.iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(i, _)| i)
        .collect()
}

fn main() {
    let a = parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads)
        .enable_all()
        .build()
        .unwrap();
    if a.stream_rows > 0 {
        rt.block_on(stream(a));
    } else {
        rt.block_on(load(a));
    }
}
