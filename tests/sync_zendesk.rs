//! The engine against a Zendesk-shaped mock, on both store backends: pages to the end, failures
//! that keep the cursor, resumption, deduplication and deletions.

mod common;

use okno_connector::testkit::MockVendor;
use std::sync::atomic::Ordering;

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

async fn run(store: &Store, inst: &okno::config::Instance) -> okno::sync::RunSummary {
    let progress = common::quiet();
    sync_stream(
        store,
        inst,
        "tickets",
        MANUAL,
        &CancellationToken::new(),
        progress.as_ref(),
    )
    .await
    .expect("engine")
}

fn after(n: u64) -> Option<Cursor> {
    Some(Cursor(json!({ "after_cursor": n.to_string() })))
}

fn expected_ids(total: u64) -> Vec<String> {
    let mut ids: Vec<String> = (0..total).map(|i| (FIRST_ID + i).to_string()).collect();
    ids.sort();
    ids
}

store_test!(async fn syncs_every_page_until_end_of_stream(store) {
    let export = TicketExport::new(2500, 1000);
    let server = export.start().await;
    let inst = common::zendesk_instance(&server.uri(), "");

    let summary = run(&store, &inst).await;
    assert_eq!(summary.status, RunStatus::Succeeded, "{:?}", summary.error);
    assert_eq!((summary.pages, summary.records), (3, 2500));
    assert_eq!(store.ticket_ids("zd").await.unwrap(), expected_ids(2500));
    assert_eq!(store.load_cursor("zd", "tickets").await.unwrap(), after(2500));

    // Ticket 0 is generated deleted (every 97th): it is kept and marked.
    let deleted = store.get_ticket("zd", &FIRST_ID.to_string()).await.unwrap().unwrap();
    assert_eq!(deleted.status, "deleted");
    assert_eq!(deleted.deleted_at, Some(deleted.updated_at));
    let open = store.get_ticket("zd", &(FIRST_ID + 1).to_string()).await.unwrap().unwrap();
    assert_eq!(open.deleted_at, None);

    let runs = store.latest_runs(Some("zd")).await.unwrap();
    assert_eq!((runs[0].status.as_str(), runs[0].pages, runs[0].records), ("succeeded", 3, 2500));
});

store_test!(async fn server_errors_fail_the_run_keep_the_cursor_and_the_next_run_resumes(store) {
    let export = TicketExport::new(2500, 1000);
    export.faults.fail_at_offset.store(1000, Ordering::SeqCst);
    let server = export.start().await;
    let inst = common::zendesk_instance(&server.uri(), "");

    let failed = run(&store, &inst).await;
    assert_eq!(failed.status, RunStatus::Failed);
    let error = failed.error.unwrap();
    assert!(error.starts_with("[transient]") && error.contains("503"), "{error}");
    assert_eq!(store.load_cursor("zd", "tickets").await.unwrap(), after(1000));
    assert_eq!(store.ticket_ids("zd").await.unwrap().len(), 1000);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1 + 3, "one good page, then max_attempts = 3 tries of the bad one");

    export.faults.clear();
    let served_before = export.served.load(Ordering::SeqCst);
    let resumed = run(&store, &inst).await;
    assert_eq!(resumed.status, RunStatus::Succeeded);
    assert_eq!(export.served.load(Ordering::SeqCst) - served_before, 2, "resumes at page 2, not page 1");
    assert_eq!(store.ticket_ids("zd").await.unwrap(), expected_ids(2500));
    let last = &store.latest_runs(Some("zd")).await.unwrap()[0];
    assert_eq!(last.status, "succeeded");
});

store_test!(async fn a_truncated_page_commits_nothing_of_that_page(store) {
    let export = TicketExport::new(2500, 1000);
    export.faults.truncate_at_offset.store(1000, Ordering::SeqCst);
    let server = export.start().await;
    let inst = common::zendesk_instance(&server.uri(), "");

    let failed = run(&store, &inst).await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert!(failed.error.as_deref().unwrap().starts_with("[decode]"), "{:?}", failed.error);
    assert_eq!(store.ticket_ids("zd").await.unwrap().len(), 1000);
    assert_eq!(store.load_cursor("zd", "tickets").await.unwrap(), after(1000));

    export.faults.clear();
    assert_eq!(run(&store, &inst).await.status, RunStatus::Succeeded);
    assert_eq!(store.ticket_ids("zd").await.unwrap(), expected_ids(2500));
});

store_test!(async fn a_full_resync_pulls_again_without_doubling(store) {
    let export = TicketExport::new(1200, 500);
    let server = export.start().await;
    let inst = common::zendesk_instance(&server.uri(), "");
    run(&store, &inst).await;
    let full = RunOptions { full: true, trigger: Trigger::Manual };
    let progress = common::quiet();
    let again = sync_stream(&store, &inst, "tickets", full, &CancellationToken::new(), progress.as_ref())
        .await
        .unwrap();
    assert_eq!((again.status, again.records), (RunStatus::Succeeded, 1200));
    assert_eq!(again.written, 0, "same versions: nothing changes");
    assert_eq!(store.ticket_ids("zd").await.unwrap(), expected_ids(1200));
});

store_test!(async fn records_repeated_across_pages_are_stored_once_newest_wins(store) {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let fixture = |name: &str| {
        std::fs::read_to_string(format!("connectors/zendesk/tests/fixtures/{name}")).unwrap()
    };
    let page1 = fixture("tickets_page1.json");
    let page2 = fixture("tickets_page2.json");
    let first_cursor = okno_connector::serde_json::from_str::<okno_connector::serde_json::Value>(&page1)
        .unwrap()["after_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/incremental/tickets/cursor.json"))
        .and(query_param("cursor", first_cursor.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_raw(page2, "application/json"))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/incremental/tickets/cursor.json"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(page1, "application/json"))
        .with_priority(2)
        .mount(&server)
        .await;
    let inst = common::zendesk_instance(&server.uri(), "");
    let summary = run(&store, &inst).await;
    assert_eq!(summary.status, RunStatus::Succeeded, "{:?}", summary.error);
    assert_eq!(summary.records, 5, "five tickets arrived");
    assert_eq!(store.ticket_ids("zd").await.unwrap(), ["104101", "104102", "104103", "104104"]);
    // 104101 came solved on page 1 and reopened on page 2: the later version is stored.
    let t = store.get_ticket("zd", "104101").await.unwrap().unwrap();
    assert_eq!(t.status, "open");
    let deleted = store.get_ticket("zd", "104103").await.unwrap().unwrap();
    assert!(deleted.deleted_at.is_some());
});
