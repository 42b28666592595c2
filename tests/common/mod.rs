//! Shared test helpers: a fresh store per test on each backend, and a Zendesk instance pointed
//! at a mock server.
//!
//! PostgreSQL tests run when `OKNO_TEST_PG_URL` is set (CI sets it; `.ci/run` starts the local
//! server). Without it they print a SKIPPED line to the terminal and pass, so `cargo test` on a
//! laptop without PostgreSQL still works and says what it did not check.

#![allow(dead_code)]

pub mod engine;
pub mod records;

use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

use okno::config::Instance;
use okno::store::Store;
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;

/// A migrated SQLite store in a temporary directory (kept alive by the returned guard).
pub async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/okno.db", dir.path().display());
    let store = Store::connect(&url, 4).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    (store, dir)
}

/// A migrated PostgreSQL store in a fresh schema, or `None` (with a SKIPPED line) when
/// `OKNO_TEST_PG_URL` is not set. A set but unreachable server fails the test.
pub async fn postgres_store(test: &str) -> Option<PgGuard> {
    let Ok(url) = std::env::var("OKNO_TEST_PG_URL") else {
        // Written to the real stderr, past the test harness's capture, so it is always seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED on PostgreSQL: {test} (set OKNO_TEST_PG_URL=postgres://... to run it)"
        );
        return None;
    };
    let schema = format!("okno_t_{}_{}", std::process::id(), rand::random::<u32>());
    let mut admin = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("OKNO_TEST_PG_URL is set but PostgreSQL is unreachable: {e}"));
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("create schema");
    let opts = PgConnectOptions::from_str(&url)
        .expect("OKNO_TEST_PG_URL")
        .options([("search_path", schema.as_str())]);
    let store = Store::connect_postgres(opts, 4)
        .await
        .expect("open postgres");
    store.migrate().await.expect("migrate postgres");
    Some(PgGuard { store, schema, url })
}

/// A PostgreSQL store whose schema is dropped by [`PgGuard::cleanup`].
pub struct PgGuard {
    pub store: Store,
    pub schema: String,
    pub url: String,
}

impl PgGuard {
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Ok(mut admin) = sqlx::PgConnection::connect(&self.url).await {
            let _ = sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
                .execute(&mut admin)
                .await;
        }
    }
}

/// Declares a test that runs once on SQLite and once on PostgreSQL:
///
/// ```ignore
/// store_test!(async fn idempotent_upsert(store) { ... });
/// ```
/// expands to `mod idempotent_upsert { fn sqlite(); fn postgres(); }`.
#[macro_export]
macro_rules! store_test {
    (async fn $name:ident($store:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($store: okno::store::Store) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (store, _dir) = $crate::common::sqlite_store().await;
                body(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let name = concat!(module_path!(), "::", stringify!($name));
                if let Some(pg) = $crate::common::postgres_store(name).await {
                    body(pg.store.clone()).await;
                    pg.cleanup().await;
                }
            }
        }
    };
}

/// Writes a config file with one Zendesk instance pointed at `base_url` and loads it.
pub fn zendesk_instance(base_url: &str, extra: &str) -> Instance {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("okno.toml");
    let text = format!(
        r#"
[[connector]]
id = "zd"
kind = "zendesk"
base_url = "{base_url}"
start_date = "2026-01-01"
streams = ["tickets"]
max_attempts = 3
timeout_secs = 5
{extra}

[connector.rate_limit]
incremental = 100000

[connector.settings]
email = "ops@acme.example"
api_token = "${{ZD_TOKEN}}"
"#
    );
    std::fs::write(&path, text).expect("write config");
    let env = vec![("ZD_TOKEN".to_string(), "test-token".to_string())];
    let loaded = okno::config::load_with_env(&path, &env).unwrap_or_else(|e| panic!("{e}"));
    loaded
        .config
        .connectors
        .into_iter()
        .next()
        .expect("one instance")
}

/// Silences progress output in tests.
pub fn quiet() -> Arc<dyn okno::sync::Progress> {
    Arc::new(okno::sync::QuietProgress)
}
