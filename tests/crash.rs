//! Crash safety: a sync stopped mid-run — its task dropped, or its process killed — and started
//! again ends with exactly the vendor's records, none missing, none doubled.

mod common;

use okno_connector::testkit::MockVendor;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::Duration;

use okno::store::{RunStatus, Store};
use okno::sync::{sync_stream, RunOptions, Trigger};
use okno_connector::serde_json::json;
use okno_connector::Cursor;
use okno_zendesk::mock::{TicketExport, FIRST_ID};
use tokio_util::sync::CancellationToken;

const MANUAL: RunOptions = RunOptions {
    full: false,
    trigger: Trigger::Manual,
};

fn expected_ids(total: u64) -> Vec<String> {
    let mut ids: Vec<String> = (0..total).map(|i| (FIRST_ID + i).to_string()).collect();
    ids.sort();
    ids
}

/// Waits until the stream's committed cursor reads `after_cursor = n`.
async fn wait_for_cursor(store: &Store, n: u64) {
    let want = Some(Cursor(json!({ "after_cursor": n.to_string() })));
    for _ in 0..500 {
        if store.load_cursor("zd", "tickets").await.unwrap() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cursor never reached {n}");
}

store_test!(async fn a_sync_task_dropped_mid_run_resumes_without_loss_or_duplicates(store) {
    let export = TicketExport::new(5000, 1000);
    // Page 3 never answers: the task is in the middle of a fetch when it is dropped.
    export.faults.hang_at_offset.store(2000, Ordering::SeqCst);
    let server = export.start().await;
    let inst = common::zendesk_instance(&server.uri(), "");

    let task = {
        let (store, inst) = (store.clone(), inst.clone());
        tokio::spawn(async move {
            let progress = common::quiet();
            sync_stream(&store, &inst, "tickets", MANUAL, &CancellationToken::new(), progress.as_ref()).await
        })
    };
    wait_for_cursor(&store, 2000).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(store.ticket_ids("zd").await.unwrap().len(), 2000);

    export.faults.clear();
    let served_before = export.served.load(Ordering::SeqCst);
    let progress = common::quiet();
    let resumed = sync_stream(&store, &inst, "tickets", MANUAL, &CancellationToken::new(), progress.as_ref())
        .await
        .unwrap();
    assert_eq!(resumed.status, RunStatus::Succeeded);
    assert_eq!(resumed.records, 3000, "only pages 3 to 5 are fetched again");
    assert_eq!(export.served.load(Ordering::SeqCst) - served_before, 3);
    assert_eq!(store.ticket_ids("zd").await.unwrap(), expected_ids(5000));
});

store_test!(async fn shutdown_stops_between_pages_with_a_valid_cursor(store) {
    let export = TicketExport::new(3000, 1000);
    export.faults.hang_at_offset.store(1000, Ordering::SeqCst);
    let server = export.start().await;
    let inst = common::zendesk_instance(&server.uri(), "");
    let shutdown = CancellationToken::new();
    let task = {
        let (store, inst, shutdown) = (store.clone(), inst.clone(), shutdown.clone());
        tokio::spawn(async move {
            let progress = common::quiet();
            sync_stream(&store, &inst, "tickets", MANUAL, &shutdown, progress.as_ref()).await
        })
    };
    wait_for_cursor(&store, 1000).await;
    shutdown.cancel();
    let summary = tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap().unwrap();
    assert_eq!(summary.status, RunStatus::Cancelled);
    assert_eq!(summary.pages, 1);
    let last = &store.latest_runs(Some("zd")).await.unwrap()[0];
    assert_eq!(last.status, "cancelled");
    assert_eq!(store.ticket_ids("zd").await.unwrap().len(), 1000);
});

/// Kills a real `okno sync` process with SIGKILL while it waits for a page, then runs it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_okno_process_resumes_without_loss_or_duplicates() {
    let export = TicketExport::new(6000, 1000);
    export.faults.hang_at_offset.store(3000, Ordering::SeqCst);
    let server = export.start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("okno.db");
    let config = dir.path().join("okno.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[store]
url = "sqlite://{db}"

[[connector]]
id = "zd"
kind = "zendesk"
base_url = "{base}"
start_date = "2026-01-01"
streams = ["tickets"]
timeout_secs = 600

[connector.rate_limit]
incremental = 100000

[connector.settings]
email = "ops@acme.example"
api_token = "${{ZD_TOKEN}}"
"#,
            db = db.display(),
            base = server.uri()
        ),
    )
    .unwrap();
    let okno = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_okno"));
        cmd.arg("--config")
            .arg(&config)
            .args(args)
            .env("ZD_TOKEN", "test-token")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        cmd
    };

    let mut child = okno(&["sync", "zd"]).spawn().unwrap();
    let store = Store::connect(&format!("sqlite://{}", db.display()), 1)
        .await
        .unwrap();
    // The child creates the schema; wait for it, then for three committed pages.
    for _ in 0..500 {
        if store.migrations_current().await.unwrap_or(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_for_cursor(&store, 3000).await;
    child.kill().await.unwrap(); // SIGKILL: no shutdown code runs
    assert_eq!(store.ticket_ids("zd").await.unwrap().len(), 3000);

    export.faults.clear();
    let status = okno(&["sync", "zd"]).status().await.unwrap();
    assert!(status.success());
    assert_eq!(store.ticket_ids("zd").await.unwrap(), expected_ids(6000));
    store.close().await;
}

store_test!(async fn two_syncs_of_one_instance_never_overlap(store) {
    use okno::sync::{sync_instance, SyncError};
    let export = TicketExport::new(3000, 1000);
    export.faults.hang_at_offset.store(1000, Ordering::SeqCst);
    let server = export.start().await;
    let inst = common::zendesk_instance(&server.uri(), "");
    let shutdown = CancellationToken::new();
    let first = {
        let (store, inst, shutdown) = (store.clone(), inst.clone(), shutdown.clone());
        tokio::spawn(async move {
            let progress = common::quiet();
            sync_instance(&store, &inst, &[], MANUAL, &shutdown, progress.as_ref()).await
        })
    };
    wait_for_cursor(&store, 1000).await;
    let progress = common::quiet();
    let second = sync_instance(&store, &inst, &[], MANUAL, &CancellationToken::new(), progress.as_ref()).await;
    match second {
        Err(SyncError::Busy { busy, .. }) => assert!(busy.holder.contains(&std::process::id().to_string())),
        other => panic!("the second sync must be refused, got {other:?}"),
    }
    shutdown.cancel();
    let runs = first.await.unwrap().unwrap();
    assert_eq!(runs[0].status, RunStatus::Cancelled);
    // Released: the instance can be synced again, and finishes.
    export.faults.clear();
    let again = sync_instance(&store, &inst, &[], MANUAL, &CancellationToken::new(), progress.as_ref())
        .await
        .unwrap();
    assert_eq!(again[0].status, RunStatus::Succeeded);
    assert_eq!(store.ticket_ids("zd").await.unwrap(), expected_ids(3000));
});
