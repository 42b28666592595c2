//! Several `okno run` processes on one PostgreSQL database: work spreads, a killed replica's
//! instances move on, and a replica paused past its leases writes nothing stale when it wakes.
//! PostgreSQL only (replicas need it); skipped, saying so, without `OKNO_TEST_PG_URL`.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use okno::store::Store;

const INSTANCES: usize = 6;
const TICKETS: u64 = 1500;

fn spawn(config: &std::path::Path, log: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_okno"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env_remove("OKNO_CONFIG")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: sends a signal to a child process this test started and still owns.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0, "kill({}, {sig})", child.id());
}

/// (instance, holder pid) of every live lease of a connector instance.
async fn holders(store: &Store) -> Vec<(String, u32)> {
    store
        .live_leases()
        .await
        .unwrap()
        .into_iter()
        // Connector instances only: an export's lease (`export:<name>`) is held while a night
        // is written, and a written night is not taken up again.
        .filter(|(source, _)| !source.starts_with("export:"))
        .filter_map(|(source, holder)| {
            let pid = holder.rsplit(':').nth(1)?.parse().ok()?;
            Some((source, pid))
        })
        .collect()
}

/// Waits until `done` holds, polling; returns how long it took.
async fn wait_for<F, Fut>(limit: Duration, what: &str, mut done: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

/// The first replica found holding a lease, and the instances it holds; `pause` between looks.
async fn a_holder(store: &Store, replicas: &[Child], pause: Duration) -> (usize, Vec<String>) {
    loop {
        let now = holders(store).await;
        if let Some(i) = replicas
            .iter()
            .position(|c| now.iter().any(|(_, p)| *p == c.id()))
        {
            let held = now
                .iter()
                .filter(|(_, p)| *p == replicas[i].id())
                .map(|(s, _)| s.clone())
                .collect();
            return (i, held);
        }
        tokio::time::sleep(pause).await;
    }
}

/// How long until every instance of `held` has a run that succeeded after `since`.
async fn moved_on(
    store: &Store,
    held: &[String],
    since: chrono::DateTime<chrono::Utc>,
    what: &str,
) -> Duration {
    wait_for(Duration::from_secs(30), what, || {
        let store = store.clone();
        let held = held.to_vec();
        async move {
            for instance in &held {
                if !succeeded_since(&store, instance, since).await {
                    return false;
                }
            }
            true
        }
    })
    .await
}

/// Runs of `instance` that succeeded after `since`.
async fn succeeded_since(
    store: &Store,
    instance: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> bool {
    store
        .latest_runs(Some(instance))
        .await
        .unwrap()
        .iter()
        .any(|r| r.status == "succeeded" && r.started_at > since)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_work_survive_kill_9_and_fence_a_paused_holder() {
    let Some(pg) =
        common::postgres_store("replicas_share_the_work_survive_kill_9_and_fence_a_paused_holder")
            .await
    else {
        return;
    };
    let store = pg.store.clone();
    let dir = tempfile::tempdir().unwrap();
    let separator = if pg.url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{separator}options=-c%20search_path%3D{}",
        pg.url, pg.schema
    );
    let mut toml = format!("[store]\nurl = \"{url}\"\nlease_ttl_secs = 3\n");
    for i in 0..INSTANCES {
        // Every second, so a free instance is picked up at once; small pages, so runs last.
        toml.push_str(&format!(
            "[[connector]]\nid = \"demo{i}\"\nkind = \"demo\"\nschedule = \"* * * * * *\"\n\
             [connector.settings]\nseed = {i}\ntickets = {TICKETS}\npage_size = 20\nleads = 0\ncampaigns = 0\ntasks = 0\n"
        ));
    }
    // Every replica, and each one restarted below, finds last night owed when it starts: it is
    // written once, by whichever takes the export's lease first.
    let exports = dir.path().join("exports");
    toml.push_str(&format!(
        "[[export]]\nname = \"nightly\"\nreports = [\"roi_by_channel\"]\nperiods = [\"day\"]\n\
         formats = [\"csv\", \"xlsx\"]\ndirectory = \"{}\"\n",
        exports.display()
    ));
    let config = dir.path().join("okno.toml");
    std::fs::write(&config, toml).unwrap();
    let mut logs: Vec<std::path::PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("replica{i}.log")))
        .collect();
    let mut replicas: Vec<Child> = logs.iter().map(|log| spawn(&config, log)).collect();

    // Work spreads: over a few seconds, more than one replica holds leases.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    wait_for(
        Duration::from_secs(60),
        "two replicas holding leases",
        || {
            let store = store.clone();
            let seen = seen.clone();
            async move {
                let now = holders(&store).await;
                let mut seen = seen.lock().unwrap();
                seen.extend(now.into_iter().map(|(_, pid)| pid));
                seen.len() >= 2
            }
        },
    )
    .await;

    // kill -9 a replica while it holds a lease: its instances run elsewhere soon after.
    let mut failovers = Vec::new();
    for _ in 0..3 {
        let (victim, held) = a_holder(&store, &replicas, Duration::from_millis(20)).await;
        let killed_at = chrono::Utc::now();
        signal(&replicas[victim], libc::SIGKILL);
        let _ = replicas[victim].wait();
        let took = moved_on(
            &store,
            &held,
            killed_at,
            "the killed replica's instances to run elsewhere",
        )
        .await;
        failovers.push(took);
        logs[victim] = dir
            .path()
            .join(format!("replica{victim}-after-kill{}.log", failovers.len()));
        replicas[victim] = spawn(&config, &logs[victim]);
    }

    // SIGSTOP a holder mid-run, past its leases; others take its instances over. On SIGCONT
    // its next commit is refused by the epoch fence (or its heartbeat sees the loss first).
    let (paused, held) = a_holder(&store, &replicas, Duration::from_millis(5)).await;
    let stopped_at = chrono::Utc::now();
    signal(&replicas[paused], libc::SIGSTOP);
    let paused_failover = moved_on(
        &store,
        &held,
        stopped_at,
        "the paused replica's instances to run elsewhere",
    )
    .await;
    signal(&replicas[paused], libc::SIGCONT);
    tokio::time::sleep(Duration::from_secs(2)).await;

    for child in &mut replicas {
        signal(child, libc::SIGTERM);
    }
    for child in &mut replicas {
        let _ = child.wait();
    }
    let paused_log = std::fs::read_to_string(&logs[paused]).unwrap_or_default();
    // Woken up, the paused replica finds its transaction ended by the server (it stalled inside
    // one), its next commit refused by the fence, or its heartbeat refused — or, paused between
    // pages at the end of a run, nothing left to write. Which one is timing; the store tests
    // prove each refusal, this one that the data stays whole whatever happened.
    let woke = paused_log
        .lines()
        .skip_while(|l| !l.contains("okno started"))
        .find(|l| {
            l.contains("is now leased by another process")
                || l.contains("lease lost")
                || l.contains("idle-in-transaction")
        });
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!("paused replica on waking: {woke:?}\n"),
    );

    // The export: one night, written once across every replica that ever ran.
    let runs = store.export_runs(Some("nightly")).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, "done", "{runs:?}");
    let mut written = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            written += log.lines().filter(|l| l.contains("export written")).count();
        }
    }
    assert_eq!(written, 1, "the night was written {written} times");
    assert!(exports
        .join(runs[0].night.to_string())
        .join("manifest.json")
        .is_file());

    // Nothing lost, nothing doubled: every instance holds exactly its generated tickets.
    for i in 0..INSTANCES {
        let ids = store.ticket_ids(&format!("demo{i}")).await.unwrap();
        assert_eq!(ids.len() as u64, TICKETS, "demo{i}");
    }
    let mut ms: Vec<u128> = failovers.iter().map(|d| d.as_millis()).collect();
    ms.sort_unstable();
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "failover after kill -9 (ms): {ms:?}; after SIGSTOP past a 3 s lease: {} ms\n",
            paused_failover.as_millis()
        ),
    );
    assert!(
        paused_failover <= Duration::from_secs(6) + Duration::from_secs(2),
        "{paused_failover:?}"
    );
    pg.cleanup().await;
}

