//! `klartext webhooks`: subscribe URLs to audit event types; deliveries are signed
//! (HMAC-SHA256, Stripe's scheme), retried with backoff and every attempt recorded.

use super::{emit, print_json};
use crate::cli::WebhooksCommand;
use crate::project::{actor, Project};
use crate::render::{table, time_ms};
use anyhow::{bail, Result};
use klartext_server::webhooks::{self, DeliveryConfig};
use klartext_store::{Store, WebhookAttempt};
use std::path::Path;
use std::time::Duration;

pub fn run(project: Option<&Path>, c: WebhooksCommand) -> Result<()> {
    let p = Project::find(project)?;
    let store = p.open_store()?;
    match c {
        WebhooksCommand::Add { url, events, json } => {
            if let Err(e) = webhooks::check_url(&url) {
                bail!("{e}");
            }
            let events: Vec<String> = events
                .iter()
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
                .collect();
            if events.is_empty() {
                bail!(
                    "name at least one event type, e.g. --events model.promoted,usecase.switched"
                );
            }
            let w = store.create_webhook(&webhooks::new_webhook(&url, events, &actor())?)?;
            if json {
                print_json(&serde_json::json!({
                    "id": w.id, "url": w.url, "events": w.events, "secret": w.secret,
                }));
            } else {
                emit(&format!(
                    "Created webhook {} for {} ({}). Its signing secret is shown only now:\n\n  {}\n\nEach delivery carries `{}: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>`.\n",
                    w.id,
                    w.url,
                    w.events.join(", "),
                    w.secret,
                    webhooks::SIGNATURE_HEADER
                ));
            }
        }
        WebhooksCommand::List { json } => {
            let list = store.webhooks()?;
            if json {
                let list: Vec<serde_json::Value> = list
                    .iter()
                    .map(|w| {
                        serde_json::json!({
                            "id": w.id, "url": w.url, "events": w.events,
                            "created_ms": w.created_ms, "created_by": w.created_by,
                            "revoked_ms": w.revoked_ms, "cursor_seq": w.cursor_seq,
                        })
                    })
                    .collect();
                print_json(&serde_json::json!({ "webhooks": list }));
            } else if list.is_empty() {
                emit("No webhooks yet; add one with `klartext webhooks add URL --events model.promoted`.\n");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|w| {
                        vec![
                            w.id.clone(),
                            w.url.clone(),
                            w.events.join(","),
                            time_ms(w.created_ms),
                            w.revoked_ms
                                .map_or("active".into(), |t| format!("removed {}", time_ms(t))),
                        ]
                    })
                    .collect();
                emit(&table(&["id", "url", "events", "created", "status"], &rows));
            }
        }
        WebhooksCommand::Remove { id, json } => {
            if !store.remove_webhook(&id, &actor())? {
                bail!("no webhook `{id}`; `klartext webhooks list` shows them");
            }
            if json {
                print_json(&serde_json::json!({ "id": id, "removed": true }));
            } else {
                emit(&format!(
                    "Removed webhook {id}; nothing more is delivered to it.\n"
                ));
            }
        }
        WebhooksCommand::Deliveries { webhook, json } => {
            show(&store.webhook_attempts(webhook.as_deref())?, json);
        }
        WebhooksCommand::Deliver {
            max_attempts,
            backoff_ms,
            timeout_ms,
            json,
        } => {
            let config = DeliveryConfig {
                max_attempts,
                base_backoff: Duration::from_millis(backoff_ms),
                timeout: Duration::from_millis(timeout_ms),
                ..DeliveryConfig::default()
            };
            let made = webhooks::deliver_once(&store, &config)?;
            show(&made, json);
        }
    }
    Ok(())
}

fn show(attempts: &[WebhookAttempt], json: bool) {
    if json {
        print_json(&serde_json::json!({ "attempts": attempts }));
    } else if attempts.is_empty() {
        emit("No delivery attempts.\n");
    } else {
        let rows: Vec<Vec<String>> = attempts
            .iter()
            .map(|a| {
                let status = match (a.delivered, a.http_status, &a.error) {
                    (true, Some(s), _) => format!("delivered ({s})"),
                    (_, _, Some(e)) => format!("failed: {e}"),
                    _ => "failed".into(),
                };
                vec![
                    a.webhook_id.clone(),
                    a.event_seq.to_string(),
                    a.attempt.to_string(),
                    time_ms(a.at_ms),
                    status,
                    a.next_retry_ms.map_or("-".into(), time_ms),
                ]
            })
            .collect();
        emit(&table(
            &["webhook", "event", "attempt", "at", "status", "next retry"],
            &rows,
        ));
    }
}
