//! Tracker connectors end to end through the engine, the store and the webhook path, on SQLite
//! and PostgreSQL alike.

mod common;

use common::engine::{fast_worker, fixture, json, load_config, send, state};
use okno_connector::testkit::MockVendor;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use okno::config::Config;
use okno::sync::{sync_instance, RunOptions, Trigger};
use okno::webhooks::worker;
use okno_connector::signature::{sign, Algorithm, Encoding};
use okno_connector::SecretString;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

const TRELLO: &str = "connectors/trello/tests/fixtures";
const ADS: &str = "6650f1a0d4f2b01c5e3e8b10";
const BANNERS: &str = "67c584a8d4f2b01c5e3e8c01";
const TRELLO_SECRET: &str = "trello-app-secret";
const CALLBACK: &str = "https://okno.example.com/hooks/trello";

async fn trello_mock() -> MockServer {
    let server = MockServer::start().await;
    let get = |p: String, file: &str| {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(json(fixture(TRELLO, file)))
    };
    get(format!("/1/boards/{ADS}"), "board_ads.json")
        .mount(&server)
        .await;
    get(format!("/1/boards/{ADS}/lists"), "lists_ads.json")
        .mount(&server)
        .await;
    get(format!("/1/boards/{ADS}/cards"), "cards_ads.json")
        .mount(&server)
        .await;
    get(format!("/1/boards/{ADS}/actions"), "actions_ads.json")
        .mount(&server)
        .await;
    get(format!("/1/boards/{ADS}/members"), "members_ads.json")
        .mount(&server)
        .await;
    server
}

fn trello_config(uri: &str) -> Arc<Config> {
    load_config(
        &format!(
            r#"
[server]
listen = "127.0.0.1:0"

[[connector]]
id = "trello"
kind = "trello"
base_url = "{uri}"
max_attempts = 2

[connector.rate_limit]
token = 0

[connector.settings]
api_key = "8f1c0e3b5d7a49c2b6e04f1a9d3c7e25"
token = "${{TRELLO_TOKEN}}"
boards = ["{ADS}"]
lists = {{ "Launched" = "done" }}
app_secret = "${{TRELLO_SECRET}}"
callback_url = "{CALLBACK}"
"#
        ),
        &[
            ("TRELLO_TOKEN", "trello-token"),
            ("TRELLO_SECRET", TRELLO_SECRET),
        ],
    )
}

fn signed(body: &str, secret: &str) -> Request<Body> {
    let signature = sign(
        Algorithm::Sha1,
        Encoding::Base64,
        &SecretString::from(secret.to_string()),
        &[body.as_bytes(), CALLBACK.as_bytes()],
    );
    Request::post("/hooks/trello")
        .header("content-type", "application/json")
        .header("x-trello-webhook", signature)
        .body(Body::from(body.to_string()))
        .unwrap()
}

store_test!(async fn trello_cards_become_tasks_with_their_history_and_webhooks_refetch_them(store) {
    let server = trello_mock().await;
    let config = trello_config(&server.uri());
    let inst = config.instance("trello").unwrap();
    let opts = RunOptions { full: false, trigger: Trigger::Manual };
    let runs = sync_instance(&store, inst, &[], opts, &CancellationToken::new(), &*common::quiet())
        .await
        .unwrap();
    for r in &runs {
        assert!(r.error.is_none(), "{}: {:?}", r.stream, r.error);
    }
    let tasks = store.tasks("trello").await.unwrap();
    assert_eq!(tasks.len(), 2);
    let banners = tasks.iter().find(|t| t.task_id == BANNERS).unwrap();
    // Backlog → Doing (03-04) → Launched (03-06) → Doing (03-07) → Launched (03-10): started at
    // the first Doing, done at the last Launched, "Launched" mapped to done by the config.
    assert_eq!(banners.status, "Launched");
    assert_eq!(banners.status_category, "done");
    assert_eq!(banners.started_at, Some("2025-03-04T09:00:00.100Z".parse().unwrap()));
    assert_eq!(banners.done_at, Some("2025-03-10T12:00:00.250Z".parse().unwrap()));
    let other = tasks.iter().find(|t| t.task_id != BANNERS).unwrap();
    assert_eq!(other.status_category, "in_progress", "\"Paused — in review\" by its name");
    let members = store.identities().await.unwrap();
    assert!(members.iter().any(|(s, _, _)| s == "trello"));

    // Trello checks the callback URL with HEAD before it delivers.
    let state = state(&config, &store);
    let head = Request::head("/hooks/trello").body(Body::empty()).unwrap();
    assert_eq!(send(&state, head).await, StatusCode::OK);
    // A delivery signed over body + callback URL; the card is fetched again by id.
    Mock::given(method("GET"))
        .and(path(format!("/1/cards/{BANNERS}")))
        .respond_with(json(fixture(TRELLO, "card_banners.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/1/cards/{BANNERS}/actions")))
        .respond_with(json(fixture(TRELLO, "card_banners_actions.json")))
        .mount(&server)
        .await;
    let body = fixture(TRELLO, "delivery_move_card.json");
    assert_eq!(send(&state, signed(&body, "guessed-secret")).await, StatusCode::UNAUTHORIZED);
    let tampered = body.replacen("Spring sale banners", "Spring sale banners!", 1);
    let mut forged = signed(&body, TRELLO_SECRET);
    *forged.body_mut() = Body::from(tampered);
    assert_eq!(send(&state, forged).await, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&state, signed(&body, TRELLO_SECRET)).await, StatusCode::OK);
    assert_eq!(send(&state, signed(&body, TRELLO_SECRET)).await, StatusCode::OK, "Trello retries; answered, not redone");
    let deletion = fixture(TRELLO, "delivery_delete_card.json");
    assert_eq!(send(&state, signed(&deletion, TRELLO_SECRET)).await, StatusCode::OK);
    worker::drain_once(&config, &store, &fast_worker(), &CancellationToken::new()).await.unwrap();
    assert!(store.inbox_counts().await.unwrap().is_empty(), "every delivery processed");
    server.verify().await;
});

