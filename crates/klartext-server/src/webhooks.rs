//! Webhook delivery: POST each audit event a subscription wants, as JSON, signed the way
//! Stripe signs (`Klartext-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<body>")>`), retried with exponential backoff, every attempt recorded.
//!
//! Delivery runs on its own thread with its own blocking HTTP/1.1 client and a timeout
//! per attempt, so a slow or failing receiver never touches the prediction path. Only
//! `http://` URLs are supported for now.

use crate::error::ServerError;
use hmac::{Hmac, Mac};
use klartext_store::{now_ms, PendingDelivery, Store, Webhook, WebhookAttempt};
use sha2::Sha256;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Klartext-Signature";

/// How deliveries are retried and bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// Attempts per event before giving up (at least 1).
    pub max_attempts: u32,
    /// The wait after the first failure; doubled after each further failure.
    pub base_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Connect, write and read timeout of one attempt.
    pub timeout: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_attempts: 8,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            timeout: Duration::from_secs(5),
        }
    }
}

impl DeliveryConfig {
    /// The wait after failed attempt `attempt` (1-based): base, 2×base, 4×base, ... capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.base_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// A new subscription and its signing secret (stored, shown to the user once). Check
/// the URL with [`check_url`] first.
pub fn new_webhook(
    url: &str,
    events: Vec<String>,
    created_by: &str,
) -> Result<Webhook, ServerError> {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id).map_err(|e| ServerError::Random(e.to_string()))?;
    getrandom::fill(&mut secret).map_err(|e| ServerError::Random(e.to_string()))?;
    Ok(Webhook {
        id: format!("wh_{}", hex::encode(id)),
        url: url.to_owned(),
        events,
        secret: format!("whsec_{}", hex::encode(secret)),
        created_ms: now_ms(),
        created_by: created_by.to_owned(),
        revoked_ms: None,
        cursor_seq: 0,
    })
}

/// Whether a URL can be delivered to; the message says why not.
pub fn check_url(url: &str) -> Result<(), String> {
    parse_url(url).map(drop)
}

/// The header value for `body` signed at unix second `t`.
pub fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The JSON body delivered for an event.
pub fn payload(d: &PendingDelivery) -> String {
    let e = &d.event;
    serde_json::json!({
        "id": format!("{}-{}", d.webhook.id, e.seq),
        "type": e.action,
        "seq": e.seq,
        "at_ms": e.at_ms,
        "actor": e.actor,
        "subject": e.subject,
        "details": e.details,
        "hash": e.hash,
        "attempt": d.attempt,
    })
    .to_string()
}

/// One pass: deliver every due event (retries whose time has come included), until
/// nothing is due now. Returns the attempts made.
pub fn deliver_once(
    store: &dyn Store,
    config: &DeliveryConfig,
) -> Result<Vec<WebhookAttempt>, ServerError> {
    let mut made = Vec::new();
    loop {
        let due = store.pending_webhook_deliveries(now_ms())?;
        if due.is_empty() {
            return Ok(made);
        }
        for d in due {
            let a = attempt(&d, config);
            store.record_webhook_attempt(&a)?;
            made.push(a);
        }
    }
}

/// Deliver in the background forever, polling every `poll`; store errors are logged.
pub fn spawn(
    store: Arc<dyn Store>,
    config: DeliveryConfig,
    poll: Duration,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("klartext-webhooks".into())
        .spawn(move || loop {
            if let Err(e) = deliver_once(store.as_ref(), &config) {
                tracing::warn!(error = %e, "webhook delivery pass failed");
            }
            std::thread::sleep(poll);
        })
        .expect("a thread can be spawned")
}

fn attempt(d: &PendingDelivery, config: &DeliveryConfig) -> WebhookAttempt {
    let body = payload(d);
    let t = now_ms() / 1000;
    let signature = sign(&d.webhook.secret, t, &body);
    let result = post(&d.webhook.url, &body, &signature, config.timeout);
    let (http_status, error) = match result {
        Ok(s) if (200..300).contains(&s) => (Some(s), None),
        Ok(s) => (Some(s), Some(format!("receiver answered HTTP {s}"))),
        Err(e) => (None, Some(e)),
    };
    let delivered = error.is_none();
    let next_retry_ms = (!delivered && d.attempt < config.max_attempts.max(1))
        .then(|| now_ms() + config.backoff(d.attempt).as_millis() as i64);
    if !delivered {
        tracing::warn!(webhook = %d.webhook.id, seq = d.event.seq, attempt = d.attempt,
            error = error.as_deref().unwrap_or(""), "webhook delivery failed");
    }
    WebhookAttempt {
        webhook_id: d.webhook.id.clone(),
        event_seq: d.event.seq,
        attempt: d.attempt,
        at_ms: now_ms(),
        http_status,
        error,
        delivered,
        next_retry_ms,
    }
}

struct Target {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Target, String> {
    if url.starts_with("https://") {
        return Err(format!(
            "{url}: https:// webhook URLs are not supported yet; use an http:// URL (e.g. behind a TLS-terminating proxy)"
        ));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: a webhook URL must start with http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("{url}: bad port {p:?}"))?,
        ),
        _ => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok(Target {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
        path: path.to_owned(),
    })
}

/// A minimal HTTP/1.1 POST; the status code, or why there is none.
fn post(url: &str, body: &str, signature: &str, timeout: Duration) -> Result<u16, String> {
    let t = parse_url(url)?;
    let addr = (t.host.as_str(), t.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", t.host))?
        .next()
        .ok_or_else(|| format!("cannot resolve {}", t.host))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let host_header = if t.port == 80 {
        t.host.clone()
    } else {
        format!("{}:{}", t.host, t.port)
    };
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: klartext-webhooks\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{SIGNATURE_HEADER}: {signature}\r\nConnection: close\r\n\r\n{body}",
        t.path,
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    // The status line is all we need; read until it is complete.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 8192 {
        let n = stream
            .read(&mut chunk)
            .map_err(|e| format!("no answer from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let line = line.lines().next().unwrap_or("");
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| line.starts_with("HTTP/"))
        .ok_or_else(|| format!("not an HTTP answer from {addr}: {line:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let c = DeliveryConfig {
            max_attempts: 10,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
        };
        let waits: Vec<u64> = (1..=5).map(|a| c.backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
    }

    #[test]
    fn urls_parse_and_https_is_refused_with_a_reason() {
        let t = parse_url("http://127.0.0.1:8080/hook?x=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 8080, "/hook?x=1")
        );
        let t = parse_url("http://example.com").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/"));
        let e = check_url("https://example.com/hook").unwrap_err();
        assert!(e.contains("https") && e.contains("not supported"), "{e}");
        assert!(check_url("ftp://x").is_err());
    }
}
