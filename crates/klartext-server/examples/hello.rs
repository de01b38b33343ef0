//! The HTTP limit for the serving benchmark (`bench/serve/run.sh`): axum on the same
//! runtime settings and the same global allocator (mimalloc) as `klartext serve`,
//! answering a small fixed JSON to a POST (the body is read, as a predict's would be)
//! and "hello" to a GET.
//!
//! `cargo run --release -p klartext-server --example hello -- 127.0.0.1:8091`

use axum::body::Bytes;
use axum::routing::post;
use axum::{Json, Router};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn answer(body: Bytes) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true, "bytes": body.len() }))
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8091".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let app = Router::new().route("/", post(answer).get(|| async { "hello" }));
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("hello serving on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await
    })
}
