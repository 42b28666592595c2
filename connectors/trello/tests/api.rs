//! Connector-level tests: the Trello connector, built through its registry entry, against a
//! wiremock server serving the documented response shapes in `tests/fixtures/`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use okno_connector::signature::{sign, Algorithm, Encoding};
use okno_connector::testkit::{drain, fixture as read_fixture, test_http_options};
use okno_connector::webhook::{VerifyError, WebhookEvent, WebhookRequest};
use okno_connector::{
    BuildContext, Connector, ConnectorError, Deleted, Identity, Record, SecretString,
    StatusCategory, Task, TokenVault,
};
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const INSTANCE: &str = "trello";
const KEY: &str = "8f1c0e3b5d7a49c2b6e04f1a9d3c7e25";
const TOKEN: &str = "ATTA9d2f7c1e5b3a8d6f4c2e0b9a7d5f3c1e8b6a4d2f0c9e7b5a3d1f8c6e4b2a0d9";
const APP_SECRET: &str = "0d3c6b9a2f5e8d1c4b7a0f3e6d9c2b5a8f1e4d7c0b3a6f9e2d5c8b1a4f7e0d3c";
const CALLBACK: &str = "https://okno.example.com/hooks/trello";

/// The content board: configured by short link, answered under its id.
const CONTENT_LINK: &str = "Kp7Tq2Xw";
const CONTENT: &str = "66d57080c3e1a90b4f2d7a11";
/// The ads board: configured by id.
const ADS: &str = "6650f1a0d4f2b01c5e3e8b10";
const ADS_PAUSED_LIST: &str = "6650f1a7d4f2b01c5e3e8b23";

const POST_5_ERRORS: &str = "67a9c394c3e1a90b4f2d7b01";
const WEBINAR: &str = "67b308a0c3e1a90b4f2d7b02";
const NEWSLETTER: &str = "67c2cc90c3e1a90b4f2d7b03";
const DELETED_DRAFT: &str = "67b309ccc3e1a90b4f2d7b99";
const BANNERS: &str = "67c584a8d4f2b01c5e3e8c01";
const RETARGETING: &str = "67c584e4d4f2b01c5e3e8c02";

const ANNA: &str = "5f3a1c2e9b8d7a6f5e4d3c21";
const ILYA: &str = "5f3a1c2e9b8d7a6f5e4d3c22";
const OLGA: &str = "60b7e2d4c1a3f5e7d9b1c3a5";

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(name: &str) -> String {
    read_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

fn ok_json(body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into(), "application/json; charset=utf-8")
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn settings() -> Value {
    json!({
        "api_key": KEY,
        "token": TOKEN,
        "boards": [CONTENT_LINK, ADS],
        "lists": { "Согласовано": "done", "launched": "done", ADS_PAUSED_LIST: "todo" },
    })
}

fn webhook_settings() -> Value {
    let mut s = settings();
    s["app_secret"] = json!(APP_SECRET);
    s["callback_url"] = json!(CALLBACK);
    s
}

fn context(server: &MockServer, settings: Value) -> BuildContext {
    BuildContext {
        instance: INSTANCE.into(),
        settings,
        base_url: Some(Url::parse(&server.uri()).unwrap()),
        http: test_http_options(),
        tokens: TokenVault::new(),
    }
}

fn build(server: &MockServer, settings: Value) -> Arc<dyn Connector> {
    match (okno_trello::KIND.build)(context(server, settings)) {
        Ok(c) => c,
        Err(errs) => panic!("settings rejected: {errs:?}"),
    }
}

fn build_errors(settings: Value) -> Vec<okno_connector::SettingsError> {
    let ctx = BuildContext {
        instance: INSTANCE.into(),
        settings,
        base_url: None,
        http: test_http_options(),
        tokens: TokenVault::new(),
    };
    match (okno_trello::KIND.build)(ctx) {
        Ok(_) => panic!("settings accepted"),
        Err(errs) => errs,
    }
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn query(req: &Request) -> HashMap<String, String> {
    req.url.query_pairs().into_owned().collect()
}

fn tasks(records: &[Record]) -> HashMap<&str, &Task> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Task(t) => Some((t.task_id.as_str(), t.as_ref())),
            _ => None,
        })
        .collect()
}

