//! `klartext serve`: the decision API over HTTP until ctrl-c or SIGTERM, then a drain of
//! in-flight requests and a flush of the prediction log.

use crate::project::Project;
use anyhow::{Context, Result};
use klartext_govern::{monitoring, ChampionSource, GOVERNANCE_POLL, RETENTION_EVERY};
use klartext_server::{AppState, ServerConfig};
use std::path::Path;

/// A ready-to-paste example call, printed once the server listens (quickstart has a
/// real key and a real row to show).
#[derive(Debug, Clone)]
pub struct Example {
    pub usecase: String,
    pub key: String,
    pub body: serde_json::Value,
}

pub fn run(
    project: Option<&Path>,
    addr: &str,
    config: ServerConfig,
    example: Option<Example>,
) -> Result<()> {
    let p = Project::find(project)?;
    let usecases = p.loadable_usecases()?;
    init_logging();
    let gov = p.governor(usecases.clone(), true)?;
    let store = gov.store().clone();
    let _webhooks =
        klartext_server::webhooks::spawn(store.clone(), Default::default(), GOVERNANCE_POLL);
    let _monitor = monitoring::spawn(store, usecases, monitoring::MONITOR_EVERY)
        .context("cannot start the monitoring schedule")?;
    // Each use case's [retention], now and every hour.
    gov.start_retention(RETENTION_EVERY);
    let state = AppState::new(gov, config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let champions = state.governor().champions();
        println!("klartext serving on http://{local}");
        for (id, v, source) in champions.iter().cloned() {
            match (v, source) {
                (Some(v), ChampionSource::Alias) => {
                    println!("  {id}: model {v} (champion)")
                }
                (Some(v), _) => println!(
                    "  {id}: model {v} (no champion alias was ever set: serving the newest version whose gates passed; `klartext promote {id}@{v}` pins it)"
                ),
                (None, _) => println!("  {id}: no model whose gates passed (answers 409 no_model)"),
            }
        }
        match &example {
            Some(ex) => println!(
                "\nTry it (paste into another terminal; ctrl-c here stops the server):\n\n  curl -s -X POST http://{local}/v1/usecases/{}/predict \\\n    -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' \\\n    -d '{}'\n",
                ex.usecase,
                ex.key,
                ex.body.to_string().replace('\'', "'\\''")
            ),
            None => {
                let example = champions
                    .iter()
                    .find(|(_, v, _)| v.is_some())
                    .map_or("USECASE", |(id, _, _)| id.as_str());
                println!(
                    "\nTry it (a key: `klartext keys create --role scorer`):\n  curl -s -X POST http://{local}/v1/usecases/{example}/predict \\\n    -H 'Authorization: Bearer KEY' -H 'Content-Type: application/json' \\\n    -d '{{\"subject_id\": \"c-1\", \"features\": {{}}}}'"
                );
            }
        }
        tracing::info!(addr = %local, use_cases = champions.len(), "serving");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        klartext_server::serve(listener, state, shutdown_signal()).await?;
        Ok(())
    })
}

/// Structured logs on stderr: one JSON object per line when stderr is not a terminal
/// (a service manager, a container, a file), the human format on a terminal. The level
/// is `KLARTEXT_LOG` (error, warn, info, debug, trace; default info); `debug` logs every
/// request with its status and latency.
pub(crate) fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::LevelFilter;
    let level = std::env::var("KLARTEXT_LOG")
        .ok()
        .and_then(|l| l.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level);
    let _ = if std::io::stderr().is_terminal() {
        builder.with_target(false).try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
