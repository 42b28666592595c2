//! Helpers for end-to-end tests of connectors through the engine and the webhook path.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use okno::config::Config;
use okno::store::Store;
use okno::webhooks::{self, ingest::Ingest, worker, AppState};
use tower::ServiceExt;
use wiremock::ResponseTemplate;

/// A fixture file of a connector's test folder, e.g. `("connectors/jira/tests/fixtures", "x.json")`.
pub fn fixture(dir: &str, name: &str) -> String {
    std::fs::read_to_string(format!("{dir}/{name}")).unwrap()
}

/// A 200 answer with this JSON text, byte for byte.
pub fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
}

/// Loads a configuration written to a temporary file, with this environment.
pub fn load_config(toml: &str, env: &[(&str, &str)]) -> Arc<Config> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("okno.toml");
    std::fs::write(&file, toml).unwrap();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Arc::new(okno::config::load_with_env(&file, &env).unwrap().config)
}

/// The HTTP surface's state over `store`, as `okno run` builds it.
pub fn state(config: &Arc<Config>, store: &Store) -> AppState {
    AppState::new(
        config.clone(),
        store.clone(),
        Ingest::start(store.clone()),
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(AtomicBool::new(true)),
    )
}

/// Sends one request through the router; returns its status.
pub async fn send(state: &AppState, req: Request<Body>) -> StatusCode {
    webhooks::router(state.clone())
        .oneshot(req)
        .await
        .unwrap()
        .status()
}

/// A worker that retries at once, for tests that drain the inbox.
pub fn fast_worker() -> worker::WorkerOptions {
    worker::WorkerOptions {
        max_attempts: 3,
        first_retry: std::time::Duration::ZERO,
        max_retry: std::time::Duration::ZERO,
        poll: std::time::Duration::from_millis(10),
        retention: std::time::Duration::from_secs(86_400),
    }
}
