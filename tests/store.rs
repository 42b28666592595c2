//! The store's guarantees, on SQLite and PostgreSQL alike.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use okno::store::Store;
use okno_connector::serde_json::{json, value::RawValue};
use okno_connector::{Cursor, Identity, Record, Ticket};

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, h, 0, 0).unwrap()
}

fn ticket(id: &str, status: &str, updated_h: u32) -> Record {
    Record::Ticket(Ticket {
        ticket_id: id.into(),
        subject: Some(format!("subject of {id} at {updated_h}h")),
        status: status.into(),
        priority: None,
        ticket_type: None,
        channel: Some("email".into()),
        requester_id: Some("9".into()),
        assignee_id: Some("7".into()),
        group_id: None,
        organization_id: None,
        tags: vec!["a".into()],
        created_at: at(0),
        updated_at: at(updated_h),
        deleted_at: None,
        raw: RawValue::from_string(format!("{{\"id\":{id},\"v\":{updated_h}}}")).unwrap(),
    })
}

fn identity(user: &str, email: Option<&str>, name: &str) -> Record {
    Record::Identity(Identity {
        user_id: user.into(),
        name: Some(name.into()),
        email: email.map(str::to_string),
        role: Some("agent".into()),
        active: true,
        updated_at: at(1),
        raw: RawValue::from_string("{}".into()).unwrap(),
    })
}

async fn count(store: &Store, table: &str) -> i64 {
    store
        .table_counts()
        .await
        .unwrap()
        .into_iter()
        .find(|(t, _)| *t == table)
        .map(|(_, n)| n)
        .unwrap()
}

async fn subject(store: &Store, id: &str) -> String {
    let t = store
        .get_ticket("zd", id)
        .await
        .unwrap()
        .expect("stored ticket");
    t.subject.unwrap_or_default()
}

store_test!(async fn upserting_the_same_page_twice_changes_nothing(store) {
    let page = vec![ticket("1", "open", 1), ticket("2", "open", 1)];
    let cursor = Cursor(json!({"after_cursor": "x"}));
    let first = store.commit_page("zd", "tickets", &page, Some(&cursor)).await.unwrap();
    let second = store.commit_page("zd", "tickets", &page, Some(&cursor)).await.unwrap();
    assert_eq!(first, 2);
    assert_eq!(count(&store, "ticket").await, 2);
    assert_eq!(second, 0, "the same version again changes nothing");
    assert_eq!(store.load_cursor("zd", "tickets").await.unwrap(), Some(cursor));
});

store_test!(async fn an_older_version_never_overwrites_a_newer_one(store) {
    store.commit_page("zd", "tickets", &[ticket("1", "solved", 5)], None).await.unwrap();
    let written = store.commit_page("zd", "tickets", &[ticket("1", "open", 2)], None).await.unwrap();
    assert_eq!(written, 0);
    assert_eq!(subject(&store, "1").await, "subject of 1 at 5h");
    store.commit_page("zd", "tickets", &[ticket("1", "closed", 6)], None).await.unwrap();
    assert_eq!(subject(&store, "1").await, "subject of 1 at 6h");
});

store_test!(async fn duplicates_inside_one_page_keep_the_newest(store) {
    let page = vec![ticket("1", "open", 3), ticket("1", "solved", 4), ticket("1", "open", 2)];
    store.commit_page("zd", "tickets", &page, None).await.unwrap();
    assert_eq!(count(&store, "ticket").await, 1);
    assert_eq!(subject(&store, "1").await, "subject of 1 at 4h");
});

store_test!(async fn records_and_cursor_commit_together_or_not_at_all(store) {
    let before = Cursor(json!({"after_cursor": "before"}));
    store.commit_page("zd", "tickets", &[ticket("1", "open", 1)], Some(&before)).await.unwrap();

    store.faults().fail_next_commit_before_cursor();
    let after = Cursor(json!({"after_cursor": "after"}));
    let err = store
        .commit_page("zd", "tickets", &[ticket("2", "open", 1), ticket("3", "open", 1)], Some(&after))
        .await;
    assert!(err.is_err(), "the injected failure must surface");
    assert_eq!(count(&store, "ticket").await, 1, "no record of the failed page may remain");
    assert_eq!(store.load_cursor("zd", "tickets").await.unwrap(), Some(before));

    // The fault point is one-shot: the retried page commits whole.
    store.commit_page("zd", "tickets", &[ticket("2", "open", 1), ticket("3", "open", 1)], Some(&after)).await.unwrap();
    assert_eq!(count(&store, "ticket").await, 3);
    assert_eq!(store.load_cursor("zd", "tickets").await.unwrap(), Some(after));
});