const JIRA_SECRET: &str = "jira-webhook-secret";

fn jira_config(uri: &str) -> Arc<Config> {
    load_config(
        &format!(
            r#"
[server]
listen = "127.0.0.1:0"

[[connector]]
id = "jira"
kind = "jira"
base_url = "{uri}"
start_date = "2025-01-01"
max_attempts = 2

[connector.rate_limit]
api = 0

[connector.settings]
{}webhook_secret = "${{JIRA_HOOK}}"
"#,
            okno_jira::mock::SETTINGS_TOML
        ),
        &[("JIRA_HOOK", JIRA_SECRET)],
    )
}

fn jira_delivery(body: &str, secret: &str, id: &str) -> Request<Body> {
    let signature = sign(
        Algorithm::Sha256,
        Encoding::Hex,
        &SecretString::from(secret.to_string()),
        &[body.as_bytes()],
    );
    Request::post("/hooks/jira")
        .header("content-type", "application/json")
        .header("x-hub-signature", format!("sha256={signature}"))
        .header("x-atlassian-webhook-identifier", id)
        .body(Body::from(body.to_string()))
        .unwrap()
}

store_test!(async fn jira_issues_resume_without_loss_or_doubles_and_deletions_arrive_by_webhook(store) {
    use okno_jira::mock::{self, IssuesMock};
    const N: u64 = 450;
    let opts = RunOptions { full: false, trigger: Trigger::Manual };
    // A first run sees 260 issues; by the next one Jira has 450 (the first 260 unchanged). The
    // second run resumes from the stored cursor, re-reads its overlap and doubles nothing.
    let earlier = IssuesMock::new(260).start().await;
    let config = jira_config(&earlier.uri());
    let first = sync_instance(&store, config.instance("jira").unwrap(), &[], opts, &CancellationToken::new(), &*common::quiet())
        .await
        .unwrap();
    assert!(first.iter().all(|r| r.error.is_none()), "{first:?}");
    assert_eq!(store.tasks("jira").await.unwrap().len(), 260);
    let server = IssuesMock::new(N).start().await;
    let config = jira_config(&server.uri());
    let inst = config.instance("jira").unwrap();
    let runs = sync_instance(&store, inst, &[], opts, &CancellationToken::new(), &*common::quiet())
        .await
        .unwrap();
    for r in &runs {
        assert!(r.error.is_none(), "{}: {:?}", r.stream, r.error);
    }
    let searched: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/search/jql"))
        .filter_map(|r| r.url.query_pairs().find(|(k, _)| k == "jql").map(|(_, v)| v.into_owned()))
        .collect();
    assert!(!searched[0].contains("2025-01-01"), "the second run starts from its cursor: {}", searched[0]);
    let tasks = store.tasks("jira").await.unwrap();
    assert_eq!(tasks.len() as u64, N, "every issue once");
    for i in [0u64, 1, 2, 149, 449] {
        let id = (mock::FIRST_ID + i).to_string();
        let t = tasks.iter().find(|t| t.task_id == id).unwrap();
        let ms = |v: Option<i64>| v.map(|ms| chrono::DateTime::from_timestamp_millis(ms).unwrap());
        assert_eq!(t.started_at, ms(mock::started_ms(i)), "issue {i}");
        assert_eq!(t.done_at, ms(mock::done_ms(i)), "issue {i}");
        assert_eq!(t.campaign.as_deref(), mock::campaign_of(i), "issue {i}");
        let estimate = mock::estimate_of(i).map(|e| e.parse::<okno_connector::rust_decimal::Decimal>().unwrap().normalize().to_string());
        assert_eq!(t.estimate, estimate, "issue {i}");
    }

    // Deletions reach okno only as webhooks; Jira may deliver one twice.
    let gone = mock::FIRST_ID + 7;
    let body = std::fs::read_to_string("connectors/jira/tests/fixtures/webhook_issue_deleted.json")
        .unwrap()
        .replace("\"10105\"", &format!("\"{gone}\""));
    let state = state(&config, &store);
    assert_eq!(send(&state, jira_delivery(&body, "not-the-secret", "d-1")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&state, jira_delivery(&body, JIRA_SECRET, "d-1")).await, StatusCode::OK);
    assert_eq!(send(&state, jira_delivery(&body, JIRA_SECRET, "d-1")).await, StatusCode::OK);
    assert_eq!(store.inbox_counts().await.unwrap().iter().map(|c| c.2).sum::<i64>(), 1, "the repeat was not stored");
    worker::drain_once(&config, &store, &fast_worker(), &CancellationToken::new()).await.unwrap();
    let deleted: Vec<String> = store.tasks("jira").await.unwrap().into_iter().filter(|t| t.deleted_at.is_some()).map(|t| t.task_id).collect();
    assert_eq!(deleted, vec![gone.to_string()]);
});