fn deletions(records: &[Record]) -> Vec<&Deleted> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Deleted(d) => Some(d),
            _ => None,
        })
        .collect()
}

fn identities(records: &[Record]) -> Vec<&Identity> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Identity(i) => Some(i),
            _ => None,
        })
        .collect()
}

/// The board, its lists, cards and history, each answered once.
async fn mount_board(server: &MockServer, reference: &str, id: &str, name: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{reference}")))
        .respond_with(ok_json(fixture(&format!("board_{name}.json"))))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{id}/lists")))
        .and(query_param("filter", "all"))
        .respond_with(ok_json(fixture(&format!("lists_{name}.json"))))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{id}/cards")))
        .and(query_param("filter", "all"))
        .and(query_param("limit", "1000"))
        .respond_with(ok_json(fixture(&format!("cards_{name}.json"))))
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_history(server: &MockServer, id: &str, name: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{id}/actions")))
        .and(query_param(
            "filter",
            "createCard,copyCard,convertToCardFromCheckItem,emailCard,moveCardToBoard,updateCard:idList,deleteCard",
        ))
        .and(query_param("limit", "1000"))
        .and(query_param_is_missing("before"))
        .respond_with(ok_json(fixture(&format!("actions_{name}.json"))))
        .expect(1)
        .mount(server)
        .await;
}

/// The element of a fixture array with this id, as JSON text (for `raw` comparisons).
fn fixture_item(name: &str, id: &str) -> Value {
    fixture_json(name)
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// cards

#[tokio::test]
async fn cards_of_two_boards_map_lists_by_settings_and_by_name() {
    let server = MockServer::start().await;
    mount_board(&server, CONTENT_LINK, CONTENT, "content").await;
    mount_history(&server, CONTENT, "content").await;
    mount_board(&server, ADS, ADS, "ads").await;
    mount_history(&server, ADS, "ads").await;
    let c = build(&server, settings());

    // One page per board; the cursor names the next board, and is cleared after the last.
    let first = c
        .fetch_page(okno_connector::PageRequest {
            stream: "cards",
            cursor: None,
            start: t("2025-01-01T00:00:00Z"),
        })
        .await
        .unwrap();
    assert!(first.has_more);
    assert_eq!(
        first.next.as_ref().unwrap().0,
        json!({"board": 1, "ref": ADS})
    );
    let first_tasks = tasks(&first.records);
    assert_eq!(first_tasks.len(), 3);
    assert!(first_tasks
        .values()
        .all(|t| t.project.as_deref() == Some(CONTENT)));

    let (records, cursor) = drain(c.as_ref(), "cards", first.next, t("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(cursor.is_none(), "full refresh: the cursor is cleared");
    let all: Vec<Record> = first.records.into_iter().chain(records).collect();
    let by_id = tasks(&all);
    assert_eq!(by_id.len(), 5);

    // Default by name: "Готово" is done; created from the id, updated from dateLastActivity.
    let post = by_id[POST_5_ERRORS];
    assert_eq!(post.key.as_deref(), Some("Zr4mWq8e"));
    assert_eq!(post.title, "Пост: 5 ошибок в таргете");
    assert_eq!(post.project_name.as_deref(), Some("Контент-план"));
    assert_eq!(post.status, "Готово");
    assert_eq!(post.status_category, StatusCategory::Done);
    assert_eq!(post.task_type, None);
    assert_eq!(
        post.labels,
        ["Instagram", "green"],
        "an unnamed label goes by its colour"
    );
    assert_eq!(post.assignee_id.as_deref(), Some(ANNA), "the first member");
    assert_eq!(
        post.reporter_id.as_deref(),
        Some(ANNA),
        "who created the card"
    );
    assert_eq!(post.created_at, t("2025-02-10T09:15:00Z"));
    assert_eq!(post.updated_at, t("2025-02-14T16:42:10.115Z"));
    assert_eq!(post.started_at, Some(t("2025-02-12T08:01:33.020Z")));
    assert_eq!(post.done_at, Some(t("2025-02-14T16:42:10.115Z")));
    assert_eq!(post.campaign, None);
    assert_eq!(post.estimate, None);
    assert_eq!(post.deleted_at, None);
    let raw: Value = serde_json::from_str(post.raw.get()).unwrap();
    assert_eq!(raw, fixture_item("cards_content.json", POST_5_ERRORS));

    // Configured by name (any case): "Согласовано" is done; created straight into it.
    let webinar = by_id[WEBINAR];
    assert_eq!(webinar.status, "Согласовано");
    assert_eq!(webinar.status_category, StatusCategory::Done);
    assert_eq!(webinar.done_at, Some(t("2025-02-17T10:00:00.716Z")));
    assert_eq!(webinar.started_at, None);
    assert_eq!(webinar.assignee_id, None);
    assert!(webinar.labels.is_empty());

    // Archived cards are kept with their list's category.
    let newsletter = by_id[NEWSLETTER];
    assert_eq!(newsletter.status, "В работе");
    assert_eq!(newsletter.status_category, StatusCategory::InProgress);
    assert_eq!(newsletter.started_at, Some(t("2025-03-02T11:00:41.903Z")));
    assert_eq!(newsletter.done_at, None);
    assert_eq!(newsletter.reporter_id.as_deref(), Some(ILYA));

    // The ads board: "Launched" configured as done by name, "Paused — in review" as to do by
    // list id (by its name it would be in progress).
    let banners = by_id[BANNERS];
    assert_eq!(banners.project.as_deref(), Some(ADS));
    assert_eq!(banners.project_name.as_deref(), Some("Ads — Spring 2025"));
    assert_eq!(banners.status, "Launched");
    assert_eq!(banners.status_category, StatusCategory::Done);
    assert_eq!(banners.assignee_id.as_deref(), Some(OLGA));
    let retargeting = by_id[RETARGETING];
    assert_eq!(retargeting.status, "Paused — in review");
    assert_eq!(retargeting.status_category, StatusCategory::Todo);
    assert_eq!(retargeting.started_at, Some(t("2025-03-05T13:40:12Z")));
    assert_eq!(retargeting.done_at, None, "not done now");

    // The content board's deleteCard became a deletion dated by the action.
    let gone = deletions(&all);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].id, DELETED_DRAFT);
    assert_eq!(gone[0].deleted_at, t("2025-03-04T16:20:07.118Z"));
    assert_eq!(gone[0].kind, okno_connector::DeletedKind::Task);
}

#[tokio::test]
async fn a_card_moved_back_and_forth_started_at_its_first_doing_and_was_done_at_its_last_done() {
    let server = MockServer::start().await;
    mount_board(&server, ADS, ADS, "ads").await;
    mount_history(&server, ADS, "ads").await;
    let mut s = settings();
    s["boards"] = json!([ADS]);
    let c = build(&server, s);
    let (records, _) = drain(c.as_ref(), "cards", None, t("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    // Backlog → Doing (03-04) → Launched (03-06) → Doing (03-07) → Launched (03-10).
    let banners = tasks(&records)[BANNERS];
    assert_eq!(banners.started_at, Some(t("2025-03-04T09:00:00.100Z")));
    assert_eq!(banners.done_at, Some(t("2025-03-10T12:00:00.250Z")));
    assert_eq!(banners.reporter_id.as_deref(), Some(OLGA));
}

#[tokio::test]
async fn credentials_travel_in_the_authorization_header_never_in_the_url() {
    let server = MockServer::start().await;
    mount_board(&server, ADS, ADS, "ads").await;
    mount_history(&server, ADS, "ads").await;
    let mut s = settings();
    s["boards"] = json!([ADS]);
    let c = build(&server, s);
    drain(c.as_ref(), "cards", None, t("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    let requests = received(&server).await;
    assert_eq!(requests.len(), 4);
    let expected = format!("OAuth oauth_consumer_key=\"{KEY}\", oauth_token=\"{TOKEN}\"");
    for r in &requests {
        let q = query(r);
        assert!(
            !q.contains_key("key") && !q.contains_key("token"),
            "{}",
            r.url
        );
        assert!(!r.url.as_str().contains(TOKEN), "{}", r.url);
        assert_eq!(
            r.headers.get("authorization").unwrap().to_str().unwrap(),
            expected
        );
    }
}

#[tokio::test]
async fn history_pages_go_before_the_oldest_action_of_a_full_page() {
    let server = MockServer::start().await;
    mount_board(&server, ADS, ADS, "ads").await;
    let real = fixture_json("actions_ads.json");
    let real = real.as_array().unwrap();
    // Page 1: the five newest real actions, then filler moves of another card, 1000 in all,
    // newest first; page 2: the three oldest real actions (B1's first move into Doing and both
    // creations), so start times and reporters can only come from page 2.
    let mut page1: Vec<Value> = real[..5].to_vec();
    let base = t("2025-03-05T13:00:00Z").timestamp();
    for i in 0..995 {
        let secs = base - 30 * i64::from(i);
        let when = DateTime::from_timestamp(secs, 0).unwrap();
        page1.push(json!({
            "id": format!("{:08x}e1f0{:012x}", secs, i),
            "idMemberCreator": OLGA,
            "data": {
                "card": {"id": "67c584a8d4f2b01c5e3e8cff", "idList": "6650f1a7d4f2b01c5e3e8b20"},
                "listBefore": {"id": "6650f1a7d4f2b01c5e3e8b21", "name": "Doing"},
                "listAfter": {"id": "6650f1a7d4f2b01c5e3e8b20", "name": "Backlog"},
                "old": {"idList": "6650f1a7d4f2b01c5e3e8b21"}
            },
            "type": "updateCard",
            "date": when.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }));
    }
    assert_eq!(page1.len(), 1000);
    let oldest = page1.last().unwrap()["id"].as_str().unwrap().to_string();
    let page2: Vec<Value> = real[5..].to_vec();
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{ADS}/actions")))
        .and(query_param("limit", "1000"))
        .and(query_param_is_missing("before"))
        .respond_with(ok_json(serde_json::to_string(&page1).unwrap()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{ADS}/actions")))
        .and(query_param("limit", "1000"))
        .and(query_param("before", oldest.as_str()))
        .respond_with(ok_json(serde_json::to_string(&page2).unwrap()))
        .expect(1)
        .mount(&server)
        .await;
    let mut s = settings();
    s["boards"] = json!([ADS]);
    let c = build(&server, s);
    let (records, _) = drain(c.as_ref(), "cards", None, t("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    let by_id = tasks(&records);
    let banners = by_id[BANNERS];
    assert_eq!(banners.started_at, Some(t("2025-03-04T09:00:00.100Z")));
    assert_eq!(banners.done_at, Some(t("2025-03-10T12:00:00.250Z")));
    assert_eq!(banners.reporter_id.as_deref(), Some(OLGA));
    assert_eq!(by_id[RETARGETING].reporter_id.as_deref(), Some(OLGA));
    let history: Vec<Request> = received(&server)
        .await
        .into_iter()
        .filter(|r| r.url.path().ends_with("/actions"))
        .collect();
    assert_eq!(history.len(), 2, "a short second page ends the walk");
}

#[tokio::test]
async fn a_token_rate_limit_without_retry_after_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{ADS}/members")))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_raw(fixture("rate_limit_token.json"), "application/json"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{ADS}/members")))
        .respond_with(ok_json(fixture("members_ads.json")))
        .with_priority(2)
        .mount(&server)
        .await;
    let mut s = settings();
    s["boards"] = json!([ADS]);
    let c = build(&server, s);
    let (records, cursor) = drain(c.as_ref(), "members", None, t("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(identities(&records).len(), 2);
    assert!(cursor.is_none());
    assert_eq!(received(&server).await.len(), 2, "one 429, then the answer");
}

#[tokio::test]
async fn a_rate_limit_that_never_lifts_fails_the_run_as_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{ADS}/members")))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_raw(fixture("rate_limit_token.json"), "application/json"),
        )
        .mount(&server)
        .await;
    let mut s = settings();
    s["boards"] = json!([ADS]);
    let c = build(&server, s);
    let err = drain(c.as_ref(), "members", None, t("2025-01-01T00:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), "rate_limited", "{err}");
    assert_eq!(received(&server).await.len(), 3, "every allowed attempt");
}

// ---------------------------------------------------------------------------------------------
// members

#[tokio::test]
async fn board_members_become_identities_without_email() {
    let server = MockServer::start().await;
    for (board, name) in [(CONTENT_LINK, "content"), (ADS, "ads")] {
        Mock::given(method("GET"))
            .and(path(format!("/1/boards/{board}/members")))
            .and(query_param("fields", "fullName,username"))
            .respond_with(ok_json(fixture(&format!("members_{name}.json"))))
            .expect(1)
            .mount(&server)
            .await;
    }
    let c = build(&server, settings());
    let (records, cursor) = drain(c.as_ref(), "members", None, t("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(cursor.is_none());
    let people = identities(&records);
    let ids: Vec<&str> = people.iter().map(|i| i.user_id.as_str()).collect();
    // Anna is on both boards: the store upserts her twice, harmlessly.
    assert_eq!(ids, [ANNA, ILYA, OLGA, ANNA]);
    let ilya = people[1];
    assert_eq!(ilya.name.as_deref(), Some("Илья Котов"));
    assert_eq!(ilya.email, None);
    assert_eq!(ilya.role, None);
    assert!(ilya.active);
    assert_eq!(ilya.updated_at, DateTime::UNIX_EPOCH);
    let raw: Value = serde_json::from_str(ilya.raw.get()).unwrap();
    assert_eq!(raw, fixture_item("members_content.json", ILYA));
}

// ---------------------------------------------------------------------------------------------
// fetch by id, check, errors

#[tokio::test]
async fn cards_fetched_by_id_carry_their_own_history_and_gone_cards_are_left_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/1/cards/{BANNERS}")))
        .respond_with(ok_json(fixture("card_banners.json")))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/1/cards/{DELETED_DRAFT}")))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw("The requested resource was not found.", "text/plain"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/1/cards/{BANNERS}/actions")))
        .and(query_param("limit", "1000"))
        .respond_with(ok_json(fixture("card_banners_actions.json")))
        .expect(2)
        .mount(&server)
        .await;
    // The board's name and lists are read once and reused.
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{ADS}")))
        .respond_with(ok_json(fixture("board_ads.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{ADS}/lists")))
        .respond_with(ok_json(fixture("lists_ads.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, settings());
    let page = c
        .fetch_ids("cards", &[BANNERS.to_string(), DELETED_DRAFT.to_string()])
        .await
        .unwrap();
    assert!(!page.has_more && page.next.is_none());
    let by_id = tasks(&page.records);
    assert_eq!(by_id.len(), 1, "the deleted card is left out");
    let banners = by_id[BANNERS];
    assert_eq!(banners.status, "Launched");
    assert_eq!(banners.status_category, StatusCategory::Done);
    assert_eq!(banners.project_name.as_deref(), Some("Ads — Spring 2025"));
    assert_eq!(banners.started_at, Some(t("2025-03-04T09:00:00.100Z")));
    assert_eq!(banners.done_at, Some(t("2025-03-10T12:00:00.250Z")));
    assert_eq!(banners.reporter_id.as_deref(), Some(OLGA));
    let page = c.fetch_ids("cards", &[BANNERS.to_string()]).await.unwrap();
    assert_eq!(tasks(&page.records).len(), 1);

    let err = c
        .fetch_ids("cards", &["../boards".to_string()])
        .await
        .unwrap_err();
    assert_eq!(err.class(), "invalid");
    let err = c
        .fetch_ids("members", &[ANNA.to_string()])
        .await
        .unwrap_err();
    assert_eq!(err.class(), "invalid");
}

#[tokio::test]
async fn check_names_the_tokens_member() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/1/members/me"))
        .respond_with(ok_json(fixture("member_me.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, settings());
    assert_eq!(
        c.check().await.unwrap(),
        "Trello member Анна Смирнова (@anna_smirnova); 2 board(s) configured"
    );
}

#[tokio::test]
async fn a_refused_token_is_an_auth_error_naming_the_settings() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/1/members/me"))
        .respond_with(ResponseTemplate::new(401).set_body_raw("invalid token", "text/plain"))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, settings());
    let err = c.check().await.unwrap_err();
    assert_eq!(err.class(), "auth");
    let text = err.to_string();
    assert!(
        text.contains("invalid token") && text.contains("api_key and token"),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");
}

#[tokio::test]
async fn a_board_the_token_cannot_find_is_named() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{CONTENT_LINK}")))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw("The requested resource was not found.", "text/plain"),
        )
        .mount(&server)
        .await;
    let c = build(&server, settings());
    let err = drain(c.as_ref(), "cards", None, t("2025-01-01T00:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), "permanent");
    assert!(err.to_string().contains(CONTENT_LINK), "{err}");
}

// ---------------------------------------------------------------------------------------------
// webhooks

fn signed(body: &[u8], callback: &str, secret: &str) -> String {
    sign(
        Algorithm::Sha1,
        Encoding::Base64,
        &SecretString::from(secret.to_string()),
        &[body, callback.as_bytes()],
    )
}

fn request<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> WebhookRequest<'a> {
    WebhookRequest {
        received_at: Utc::now(),
        headers,
        body,
        path_token: None,
    }
}

#[tokio::test]
async fn webhook_signatures_cover_the_body_and_the_callback_url() {
    let server = MockServer::start().await;
    let c = build(&server, webhook_settings());
    let hooks = c.webhooks().expect("webhooks enabled");
    let body = fixture("delivery_move_card.json");
    let body = body.as_bytes();
    let header = |sig: String| vec![("x-trello-webhook".to_string(), sig)];

    let good = header(signed(body, CALLBACK, APP_SECRET));
    assert_eq!(hooks.verify(&request(&good, body)), Ok(()));

    let mut tampered = body.to_vec();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert_eq!(
        hooks.verify(&request(&good, &tampered)),
        Err(VerifyError::BadSignature)
    );

    let other_url = header(signed(
        body,
        "https://okno.example.com/hooks/trello/",
        APP_SECRET,
    ));
    assert_eq!(
        hooks.verify(&request(&other_url, body)),
        Err(VerifyError::BadSignature),
        "a trailing slash is another URL"
    );

    let other_secret = header(signed(body, CALLBACK, "not-the-app-secret"));
    assert_eq!(
        hooks.verify(&request(&other_secret, body)),
        Err(VerifyError::BadSignature)
    );

    // The body alone, as a naive implementation would sign it, is refused too.
    let body_only = header(signed(body, "", APP_SECRET));
    assert_eq!(
        hooks.verify(&request(&body_only, body)),
        Err(VerifyError::BadSignature)
    );

    assert_eq!(
        hooks.verify(&request(&[], body)),
        Err(VerifyError::MissingHeader("x-trello-webhook"))
    );
    assert_eq!(
        hooks.verify(&request(&header("%%%".into()), body)),
        Err(VerifyError::BadSignature)
    );
}

#[tokio::test]
async fn webhooks_are_off_without_an_app_secret() {
    let server = MockServer::start().await;
    let c = build(&server, settings());
    assert!(c.webhooks().is_none());
    let err = c.register_webhooks().await.unwrap_err();
    assert_eq!(err.class(), "invalid");
    assert!(received(&server).await.is_empty());
}

#[tokio::test]
async fn a_card_move_delivery_refetches_the_card_and_is_deduplicated_by_action_id() {
    let server = MockServer::start().await;
    let c = build(&server, webhook_settings());
    let hooks = c.webhooks().unwrap();
    let body = fixture("delivery_move_card.json");
    let headers = vec![(
        "x-trello-webhook".to_string(),
        signed(body.as_bytes(), CALLBACK, APP_SECRET),
    )];
    let expected_id = fixture_json("delivery_move_card.json")["action"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        hooks.delivery_id(&request(&headers, body.as_bytes())),
        Some(expected_id)
    );
    assert_eq!(hooks.delivery_id(&request(&headers, b"not json")), None);

    let events = hooks.parse(body.as_bytes()).unwrap();
    assert_eq!(events.len(), 1);
    match &events[0] {
        WebhookEvent::Refetch { stream, ids } => {
            assert_eq!(stream, "cards");
            assert_eq!(ids, &[BANNERS.to_string()]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_delete_card_delivery_marks_the_task_deleted_at_the_actions_date() {
    let server = MockServer::start().await;
    let c = build(&server, webhook_settings());
    let events = c
        .webhooks()
        .unwrap()
        .parse(fixture("delivery_delete_card.json").as_bytes())
        .unwrap();
    let [WebhookEvent::Records(records)] = events.as_slice() else {
        panic!("{events:?}");
    };
    let gone = deletions(records);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].id, DELETED_DRAFT);
    assert_eq!(gone[0].deleted_at, t("2025-03-04T16:20:07.118Z"));
}

#[tokio::test]
async fn registering_webhooks_skips_boards_already_registered_for_the_url() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{CONTENT_LINK}")))
        .respond_with(ok_json(fixture("board_content.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{ADS}")))
        .respond_with(ok_json(fixture("board_ads.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/1/tokens/{TOKEN}/webhooks")))
        .respond_with(ok_json(fixture("token_webhooks.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/1/webhooks"))
        .respond_with(ok_json(fixture("webhook_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, webhook_settings());
    let lines = c.register_webhooks().await.unwrap();
    assert_eq!(
        lines,
        [
            format!("board {CONTENT} (Контент-план): already registered as webhook 67c5a1f0aa11bb22cc33dd01"),
            format!("board {ADS} (Ads — Spring 2025): registered webhook 67c5b2e0aa11bb22cc33dd03"),
        ]
    );
    let posts: Vec<Request> = received(&server)
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    let body: Value = serde_json::from_slice(&posts[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "callbackURL": CALLBACK,
            "idModel": ADS,
            "description": "okno trello: Ads — Spring 2025",
        })
    );
    assert!(query(&posts[0]).is_empty(), "nothing in the query string");
}

#[tokio::test]
async fn a_webhook_trello_already_has_is_reported_not_failed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/1/boards/{ADS}")))
        .respond_with(ok_json(fixture("board_ads.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/1/tokens/{TOKEN}/webhooks")))
        .respond_with(ok_json("[]"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/1/webhooks"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            "A webhook with that callback, model, and token already exists",
            "text/plain",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let mut s = webhook_settings();
    s["boards"] = json!([ADS]);
    let c = build(&server, s);
    assert_eq!(
        c.register_webhooks().await.unwrap(),
        [format!(
            "board {ADS} (Ads — Spring 2025): already registered"
        )]
    );
}

// ---------------------------------------------------------------------------------------------
// settings

#[test]
fn an_app_secret_without_a_callback_url_is_refused() {
    let mut s = settings();
    s["app_secret"] = json!(APP_SECRET);
    let errs = build_errors(s);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].key, "callback_url");
    assert!(errs[0].message.contains("required with app_secret"));
    assert!(errs[0].hint.as_deref().unwrap().contains("callback URL"));
}

#[test]
fn misspelt_keys_get_a_suggestion_and_every_problem_is_reported() {
    let errs = build_errors(json!({
        "api_key": KEY, "token": TOKEN, "bords": [ADS], "callback_ulr": CALLBACK,
    }));
    let mut by_key: Vec<(&str, Option<&str>)> = errs
        .iter()
        .map(|e| (e.key.as_str(), e.hint.as_deref()))
        .collect();
    by_key.sort();
    assert_eq!(
        by_key,
        [
            ("bords", Some("did you mean `boards`?")),
            ("callback_ulr", Some("did you mean `callback_url`?")),
        ]
    );
    let errs = build_errors(json!({"api_key": KEY, "token": TOKEN}));
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].key, "boards");
}

#[test]
fn the_registry_entry_describes_the_connector() {
    let k = &okno_trello::KIND;
    assert_eq!(k.kind, "trello");
    let streams: Vec<(&str, bool)> = k.streams.iter().map(|s| (s.name, s.default)).collect();
    assert_eq!(streams, [("cards", true), ("members", true)]);
    assert_eq!(k.rate_buckets.len(), 1);
    assert_eq!(k.rate_buckets[0].name, "token");
    let secrets: Vec<&str> = k
        .settings
        .iter()
        .filter(|s| s.secret)
        .map(|s| s.name)
        .collect();
    assert_eq!(secrets, ["token", "app_secret"]);
}

#[tokio::test]
async fn an_unknown_stream_is_invalid() {
    let server = MockServer::start().await;
    let c = build(&server, settings());
    let err = drain(c.as_ref(), "actions", None, t("2025-01-01T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Invalid(_)), "{err}");
}