store_test!(async fn a_cleared_cursor_reads_back_as_none(store) {
    let c = Cursor(json!({"page_after": "p2"}));
    store.commit_page("zd", "groups", &[], Some(&c)).await.unwrap();
    assert_eq!(store.load_cursor("zd", "groups").await.unwrap(), Some(c));
    store.commit_page("zd", "groups", &[], None).await.unwrap();
    assert_eq!(store.load_cursor("zd", "groups").await.unwrap(), None);
    assert_eq!(store.load_cursor("zd", "never").await.unwrap(), None);
});

store_test!(async fn identities_with_one_email_are_one_person_across_tools(store) {
    store
        .commit_page("zd", "users", &[identity("1", Some("anna@acme.example"), "Anna"), identity("2", None, "Bot")], None)
        .await
        .unwrap();
    store
        .commit_page("jira", "users", &[identity("abc", Some("anna@acme.example"), "Anna P.")], None)
        .await
        .unwrap();
    assert_eq!(count(&store, "person_identity").await, 3);
    assert_eq!(count(&store, "person").await, 2, "anna once, the bot without e-mail once");
});

store_test!(async fn run_history_records_outcomes_and_interruptions(store) {
    use okno::store::{RunOutcome, RunStatus};
    let done = store.start_run("zd", "tickets", "manual").await.unwrap();
    store
        .finish_run(done, &RunOutcome { pages: 3, records: 250, status: RunStatus::Succeeded, error: None, resume_at: None })
        .await
        .unwrap();
    let _stuck = store.start_run("zd", "users", "schedule").await.unwrap();
    assert_eq!(store.mark_interrupted_runs().await.unwrap(), 1);
    let runs = store.latest_runs(Some("zd")).await.unwrap();
    let t = runs.iter().find(|r| r.stream == "tickets").unwrap();
    assert_eq!((t.pages, t.records, t.status.as_str()), (3, 250, "succeeded"));
    let u = runs.iter().find(|r| r.stream == "users").unwrap();
    assert_eq!(u.status, "interrupted");
    assert!(u.finished_at.is_some());
});

#[tokio::test]
async fn both_migration_folders_produce_the_same_tables_and_columns() {
    let (sqlite, _dir) = common::sqlite_store().await;
    let sqlite_schema = sqlite.schema().await.unwrap();
    assert!(sqlite_schema
        .iter()
        .any(|(t, c)| t == "ticket" && c == "raw"));
    let Some(pg) =
        common::postgres_store("both_migration_folders_produce_the_same_tables_and_columns").await
    else {
        // Without PostgreSQL, at least check that the folders hold the same file names.
        let names = |dir: &str| {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names("migrations/sqlite"), names("migrations/postgres"));
        return;
    };
    let pg_schema = pg.store.schema().await.unwrap();
    assert_eq!(sqlite_schema, pg_schema);
    pg.cleanup().await;
}

store_test!(async fn nul_characters_from_a_vendor_do_not_block_a_page(store) {
    let mut page = vec![ticket("1", "open", 1)];
    if let Record::Ticket(t) = &mut page[0] {
        t.subject = Some("broken\0subject".into());
        t.tags = vec!["ta\0g".into()];
    }
    store.commit_page("zd", "tickets", &page, None).await.unwrap();
    assert_eq!(subject(&store, "1").await, "brokensubject");
});

store_test!(async fn a_lease_is_held_by_one_holder_until_released_or_expired(store) {
    use std::time::Duration;
    let minute = Duration::from_secs(60);
    assert!(store.claim_lease("zd", "a", None, minute).await.unwrap().is_ok());
    let (holder, until) = store.claim_lease("zd", "b", None, minute).await.unwrap().unwrap_err();
    assert_eq!(holder, "a");
    assert!(until > chrono::Utc::now());
    assert!(!store.renew_lease("zd", "b", minute).await.unwrap(), "only the holder renews");
    assert!(store.renew_lease("zd", "a", minute).await.unwrap());
    // A holder known to be dead can be taken over at once.
    assert!(store.claim_lease("zd", "b", Some("a"), minute).await.unwrap().is_ok());
    store.release_lease("zd", "b").await.unwrap();
    assert!(store.claim_lease("zd", "c", None, Duration::ZERO).await.unwrap().is_ok());
    // c's lease expired the moment it was taken.
    assert!(store.claim_lease("zd", "d", None, minute).await.unwrap().is_ok());
    // Another instance is independent.
    assert!(store.claim_lease("other", "e", None, minute).await.unwrap().is_ok());
});

