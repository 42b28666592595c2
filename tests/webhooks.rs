//! Webhook ingress: verified, durable, deduplicated deliveries, processed into the store.

mod common;

use common::engine::{fast_worker, state};

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use okno::config::Config;
use okno::store::Store;
use okno::webhooks::{self, worker, AppState};
use okno_connector::signature::{sign, Algorithm, Encoding};
use okno_connector::SecretString;
use tower::ServiceExt;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "current-signing-secret";
const OLD_SECRET: &str = "previous-signing-secret";

fn config(base_url: &str) -> Arc<Config> {
    config_for(base_url, "zd")
}

fn config_for(base_url: &str, id: &str) -> Arc<Config> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
max_body_bytes = 4096
request_timeout_secs = 2

[[connector]]
id = "{id}"
kind = "zendesk"
base_url = "{base_url}"
max_attempts = 1

[connector.settings]
email = "ops@acme.example"
api_token = "${{ZD_TOKEN}}"
webhook_signing_secret = "${{ZD_HOOK}}"
webhook_signing_secret_previous = "${{ZD_HOOK_OLD}}"
"#
        ),
    )
    .unwrap();
    let env = [
        ("ZD_TOKEN", "t"),
        ("ZD_HOOK", SECRET),
        ("ZD_HOOK_OLD", OLD_SECRET),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    Arc::new(okno::config::load_with_env(&path, &env).unwrap().config)
}

fn event(ticket: u64, event_id: &str) -> String {
    format!(
        r#"{{"account_id":1,"detail":{{"id":"{ticket}"}},"event":{{}},"id":"{event_id}","subject":"zen:ticket:{ticket}","time":"2026-11-23T10:00:00Z","type":"zen:event-type:ticket.status_changed","zendesk_event_version":"2022-06-20"}}"#
    )
}