/// Three processes that each need amoCRM's token at the same moment, against an amoCRM whose
/// refresh token works exactly once: one refresh, and all three succeed with its result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_refresh_a_single_use_token_once() {
    use okno_connector::oauth::{Save, TokenSet};
    use okno_connector::{ExposeSecret, SecretString, TokenVault};
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let Some(pg) = common::postgres_store("three_processes_refresh_a_single_use_token_once").await
    else {
        return;
    };
    let server = MockServer::start().await;
    let token =
        std::fs::read_to_string("connectors/amocrm/tests/fixtures/token_refresh.json").unwrap();
    Mock::given(method("POST"))
        .and(path("/oauth2/access_token"))
        .and(body_string_contains("\"refresh_token\":\"amo-refresh-0\""))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(token.into_bytes(), "application/json")
                // Long enough for all three processes to be asking at once.
                .set_delay(Duration::from_millis(500)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let account = std::fs::read_to_string("connectors/amocrm/tests/fixtures/account.json").unwrap();
    Mock::given(method("GET"))
        .and(path("/api/v4/account"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(account.into_bytes(), "application/hal+json"),
        )
        .expect(3)
        .mount(&server)
        .await;

    let vault = TokenVault::new();
    pg.store.attach_tokens(&vault);
    let expired = TokenSet {
        access_token: SecretString::from("amo-access-0".to_string()),
        refresh_token: Some(SecretString::from("amo-refresh-0".to_string())),
        expires_at: Some(chrono::Utc::now() - chrono::Duration::minutes(5)),
        api_domain: None,
    };
    vault
        .get()
        .unwrap()
        .save("amo", Save::Authorize, &expired)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let separator = if pg.url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{separator}options=-c%20search_path%3D{}",
        pg.url, pg.schema
    );
    let config = dir.path().join("okno.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"{url}\"\n[[connector]]\nid = \"amo\"\nkind = \"amocrm\"\nbase_url = \"{}\"\n\
             [connector.settings]\nsubdomain = \"okhvat\"\nclient_id = \"7b41e95c\"\nclient_secret = \"${{AMO_SECRET}}\"\n\
             redirect_uri = \"https://okno.example.com/amocrm/callback\"\n",
            server.uri()
        ),
    )
    .unwrap();
    let children: Vec<Child> = (0..3)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_okno"))
                .args(["--config", config.to_str().unwrap(), "validate", "--online"])
                .env_remove("OKNO_CONFIG")
                .env("AMO_SECRET", "amo-secret")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("amo (amocrm): ok"), "{text}");
    }
    server.verify().await;
    let stored = vault.get().unwrap().load("amo").await.unwrap().unwrap();
    assert!(stored
        .tokens
        .refresh_token
        .unwrap()
        .expose_secret()
        .starts_with("def502003f8e1a7c"));
    pg.cleanup().await;
}