store_test!(async fn runs_of_a_leased_instance_are_not_marked_interrupted(store) {
    use std::time::Duration;
    let live = store.start_run("zd", "tickets", "schedule").await.unwrap();
    let dead = store.start_run("gone", "tickets", "schedule").await.unwrap();
    store.claim_lease("zd", "alive", None, Duration::from_secs(60)).await.unwrap().unwrap();
    assert_eq!(store.mark_interrupted_runs().await.unwrap(), 1);
    let status = |id: i64| {
        let store = store.clone();
        async move {
            store
                .latest_runs(None)
                .await
                .unwrap()
                .into_iter()
                .find(|r| r.run_id == id)
                .unwrap()
                .status
        }
    };
    assert_eq!(status(live).await, "running");
    assert_eq!(status(dead).await, "interrupted");
});

store_test!(async fn a_writer_that_lost_its_lease_is_fenced_off(store) {
    use okno::store::{Fence, StoreError};
    use std::time::Duration;
    // A claims, stalls past its lease (a zero TTL stands for the pause), B takes over.
    let a_epoch = store.claim_lease("zd", "A", None, Duration::ZERO).await.unwrap().unwrap();
    let b_epoch = store.claim_lease("zd", "B", None, Duration::from_secs(60)).await.unwrap().unwrap();
    assert_eq!(b_epoch, a_epoch + 1, "every claim bumps the epoch");
    let a = Fence { source: "zd".into(), holder: "A".into(), epoch: a_epoch };
    let b = Fence { source: "zd".into(), holder: "B".into(), epoch: b_epoch };
    let stale = store
        .commit_page_fenced("zd", "tickets", &[ticket("1", "open", 1)], Some(&Cursor(json!({"after": "a"}))), Some(&a))
        .await;
    assert!(matches!(stale, Err(StoreError::Fenced { epoch, .. }) if epoch == a_epoch), "{stale:?}");
    assert_eq!(count(&store, "ticket").await, 0, "the stale writer wrote nothing");
    assert!(store.load_cursor("zd", "tickets").await.unwrap().is_none(), "nor its cursor");
    store
        .commit_page_fenced("zd", "tickets", &[ticket("1", "open", 2)], Some(&Cursor(json!({"after": "b"}))), Some(&b))
        .await
        .unwrap();
    assert_eq!(subject(&store, "1").await, "subject of 1 at 2h");
    // A released lease keeps its row, so the next claim's epoch is higher still.
    store.release_lease("zd", "B").await.unwrap();
    let c_epoch = store.claim_lease("zd", "C", None, Duration::from_secs(60)).await.unwrap().unwrap();
    assert_eq!(c_epoch, b_epoch + 1);
    assert!(matches!(
        store.commit_page_fenced("zd", "tickets", &[], None, Some(&b)).await,
        Err(StoreError::Fenced { .. })
    ));
});

store_test!(async fn a_worker_that_lost_its_claim_writes_nothing(store) {
    use okno::store::NewDelivery;
    use std::time::Duration;
    let new = store
        .insert_deliveries(&[NewDelivery {
            source: "zd".into(),
            delivery_id: "d-1".into(),
            received_at: chrono::Utc::now(),
            headers: "{}".into(),
            body: b"{}".to_vec(),
        }])
        .await
        .unwrap();
    assert_eq!(new, vec![true]);
    let seq = store.due_deliveries(10).await.unwrap()[0].seq;
    // w1 claims, stalls past its claim; w2 takes the delivery over.
    assert!(store.claim_delivery(seq, "w1", None, Duration::ZERO).await.unwrap());
    assert!(store.claim_delivery(seq, "w2", None, Duration::from_secs(60)).await.unwrap());
    let late = store.complete_delivery(seq, "w1", "zd", &[ticket("7", "open", 1)]).await.unwrap();
    assert_eq!(late, None, "w1's result is discarded");
    assert_eq!(count(&store, "ticket").await, 0);
    store.fail_delivery(seq, "w1", 1, chrono::Utc::now(), "late failure", true).await.unwrap();
    assert!(store.dead_deliveries(10).await.unwrap().is_empty(), "w1 cannot park w2's delivery");
    let done = store.complete_delivery(seq, "w2", "zd", &[ticket("7", "open", 1)]).await.unwrap();
    assert_eq!(done, Some(1));
    assert_eq!(count(&store, "ticket").await, 1);
});
