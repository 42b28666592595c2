//! Webhook ingress: `POST /hooks/{instance}` (and `/hooks/{instance}/{token}` for vendors that
//! sign nothing), plus `/healthz` and `/readyz`, on the listener configured in `[server]`.
//!
//! A delivery is answered only after it is durably stored:
//! 1. the instance is looked up (404) and its rate budget checked (429); compressed or oddly
//!    typed bodies are refused (415), oversized ones too (413);
//! 2. the connector verifies the raw bytes (401 with an empty body; the log says why, never
//!    the secret or the payload);
//! 3. the delivery goes to the [`ingest`] writer, which commits many deliveries per flushed
//!    transaction (group commit) and only then lets each request answer 200 — `accepted`, or
//!    `duplicate` for a delivery id seen before;
//! 4. the [`worker`] drains the inbox: the connector parses the body into records or ids to
//!    fetch again, they are upserted like polled data, and the delivery is marked done in the
//!    same transaction; failures retry with backoff and end parked as dead.

pub mod api;
pub mod ingest;
pub mod worker;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use okno_connector::webhook::WebhookRequest;
use sha2::Digest;

use crate::config::{Config, ServerConfig};
use crate::store::{NewDelivery, Store};

/// Headers kept with a stored delivery: enough to trace it, never credentials or signatures.
const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "user-agent",
    "x-zendesk-webhook-id",
    "x-zendesk-webhook-invocation-id",
    "x-zendesk-account-id",
    "x-atlassian-webhook-identifier",
];

/// Shared state of the HTTP surface.
#[derive(Clone)]
pub struct AppState {
    config: Arc<Config>,
    server: ServerConfig,
    store: Store,
    ingest: ingest::Ingest,
    limits: Arc<HashMap<String, DefaultDirectRateLimiter>>,
    wake_worker: Arc<tokio::sync::Notify>,
    scheduler_running: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        ingest: ingest::Ingest,
        wake_worker: Arc<tokio::sync::Notify>,
        scheduler_running: Arc<AtomicBool>,
    ) -> AppState {
        let server = config.server.clone().unwrap_or_default();
        let per_sec = NonZeroU32::new(server.webhook_rate_per_sec).unwrap_or(NonZeroU32::MIN);
        let limits = config
            .connectors
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    RateLimiter::direct(Quota::per_second(per_sec)),
                )
            })
            .collect();
        AppState {
            config,
            server,
            store,
            ingest,
            limits: Arc::new(limits),
            wake_worker,
            scheduler_running,
        }
    }
}

/// The router: webhooks, health checks, metrics and the report API.
pub fn router(state: AppState) -> Router {
    let max_body = state.server.max_body_bytes;
    // A client that sends its body slowly gets 408 instead of holding a connection forever.
    let whole_request = tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        state.server.request_timeout,
    );
    Router::new()
        .route("/hooks/{instance}", post(hook_plain).head(hook_probe))
        .route(
            "/hooks/{instance}/{token}",
            post(hook_with_token).head(hook_probe_with_token),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(whole_request)
        // Reports may take longer than a webhook's request timeout (a first fact build over a
        // large store); they read no body, so that timeout has nothing to guard there.
        .merge(api::routes())
        .layer(axum::middleware::from_fn(count_responses))
        .with_state(state)
}

