//! Tracker tasks and `people.toml` in the store, on SQLite and PostgreSQL alike.

mod common;

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use okno::config::people;
use okno_connector::rust_decimal::Decimal;
use okno_connector::serde_json::value::RawValue;
use okno_connector::{Deleted, DeletedKind, Identity, Record, StatusCategory, Task};

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, h, 0, 0).unwrap()
}

fn task(id: &str, updated_h: u32, category: StatusCategory) -> Record {
    Record::Task(Box::new(Task {
        task_id: id.into(),
        key: Some(format!("MKT-{id}")),
        title: format!("Landing page for campaign {id}"),
        project: Some("MKT".into()),
        project_name: Some("Marketing".into()),
        task_type: Some("Task".into()),
        labels: vec!["landing".into(), "q4".into()],
        assignee_id: Some("5b10ac8d82e05b22cc7d4ef5".into()),
        reporter_id: None,
        status: "In Progress".into(),
        status_category: category,
        created_at: at(0),
        updated_at: at(updated_h),
        started_at: Some(at(1)),
        done_at: (category == StatusCategory::Done).then(|| at(updated_h)),
        campaign: Some("autumn_sale".into()),
        estimate: Some(Decimal::from_str("2.50").unwrap()),
        deleted_at: None,
        raw: RawValue::from_string(format!("{{\"id\":\"{id}\",\"v\":{updated_h}}}")).unwrap(),
    }))
}

store_test!(async fn tasks_upsert_once_and_deletions_hold_against_older_versions(store) {
    let page = vec![task("10001", 2, StatusCategory::InProgress), task("10002", 3, StatusCategory::Done)];
    assert_eq!(store.commit_page("jira", "issues", &page, None).await.unwrap(), 2);
    assert_eq!(store.commit_page("jira", "issues", &page, None).await.unwrap(), 0, "idempotent");
    // Same vendor version, categorised differently (the list mapping changed in the config, then
    // a resync): the new mapping lands.
    let mut remapped = task("10001", 2, StatusCategory::InProgress);
    if let Record::Task(t) = &mut remapped {
        t.status_category = StatusCategory::Done;
    }
    assert_eq!(store.commit_page("jira", "issues", &[remapped], None).await.unwrap(), 1);
    assert_eq!(store.tasks("jira").await.unwrap()[0].status_category, "done");
    store.commit_page("jira", "issues", &[task("10001", 2, StatusCategory::InProgress)], None).await.unwrap();
    let rows = store.tasks("jira").await.unwrap();
    assert_eq!(rows[1].status_category, "done");
    assert_eq!(rows[1].done_at, Some(at(3)));
    assert_eq!(rows[0].estimate.as_deref(), Some("2.5"));
    assert_eq!(rows[0].campaign.as_deref(), Some("autumn_sale"));
    let gone = Record::Deleted(Deleted { kind: DeletedKind::Task, id: "10001".into(), deleted_at: at(5) });
    assert_eq!(store.commit_page("jira", "issues", &[gone], None).await.unwrap(), 1);
    // A late copy of the task from before the deletion does not revive it.
    store.commit_page("jira", "issues", &[task("10001", 4, StatusCategory::Done)], None).await.unwrap();
    let rows = store.tasks("jira").await.unwrap();
    assert_eq!(rows[0].deleted_at, Some(at(5)));
    assert_eq!(rows[0].status_category, "done", "the newer fields still land");
});

fn identity(user: &str, email: Option<&str>) -> Record {
    Record::Identity(Identity {
        user_id: user.into(),
        name: Some(format!("user {user}")),
        email: email.map(str::to_string),
        role: None,
        active: true,
        updated_at: at(1),
        raw: RawValue::from_string("{}".into()).unwrap(),
    })
}

fn people_file(dir: &std::path::Path, body: &str) -> people::People {
    let config = dir.join("okno.toml");
    std::fs::write(dir.join(people::FILE_NAME), body).unwrap();
    let instances: BTreeSet<String> = ["jira", "zendesk"].iter().map(|s| s.to_string()).collect();
    people::load(&config, &instances).unwrap()
}

store_test!(async fn people_toml_joins_accounts_that_hide_their_email(store) {
    // Jira Cloud hides e-mail; Zendesk shows it.
    store.commit_page("jira", "users", &[identity("5b10ac", None), identity("70aa01", None)], None).await.unwrap();
    store.commit_page("zendesk", "users", &[identity("901", Some("anna@acme.example"))], None).await.unwrap();
    let before = store.identities().await.unwrap();
    assert!(before.contains(&("jira".into(), "5b10ac".into(), "jira:5b10ac".into())));

    let dir = tempfile::tempdir().unwrap();
    let people = people_file(
        dir.path(),
        "[[person]]\nname = \"Anna Smirnova\"\nemail = \"Anna@acme.example\"\naccounts = [\"jira:5b10ac\"]\n\n\
         [[person]]\nname = \"Boris Ivanov\"\naccounts = [\"jira:70aa01\", \"jira:not-yet-seen\"]\n",
    );
    store.apply_people(&people).await.unwrap();
    let ids = store.identities().await.unwrap();
    assert!(ids.contains(&("jira".into(), "5b10ac".into(), "email:anna@acme.example".into())), "{ids:?}");
    assert!(ids.contains(&("zendesk".into(), "901".into(), "email:anna@acme.example".into())));
    assert!(ids.contains(&("jira".into(), "70aa01".into(), "people.toml:Boris Ivanov".into())));
    // An account seen later is assigned as it arrives.
    store.commit_page("jira", "users", &[identity("not-yet-seen", None)], None).await.unwrap();
    let ids = store.identities().await.unwrap();
    assert!(ids.contains(&("jira".into(), "not-yet-seen".into(), "people.toml:Boris Ivanov".into())));

    // Taken out of the file, an account goes back to the automatic rule.
    let people = people_file(dir.path(), "[[person]]\nname = \"Anna Smirnova\"\nemail = \"anna@acme.example\"\naccounts = [\"jira:5b10ac\"]\n");
    store.apply_people(&people).await.unwrap();
    let ids = store.identities().await.unwrap();
    assert!(ids.contains(&("jira".into(), "70aa01".into(), "jira:70aa01".into())));
    assert!(ids.contains(&("jira".into(), "5b10ac".into(), "email:anna@acme.example".into())));
});

#[test]
fn people_toml_mistakes_name_the_file_key_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(people::FILE_NAME),
        "[[person]]\nname = \"Anna\"\naccounts = [\"jria:5b10ac\", \"5b10ac\"]\n\n\
         [[person]]\nname = \"Boris\"\nemail = \"boris@acme.example\"\naccounts = [\"jira:1\"]\n\n\
         [[person]]\nname = \"Bob\"\nemail = \"boris@acme.example\"\n",
    )
    .unwrap();
    let instances: BTreeSet<String> = ["jira".to_string()].into_iter().collect();
    let issues = people::load(&dir.path().join("okno.toml"), &instances).unwrap_err();
    let text: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
    assert_eq!(issues.len(), 3, "{text:#?}");
    assert!(
        text[0].contains("people.toml: person[0].accounts[0]: no connector instance \"jria\""),
        "{}",
        text[0]
    );
    assert!(text[0].contains("instances: jira"));
    assert!(text[1].contains("person[0].accounts[1]") && text[1].contains("<instance>:<user id>"));
    assert!(text[2].contains("person[2].name") && text[2].contains("listed twice"));
    // Without the file there is nothing to apply and nothing to complain about.
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        people::load(&empty.path().join("okno.toml"), &instances).unwrap(),
        people::People::default()
    );
}
