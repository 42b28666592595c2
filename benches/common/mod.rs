//! What both benchmarks need: a fresh, migrated store on SQLite or on PostgreSQL (a schema of
//! its own in `OKNO_BENCH_PG_URL`, dropped afterwards).

use std::path::Path;
use std::str::FromStr;

use okno::store::Store;

/// A migrated store for `backend` ("sqlite" or "postgres"); SQLite files go under `dir`.
pub async fn bench_store(backend: &str, dir: &Path, connections: u32) -> BenchStore {
    let (store, schema) = if backend == "postgres" {
        let url = std::env::var("OKNO_BENCH_PG_URL").expect("OKNO_BENCH_PG_URL");
        let schema = format!("okno_bench_{}", std::process::id());
        let admin = Store::connect(&url, 1).await.expect("postgres");
        admin
            .execute_admin(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("schema");
        admin.close().await;
        let opts = sqlx::postgres::PgConnectOptions::from_str(&url)
            .expect("url")
            .options([("search_path", schema.as_str())]);
        let store = Store::connect_postgres(opts, connections)
            .await
            .expect("postgres");
        (store, Some((url, schema)))
    } else {
        let url = format!("sqlite://{}/bench.db", dir.display());
        (
            Store::connect(&url, connections).await.expect("sqlite"),
            None,
        )
    };
    store.migrate().await.expect("migrate");
    BenchStore { store, schema }
}

pub struct BenchStore {
    pub store: Store,
    schema: Option<(String, String)>,
}

impl BenchStore {
    /// The PostgreSQL schema the store lives in, for another process to open it.
    #[allow(dead_code)] // the figures bench's export child; the other benches open no second process
    pub fn schema_name(&self) -> Option<&str> {
        self.schema.as_ref().map(|(_, s)| s.as_str())
    }

    /// Closes the store and drops the PostgreSQL schema.
    pub async fn finish(self) {
        self.store.close().await;
        if let Some((url, schema)) = self.schema {
            let admin = Store::connect(&url, 1).await.expect("postgres");
            let _ = admin
                .execute_admin(&format!("DROP SCHEMA {schema} CASCADE"))
                .await;
            admin.close().await;
        }
    }
}
