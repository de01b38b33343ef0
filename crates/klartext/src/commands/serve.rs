//! `klartext serve`: the decision API over HTTP until ctrl-c or SIGTERM, then a drain of
//! in-flight requests and a flush of the prediction log.

use crate::project::Project;
use anyhow::{Context, Result};
use klartext_server::{AppState, ServerConfig};
use std::path::Path;
use std::sync::Arc;

pub fn run(
    project: Option<&Path>,
    addr: &str,
    body_limit: usize,
    max_batch_rows: usize,
) -> Result<()> {
    let p = Project::find(project)?;
    let mut usecases = Vec::new();
    for (path, uc) in p.load_usecases()? {
        // One broken file should not take every other use case offline.
        match uc {
            Ok(uc) => usecases.push(uc),
            Err(e) => eprintln!("warning: {} is not served: {e}", path.display()),
        }
    }
    let store = Arc::new(p.open_store()?);
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    let state = AppState::new(
        store,
        usecases,
        ServerConfig {
            body_limit,
            max_batch_rows,
        },
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let served = state.served();
        println!("klartext serving on http://{local}");
        for (id, v) in &served {
            match v {
                Some(v) => println!("  {id}: model {v}"),
                None => println!("  {id}: no model whose gates passed (answers 409 no_model)"),
            }
        }
        let example = served.iter().find(|(_, v)| v.is_some()).map_or("USECASE", |(id, _)| id.as_str());
        println!(
            "\nTry it (a key: `klartext keys create --role scorer`):\n  curl -s -X POST http://{local}/v1/usecases/{example}/predict \\\n    -H 'Authorization: Bearer KEY' -H 'Content-Type: application/json' \\\n    -d '{{\"subject_id\": \"c-1\", \"features\": {{}}}}'"
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        klartext_server::serve(listener, state, shutdown_signal()).await?;
        Ok(())
    })
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