/// Counts every response by route pattern and status, including the ones axum gives before a
/// handler runs (413 over the body limit, 405, 408, 404 for unknown paths). The route label is
/// the pattern (`/hooks/{instance}`), never the requested path, so series stay few.
async fn count_responses(
    matched: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let response = next.run(request).await;
    metrics::counter!(
        "okno_http_responses_total",
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    response
}

/// Vendors check a callback URL before they deliver to it (Trello sends `HEAD` when a webhook
/// is created): 200 for an instance whose webhooks are configured, 404 otherwise. Nothing is
/// stored and no secret is involved, so nothing can be learnt beyond what 404 on POST says.
async fn hook_probe(State(app): State<AppState>, Path(instance): Path<String>) -> StatusCode {
    probe(&app, &instance)
}

async fn hook_probe_with_token(
    State(app): State<AppState>,
    Path((instance, _token)): Path<(String, String)>,
) -> StatusCode {
    probe(&app, &instance)
}

fn probe(app: &AppState, instance: &str) -> StatusCode {
    match app.config.instance(instance) {
        Some(inst) if inst.connector.webhooks().is_some() => StatusCode::OK,
        _ => StatusCode::NOT_FOUND,
    }
}

async fn hook_plain(
    State(app): State<AppState>,
    Path(instance): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(app, instance, None, headers, body).await
}

async fn hook_with_token(
    State(app): State<AppState>,
    Path((instance, token)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(app, instance, Some(token), headers, body).await
}

/// Counts a delivery's outcome. Instance labels come from config only, never from the URL, so a
/// scan of random paths cannot blow up the number of series.
fn count(instance: &str, result: &'static str) {
    metrics::counter!("okno_webhook_deliveries_total", "instance" => instance.to_string(), "result" => result)
        .increment(1);
}

fn status(code: StatusCode, text: &'static str) -> Response {
    (code, Json(serde_json::json!({ "status": text }))).into_response()
}

async fn receive(
    app: AppState,
    instance: String,
    token: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(inst) = app.config.instance(&instance) else {
        count("unknown", "unknown_instance");
        return status(StatusCode::NOT_FOUND, "unknown instance");
    };
    let Some(handler) = inst.connector.webhooks() else {
        count(&instance, "not_configured");
        return status(
            StatusCode::NOT_FOUND,
            "webhooks are not configured for this instance",
        );
    };
    // Any Content-Encoding but a single `identity` is refused: a compressed body would need
    // decompressing before its size is known.
    let encodings: Vec<_> = headers.get_all("content-encoding").iter().collect();
    let identity_only = match encodings.as_slice() {
        [] => true,
        [one] => one
            .to_str()
            .is_ok_and(|e| e.trim().eq_ignore_ascii_case("identity")),
        _ => false,
    };
    if !identity_only {
        count(&instance, "unsupported_media");
        return status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "compressed bodies are not accepted",
        );
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !(content_type.starts_with("application/json")
        || content_type.starts_with("application/x-www-form-urlencoded"))
    {
        count(&instance, "unsupported_media");
        return status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected JSON or a form body",
        );
    }
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    let request = WebhookRequest {
        received_at: Utc::now(),
        headers: &pairs,
        body: &body,
        path_token: token.as_deref(),
    };
    if let Err(why) = handler.verify(&request) {
        // The reason is logged; the sender learns nothing.
        tracing::warn!(instance, reason = %why, bytes = body.len(), "webhook refused");
        count(
            &instance,
            match why {
                okno_connector::webhook::VerifyError::MissingHeader(_) => "rejected_missing_header",
                okno_connector::webhook::VerifyError::BadSignature => "rejected_signature",
                okno_connector::webhook::VerifyError::Stale => "rejected_stale",
                okno_connector::webhook::VerifyError::Malformed(_) => "rejected_malformed",
            },
        );
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // The budget is spent only by verified deliveries, so unsigned traffic cannot use it up
    // and crowd out the vendor's real ones.
    if app
        .limits
        .get(&instance)
        .is_some_and(|l| l.check().is_err())
    {
        tracing::warn!(instance, "webhook refused: rate limit");
        count(&instance, "rate_limited");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(serde_json::json!({ "status": "slow down" })),
        )
            .into_response();
    }
    let delivery_id = handler
        .delivery_id(&request)
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body))));
    let kept: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .filter(|(k, _)| KEPT_HEADERS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let delivery = NewDelivery {
        source: instance.clone(),
        delivery_id,
        received_at: request.received_at,
        headers: serde_json::Value::Object(kept).to_string(),
        body: body.to_vec(),
    };
    // Leaves a quarter of the request's time to answer 503 before the 408 of the whole request.
    let store_wait = app.server.request_timeout.mul_f64(0.75);
    match tokio::time::timeout(store_wait, app.ingest.store(delivery)).await {
        Ok(Ok(true)) => {
            count(&instance, "accepted");
            app.wake_worker.notify_one();
            status(StatusCode::OK, "accepted")
        }
        Ok(Ok(false)) => {
            count(&instance, "duplicate");
            status(StatusCode::OK, "duplicate")
        }
        Ok(Err(e)) => {
            count(&instance, "store_error");
            tracing::error!(instance, error = %e, "could not store a webhook delivery; not acknowledged");
            status(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
        Err(_) => {
            count(&instance, "store_timeout");
            tracing::error!(
                instance,
                "storing a webhook delivery timed out; not acknowledged"
            );
            status(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}

/// Prometheus text format. With `[server] metrics_token`, requires `Authorization: Bearer <token>`.
/// Whether `headers` carry `Authorization: Bearer <token>` (compared in constant time); true
/// when no token is configured.
fn bearer_allows(headers: &HeaderMap, token: Option<&okno_connector::SecretString>) -> bool {
    let Some(token) = token else {
        return true;
    };
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    okno_connector::signature::verify_token(std::slice::from_ref(token), given)
}

async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if !bearer_allows(&headers, app.server.metrics_token.as_ref()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // Inbox depth is read from the store at scrape time, so it is right across restarts.
    match app.store.inbox_counts().await {
        Ok(counts) => {
            for inst in &app.config.connectors {
                for state in ["pending", "processing", "dead"] {
                    let n = counts
                        .iter()
                        .find(|(s, st, _)| *s == inst.id && st == state)
                        .map_or(0, |(_, _, n)| *n);
                    metrics::gauge!("okno_webhook_inbox", "instance" => inst.id.clone(), "status" => state)
                        .set(n as f64);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the inbox depth for /metrics"),
    }
    (
        [("content-type", "text/plain; version=0.0.4")],
        crate::telemetry::metrics().render(),
    )
        .into_response()
}

async fn readyz(State(app): State<AppState>) -> Response {
    let migrations = app.store.migrations_current().await;
    let scheduler = app.scheduler_running.load(Ordering::Relaxed);
    let (code, body) = match migrations {
        Ok(true) if scheduler => (StatusCode::OK, "ready"),
        Ok(true) => (StatusCode::SERVICE_UNAVAILABLE, "scheduler not running"),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unreachable"),
    };
    status(code, body)
}