fn post(path: &str, body: &str, secret: &str, signed_at: chrono::DateTime<Utc>) -> Request<Body> {
    let ts = signed_at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let sig = sign(
        Algorithm::Sha256,
        Encoding::Base64,
        &SecretString::from(secret.to_string()),
        &[ts.as_bytes(), body.as_bytes()],
    );
    Request::post(path)
        .header("content-type", "application/json")
        .header("x-zendesk-webhook-signature", sig)
        .header("x-zendesk-webhook-signature-timestamp", ts)
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, String) {
    let resp = webhooks::router(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// A Zendesk stand-in answering show_many with the fixture's first ticket under `id`.
async fn zendesk(id: u64) -> MockServer {
    let server = MockServer::start().await;
    let page: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("connectors/zendesk/tests/fixtures/tickets_page1.json").unwrap(),
    )
    .unwrap();
    let mut ticket = page["tickets"][0].clone();
    ticket["id"] = id.into();
    Mock::given(method("GET"))
        .and(path("/api/v2/tickets/show_many.json"))
        .and(query_param("ids", id.to_string()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({ "tickets": [ticket] })),
        )
        .mount(&server)
        .await;
    server
}

async fn inbox(store: &Store) -> Vec<(String, String, i64)> {
    store.inbox_counts().await.unwrap()
}

store_test!(async fn a_signed_delivery_is_stored_before_the_answer_and_processed_into_the_store(store) {
    let vendor = zendesk(4242).await;
    let config = config(&vendor.uri());
    let app = state(&config, &store);
    let (code, body) = send(&app, post("/hooks/zd", &event(4242, "e1"), SECRET, Utc::now())).await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, r#"{"status":"accepted"}"#));
    // Acknowledged means stored: it is in the inbox before any processing.
    assert_eq!(inbox(&store).await, [("zd".to_string(), "pending".to_string(), 1)]);
    assert!(store.get_ticket("zd", "4242").await.unwrap().is_none());

    let looked_at = worker::drain_once(&config, &store, &fast_worker(), &tokio_util::sync::CancellationToken::new()).await.unwrap();
    assert_eq!(looked_at, 1);
    let ticket = store.get_ticket("zd", "4242").await.unwrap().expect("fetched again by id");
    assert_eq!(ticket.status, "solved");
    assert!(inbox(&store).await.is_empty(), "done deliveries leave the queue");
});

store_test!(async fn unverified_deliveries_get_401_and_store_nothing(store) {
    let config = config("http://127.0.0.1:9");
    let app = state(&config, &store);
    let body = event(1, "e1");
    let now = Utc::now();
    let mut tampered = post("/hooks/zd", &body, SECRET, now);
    *tampered.body_mut() = Body::from(body.replace("status_changed", "created"));
    let mut unsigned = post("/hooks/zd", &body, SECRET, now);
    unsigned.headers_mut().remove("x-zendesk-webhook-signature");
    let cases = [
        ("tampered body", tampered),
        ("wrong secret", post("/hooks/zd", &body, "guessed", now)),
        ("missing header", unsigned),
        ("stale timestamp", post("/hooks/zd", &body, SECRET, now - chrono::Duration::minutes(6))),
        ("future timestamp", post("/hooks/zd", &body, SECRET, now + chrono::Duration::minutes(6))),
    ];
    for (case, req) in cases {
        let (code, text) = send(&app, req).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{case}");
        assert!(text.is_empty(), "{case}: a refusal explains nothing to the sender");
    }
    assert!(inbox(&store).await.is_empty());
});

store_test!(async fn both_secrets_are_accepted_during_rotation(store) {
    let config = config("http://127.0.0.1:9");
    let app = state(&config, &store);
    for (i, secret) in [SECRET, OLD_SECRET].iter().enumerate() {
        let (code, _) = send(&app, post("/hooks/zd", &event(1, &format!("e{i}")), secret, Utc::now())).await;
        assert_eq!(code, StatusCode::OK, "{secret}");
    }
    assert_eq!(inbox(&store).await[0].2, 2);
});

store_test!(async fn a_repeated_delivery_is_acknowledged_and_processed_once(store) {
    let vendor = zendesk(7).await;
    let config = config(&vendor.uri());
    let app = state(&config, &store);
    let first = send(&app, post("/hooks/zd", &event(7, "same-event"), SECRET, Utc::now())).await;
    let again = send(&app, post("/hooks/zd", &event(7, "same-event"), SECRET, Utc::now())).await;
    assert_eq!(first.1, r#"{"status":"accepted"}"#);
    assert_eq!((again.0, again.1.as_str()), (StatusCode::OK, r#"{"status":"duplicate"}"#));
    worker::drain_once(&config, &store, &fast_worker(), &tokio_util::sync::CancellationToken::new()).await.unwrap();
    assert_eq!(vendor.received_requests().await.unwrap().len(), 1, "fetched once");
});

store_test!(async fn malformed_requests_get_clear_status_codes(store) {
    let config = config("http://127.0.0.1:9");
    let app = state(&config, &store);
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(5000));
    assert_eq!(send(&app, post("/hooks/zd", &big, SECRET, Utc::now())).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(send(&app, post("/hooks/nope", &event(1, "e"), SECRET, Utc::now())).await.0, StatusCode::NOT_FOUND);
    let get = Request::get("/hooks/zd").body(Body::empty()).unwrap();
    assert_eq!(send(&app, get).await.0, StatusCode::METHOD_NOT_ALLOWED);
    // A vendor's check of the callback URL (Trello's HEAD) succeeds only where webhooks are on.
    let head = |path: &str| Request::head(path).body(Body::empty()).unwrap();
    assert_eq!(send(&app, head("/hooks/zd")).await.0, StatusCode::OK);
    assert_eq!(send(&app, head("/hooks/zd/some-token")).await.0, StatusCode::OK);
    assert_eq!(send(&app, head("/hooks/nope")).await.0, StatusCode::NOT_FOUND);
    let mut gz = post("/hooks/zd", &event(1, "e"), SECRET, Utc::now());
    gz.headers_mut().insert("content-encoding", "gzip".parse().unwrap());
    assert_eq!(send(&app, gz).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut text = post("/hooks/zd", &event(1, "e"), SECRET, Utc::now());
    text.headers_mut().insert("content-type", "text/plain".parse().unwrap());
    assert_eq!(send(&app, text).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(inbox(&store).await.is_empty());
    let health = Request::get("/healthz").body(Body::empty()).unwrap();
    assert_eq!(send(&app, health).await.0, StatusCode::OK);
    let ready = Request::get("/readyz").body(Body::empty()).unwrap();
    assert_eq!(send(&app, ready).await, (StatusCode::OK, r#"{"status":"ready"}"#.to_string()));
});

store_test!(async fn a_poison_delivery_is_parked_without_blocking_the_others(store) {
    let vendor = zendesk(55).await;
    let config = config(&vendor.uri());
    let app = state(&config, &store);
    send(&app, post("/hooks/zd", r#"{"hello":"no ticket here"}"#, SECRET, Utc::now())).await;
    send(&app, post("/hooks/zd", &event(55, "good"), SECRET, Utc::now())).await;
    let options = fast_worker();
    for _ in 0..options.max_attempts {
        worker::drain_once(&config, &store, &options, &tokio_util::sync::CancellationToken::new()).await.unwrap();
    }
    assert!(store.get_ticket("zd", "55").await.unwrap().is_some(), "the good one went through");
    assert_eq!(inbox(&store).await, [("zd".to_string(), "dead".to_string(), 1)]);
    let dead = store.delivery(1).await.unwrap().unwrap();
    assert_eq!((dead.status.as_str(), dead.attempts), ("dead", 3));
    assert!(dead.last_error.unwrap().contains("no ticket id"));
    // Replay puts it back in the queue.
    assert!(store.requeue_delivery(1).await.unwrap());
    assert_eq!(inbox(&store).await, [("zd".to_string(), "pending".to_string(), 1)]);
});

store_test!(async fn an_acknowledged_delivery_survives_a_restart_before_processing(store) {
    let vendor = zendesk(99).await;
    let config = config(&vendor.uri());
    {
        let app = state(&config, &store);
        let (code, _) = send(&app, post("/hooks/zd", &event(99, "e"), SECRET, Utc::now())).await;
        assert_eq!(code, StatusCode::OK);
        // The process "dies" here: the router, its writer and its worker are dropped unprocessed.
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(worker::run(
        config.clone(),
        store.clone(),
        fast_worker(),
        Arc::new(tokio::sync::Notify::new()),
        shutdown.clone(),
    ));
    for _ in 0..200 {
        if store.get_ticket("zd", "99").await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    worker.await.unwrap();
    assert!(store.get_ticket("zd", "99").await.unwrap().is_some(), "processed after the restart");
    assert!(inbox(&store).await.is_empty());
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_through_a_real_socket_are_acknowledged_after_commit() {
    let (store, _dir) = common::sqlite_store().await;
    let vendor = zendesk(5).await;
    let config = config(&vendor.uri());
    let app = webhooks::router(state(&config, &store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = okno_connector::reqwest::Client::new();
    let mut answers = Vec::new();
    for i in 0..20 {
        let req = post("/", &event(5, &format!("e{i}")), SECRET, Utc::now());
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let mut builder = client.post(format!("http://{addr}/hooks/zd"));
        for (k, v) in &parts.headers {
            builder = builder.header(k.as_str(), v.to_str().unwrap());
        }
        answers.push(builder.body(bytes.to_vec()).send());
    }
    for a in futures::future::join_all(answers).await {
        assert_eq!(a.unwrap().status(), 200);
    }
    assert_eq!(
        inbox(&store).await,
        [("zd".to_string(), "pending".to_string(), 20)]
    );
    server.abort();
}

/// The value of the first series of `name` whose labels include all of `labels`.
fn series(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_counters_moving() {
    okno::telemetry::metrics();
    let (store, _dir) = common::sqlite_store().await;
    // An instance of its own: other tests in this binary post to "zd" at the same time.
    let config = config_for("http://127.0.0.1:9", "metrics-zd");
    let app = state(&config, &store);
    let scrape = |app: AppState| async move {
        let req = Request::get("/metrics").body(Body::empty()).unwrap();
        send(&app, req).await
    };
    let (code, before) = scrape(app.clone()).await;
    assert_eq!(code, StatusCode::OK);
    let accepted = r#"result="accepted""#;
    let refused = r#"result="rejected_signature""#;
    let zd = r#"instance="metrics-zd""#;
    let a0 = series(&before, "okno_webhook_deliveries_total", &[zd, accepted]);
    let r0 = series(&before, "okno_webhook_deliveries_total", &[zd, refused]);

    send(
        &app,
        post("/hooks/metrics-zd", &event(1, "m1"), SECRET, Utc::now()),
    )
    .await;
    send(
        &app,
        post("/hooks/metrics-zd", &event(1, "m2"), "wrong", Utc::now()),
    )
    .await;
    let (_, after) = scrape(app.clone()).await;
    assert_eq!(
        series(&after, "okno_webhook_deliveries_total", &[zd, accepted]),
        a0 + 1.0,
        "{after}"
    );
    assert_eq!(
        series(&after, "okno_webhook_deliveries_total", &[zd, refused]),
        r0 + 1.0
    );
    assert_eq!(
        series(&after, "okno_webhook_inbox", &[zd, r#"status="pending""#]),
        1.0
    );

    // Answers axum gives before any handler are counted too (only this test POSTs /healthz).
    let labels = [r#"route="/healthz""#, r#"status="405""#];
    let h0 = series(&after, "okno_http_responses_total", &labels);
    let wrong_method = Request::post("/healthz").body(Body::empty()).unwrap();
    assert_eq!(
        send(&app, wrong_method).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let (_, last) = scrape(app.clone()).await;
    assert_eq!(
        series(&last, "okno_http_responses_total", &labels),
        h0 + 1.0,
        "{last}"
    );
}

#[tokio::test]
async fn metrics_can_require_a_bearer_token() {
    let (store, _dir) = common::sqlite_store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.toml");
    std::fs::write(&path, "[server]\nmetrics_token = \"${M_TOKEN}\"\n").unwrap();
    let env = vec![("M_TOKEN".to_string(), "scrape-me".to_string())];
    let config = Arc::new(okno::config::load_with_env(&path, &env).unwrap().config);
    let app = state(&config, &store);
    let get = |auth: Option<&str>| {
        let mut req = Request::get("/metrics");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.body(Body::empty()).unwrap()
    };
    assert_eq!(send(&app, get(None)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&app, get(Some("Bearer nope"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, get(Some("Bearer scrape-me"))).await.0,
        StatusCode::OK
    );
}

store_test!(async fn a_body_that_never_finishes_gets_408_and_stores_nothing(store) {
    let config = config("http://127.0.0.1:9");
    let app = state(&config, &store);
    let never = futures::stream::pending::<Result<axum::body::Bytes, std::io::Error>>();
    let req = Request::post("/hooks/zd")
        .header("content-type", "application/json")
        .body(Body::from_stream(never))
        .unwrap();
    assert_eq!(send(&app, req).await.0, StatusCode::REQUEST_TIMEOUT);
    assert!(inbox(&store).await.is_empty());
});

/// A real `okno run` acknowledges a delivery, is killed with SIGKILL while processing it, and
/// processes it after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_acknowledged_by_a_killed_daemon_is_processed_after_restart() {
    use std::process::Stdio;
    let vendor = MockServer::start().await;
    // Polling finds nothing new; the refetch hangs first, then answers.
    Mock::given(method("GET"))
        .and(path("/api/v2/incremental/tickets/cursor.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "tickets": [], "after_url": null, "after_cursor": "c", "before_url": null,
            "before_cursor": null, "end_of_stream": true
        })))
        .mount(&vendor)
        .await;
    let page: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("connectors/zendesk/tests/fixtures/tickets_page1.json").unwrap(),
    )
    .unwrap();
    let mut ticket = page["tickets"][0].clone();
    ticket["id"] = 31337.into();
    let hang = Mock::given(method("GET"))
        .and(path("/api/v2/tickets/show_many.json"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)))
        .mount_as_scoped(&vendor)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("okno.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config_path = dir.path().join("okno.toml");
    std::fs::write(
        &config_path,
        format!(
            r#"
[store]
url = "sqlite://{db}"
[server]
listen = "127.0.0.1:{port}"
[[connector]]
id = "zd"
kind = "zendesk"
base_url = "{base}"
streams = ["tickets"]
schedule = "0 0 1 1 *"
timeout_secs = 3600
[connector.settings]
email = "ops@acme.example"
api_token = "t"
webhook_signing_secret = "{SECRET}"
"#,
            db = db.display(),
            base = vendor.uri()
        ),
    )
    .unwrap();
    let daemon = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_okno"))
            .arg("--config")
            .arg(&config_path)
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let client = okno_connector::reqwest::Client::new();
    let ready = |client: okno_connector::reqwest::Client| async move {
        for _ in 0..500 {
            if let Ok(r) = client
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
            {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("okno never became ready");
    };

    let mut first = daemon();
    ready(client.clone()).await;
    let req = post(
        "/",
        &event(31337, "killed-before-processing"),
        SECRET,
        Utc::now(),
    );
    let (parts, body) = req.into_parts();
    let mut builder = client.post(format!("http://127.0.0.1:{port}/hooks/zd"));
    for (k, v) in &parts.headers {
        builder = builder.header(k.as_str(), v.to_str().unwrap());
    }
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let answer = builder.body(bytes.to_vec()).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    // Wait until the worker is inside the (hanging) refetch, then kill without warning.
    let mut asked = false;
    for _ in 0..500 {
        asked = vendor
            .received_requests()
            .await
            .unwrap()
            .iter()
            .any(|r| r.url.path().ends_with("show_many.json"));
        if asked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(asked, "the worker reached the vendor before the kill");
    first.kill().await.unwrap();
    let store = Store::connect(&format!("sqlite://{}", db.display()), 1)
        .await
        .unwrap();
    assert!(
        store.get_ticket("zd", "31337").await.unwrap().is_none(),
        "killed before processing"
    );
    // Claimed by the worker that was killed: the restarted one must take it over at once.
    assert_eq!(
        store.inbox_counts().await.unwrap(),
        [("zd".to_string(), "processing".to_string(), 1)]
    );

    drop(hang);
    Mock::given(method("GET"))
        .and(path("/api/v2/tickets/show_many.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({ "tickets": [ticket] })),
        )
        .mount(&vendor)
        .await;
    let mut second = daemon();
    ready(client.clone()).await;
    let store = Store::connect(&format!("sqlite://{}", db.display()), 1)
        .await
        .unwrap();
    let mut processed = false;
    for _ in 0..500 {
        if store.get_ticket("zd", "31337").await.unwrap().is_some() {
            processed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    second.kill().await.unwrap();
    assert!(
        processed,
        "the acknowledged delivery was processed after the restart"
    );
    assert!(store.inbox_counts().await.unwrap().is_empty());
    store.close().await;
}

store_test!(async fn a_delivery_is_held_by_one_worker_at_a_time(store) {
    let config = config("http://127.0.0.1:9");
    let app = state(&config, &store);
    send(&app, post("/hooks/zd", &event(1, "claimed"), SECRET, Utc::now())).await;
    let minute = Duration::from_secs(60);
    assert!(store.claim_delivery(1, "host:1:a", None, minute).await.unwrap());
    assert!(!store.claim_delivery(1, "host:2:b", None, minute).await.unwrap(), "held by a");
    // A worker known to be dead loses its claim at once.
    assert!(store.claim_delivery(1, "host:2:b", Some("host:1:a"), minute).await.unwrap());
    assert!(!store.claim_delivery(1, "host:3:c", Some("host:1:a"), minute).await.unwrap(), "b has it now");
});

store_test!(async fn a_vendor_outage_never_parks_deliveries_as_dead(store) {
    let vendor = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/tickets/show_many.json"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&vendor)
        .await;
    let config = config(&vendor.uri());
    let app = state(&config, &store);
    send(&app, post("/hooks/zd", &event(8, "outage"), SECRET, Utc::now())).await;
    let options = fast_worker();
    let stop = tokio_util::sync::CancellationToken::new();
    for _ in 0..options.max_attempts + 2 {
        worker::drain_once(&config, &store, &options, &stop).await.unwrap();
    }
    let row = store.delivery(1).await.unwrap().unwrap();
    assert_eq!(row.status, "pending", "still waiting for the vendor");
    assert_eq!(row.attempts, i64::from(options.max_attempts) + 2);
    assert!(row.last_error.unwrap().starts_with("[transient]"));
});
