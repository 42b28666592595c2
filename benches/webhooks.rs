//! Webhook ingest benchmark: signed Zendesk deliveries posted over loopback by concurrent
//! keep-alive clients, each answered only after its group-committed, flushed transaction.
//!
//! ```text
//! cargo bench --bench webhooks                               # SQLite (+ PostgreSQL with OKNO_BENCH_PG_URL)
//! cargo bench --bench webhooks -- --deliveries 50000 --concurrency 64
//! ```
//!
//! Reports deliveries per second and the acknowledgement latency (p50, p99, max) seen by the
//! clients, then checks that the inbox holds exactly the deliveries sent.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use okno::webhooks::{ingest::Ingest, router, AppState};
use okno_connector::signature::{sign, Algorithm, Encoding};
use okno_connector::SecretString;

mod common;

const SECRET: &str = "bench-signing-secret";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    okno::alloc::tune();
    let args: Vec<String> = std::env::args().collect();
    let n: usize = arg(&args, "--deliveries")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let concurrency: usize = arg(&args, "--concurrency")
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{:<9} {:>10} {:>6} {:>12} {:>9} {:>9} {:>9}",
        "backend", "deliveries", "conc", "per second", "p50 ms", "p99 ms", "max ms"
    );
    rt.block_on(run("sqlite", n, concurrency));
    if std::env::var("OKNO_BENCH_PG_URL").is_ok() {
        rt.block_on(run("postgres", n, concurrency));
    } else {
        eprintln!("(PostgreSQL skipped: set OKNO_BENCH_PG_URL to include it)");
    }
}

async fn run(backend: &str, n: usize, concurrency: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bench = common::bench_store(backend, dir.path(), 8).await;
    let store = bench.store.clone();
    let config_path = dir.path().join("okno.toml");
    std::fs::write(
        &config_path,
        format!(
            "[server]\nwebhook_rate_per_sec = 1000000\n[[connector]]\nid = \"zd\"\nkind = \"zendesk\"\n\
             base_url = \"http://127.0.0.1:9\"\n[connector.settings]\nemail = \"b@acme.example\"\n\
             api_token = \"x\"\nwebhook_signing_secret = \"{SECRET}\"\n"
        ),
    )
    .expect("config");
    let config = Arc::new(
        okno::config::load_with_env(&config_path, &[])
            .expect("config")
            .config,
    );
    let state = AppState::new(
        config,
        store.clone(),
        Ingest::start(store.clone()),
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(AtomicBool::new(true)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, router(state)).await });

    // Signed up front, so the clock measures okno, not the load generator's HMACs.
    let ts = Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let secret = SecretString::from(SECRET.to_string());
    let requests: Vec<(String, String)> = (0..n)
        .map(|i| {
            let body = format!(
                r#"{{"account_id":1,"detail":{{"id":"{}"}},"event":{{}},"id":"bench-{i}","subject":"zen:ticket:{}","time":"{ts}","type":"zen:event-type:ticket.status_changed","zendesk_event_version":"2022-06-20"}}"#,
                1000 + i,
                1000 + i
            );
            let sig = sign(Algorithm::Sha256, Encoding::Base64, &secret, &[ts.as_bytes(), body.as_bytes()]);
            (body, sig)
        })
        .collect();
    let requests = Arc::new(requests);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let client = okno_connector::reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let url = format!("http://{addr}/hooks/zd");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, requests, next, ts) = (
            client.clone(),
            url.clone(),
            requests.clone(),
            next.clone(),
            ts.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((body, sig)) = requests.get(i) else {
                    break;
                };
                let sent = Instant::now();
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-zendesk-webhook-signature", sig)
                    .header("x-zendesk-webhook-signature-timestamp", &ts)
                    .body(body.clone())
                    .send()
                    .await
                    .expect("request");
                assert_eq!(resp.status(), 200, "delivery {i}");
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(n);
    for t in tasks {
        latencies.extend(t.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let stored: i64 = store
        .inbox_counts()
        .await
        .expect("counts")
        .iter()
        .map(|(_, _, n)| n)
        .sum();
    assert_eq!(
        stored as usize, n,
        "every acknowledged delivery is stored, once"
    );
    println!(
        "{:<9} {:>10} {:>6} {:>12.0} {:>9.2} {:>9.2} {:>9.2}",
        backend,
        n,
        concurrency,
        n as f64 / elapsed.as_secs_f64(),
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(*latencies.last().expect("latencies"))
    );
    server.abort();
    bench.finish().await;
}
