//! Connector-level tests: the VK Ads connector, built through its registry entry (or with a fixed
//! clock), against wiremock servers answering the documented shapes in `tests/fixtures/`.

use okno_connector::testkit::MockVendor;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use okno_connector::oauth::memory::MemoryTokenStore;
use okno_connector::oauth::{Save, TokenStore};
use okno_connector::rust_decimal::Decimal;
use okno_connector::spend::SpendCursor;
use okno_connector::testkit::{
    drain, fetch, fixture as read_fixture, of_kind, real_pause, test_http_options,
};
use okno_connector::{
    BuildContext, Connector, ConnectorError, ExposeSecret, Record, SecretString, TokenSet,
    TokenVault,
};
use okno_vk_ads::mock::{self, VkAdsMock};
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const INSTANCE: &str = "vk";
const CLIENT_ID: &str = "b9AHG7669xtg1nvq";
const CLIENT_SECRET: &str = "s3cr3t-vk-client";
const TOKEN: &str = "/api/v2/oauth2/token.json";
const DELETE: &str = "/api/v2/oauth2/token/delete.json";
const USER: &str = "/api/v2/user.json";
const PLANS: &str = "/api/v2/ad_plans.json";
const STATS: &str = "/api/v2/statistics/ad_plans/day.json";
/// The tokens in `token_client_credentials.json` and `token_refreshed.json`.
const MINTED: &str = "Ae3kR7pQw2XnV9sLm4TzB8yHc1UfJ6oD";
const MINTED_REFRESH: &str = "rT5nW8qLz3KvP0xS7mB2cJ9dF4gH6yEa";
const REFRESHED: &str = "Nw4xC8vB1mZq7LpR2sT9kD5hF3jG6yUe";

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(name: &str) -> String {
    read_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn ok(body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into(), "application/json")
}

fn status(code: u16, body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_raw(body.into(), "application/json")
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("date")
        .with_timezone(&Utc)
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn settings(extra: Value) -> Value {
    let mut s = json!({ "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET });
    if let (Some(map), Value::Object(extra)) = (s.as_object_mut(), extra) {
        map.extend(extra);
    }
    s
}

fn vault() -> (Arc<MemoryTokenStore>, TokenVault) {
    let store = Arc::new(MemoryTokenStore::default());
    (store.clone(), TokenVault::with_store(store))
}

fn context(server: &MockServer, settings: Value, tokens: TokenVault) -> BuildContext {
    BuildContext {
        instance: INSTANCE.into(),
        settings,
        base_url: Some(Url::parse(&server.uri()).expect("uri")),
        http: test_http_options(),
        tokens,
    }
}

fn build(server: &MockServer, settings: Value, tokens: TokenVault) -> Arc<dyn Connector> {
    match (okno_vk_ads::KIND.build)(context(server, settings, tokens)) {
        Ok(c) => c,
        Err(errs) => panic!("settings rejected: {errs:?}"),
    }
}

fn build_at(
    server: &MockServer,
    settings: Value,
    tokens: TokenVault,
    now: DateTime<Utc>,
) -> Arc<dyn Connector> {
    match okno_vk_ads::build_with_clock(context(server, settings, tokens), Arc::new(move || now)) {
        Ok(c) => c,
        Err(errs) => panic!("settings rejected: {errs:?}"),
    }
}

async fn received(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("recording")
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn query(req: &Request) -> HashMap<String, String> {
    req.url.query_pairs().into_owned().collect()
}

fn form(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

fn bearer(req: &Request) -> String {
    req.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn mount_mint(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(ok(fixture("token_client_credentials.json")))
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_user(server: &MockServer, token: &str) {
    Mock::given(method("GET"))
        .and(path(USER))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(ok(fixture("user.json")))
        .mount(server)
        .await;
}

/// The two fixture pages of ad plans, by offset.
async fn mount_plans(server: &MockServer, token: &str) {
    for (offset, file) in [("0", "ad_plans_page1.json"), ("2", "ad_plans_page2.json")] {
        Mock::given(method("GET"))
            .and(path(PLANS))
            .and(query_param("offset", offset))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ok(fixture(file)))
            .mount(server)
            .await;
    }
}

async fn seed(store: &MemoryTokenStore, access: &str, refresh: &str, expires_at: DateTime<Utc>) {
    store
        .save(
            INSTANCE,
            Save::Authorize,
            &TokenSet {
                access_token: SecretString::from(access.to_string()),
                refresh_token: Some(SecretString::from(refresh.to_string())),
                expires_at: Some(expires_at),
                api_domain: None,
            },
        )
        .await
        .expect("seed");
}

async fn stored_access(store: &MemoryTokenStore) -> String {
    store
        .load(INSTANCE)
        .await
        .expect("load")
        .expect("a stored row")
        .tokens
        .access_token
        .expose_secret()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// tokens

#[tokio::test]
async fn one_token_is_minted_and_reused_across_requests_and_instances_sharing_the_store() {
    let server = MockServer::start().await;
    mount_mint(&server, 1).await;
    mount_user(&server, MINTED).await;
    mount_plans(&server, MINTED).await;
    let (store, vault) = vault();
    // Two instances of the same connector stand for two processes sharing one token store.
    let first = build(&server, settings(json!({})), vault.clone());
    let second = build(&server, settings(json!({})), vault.clone());
    for c in [&first, &second, &first, &second] {
        let page = fetch(c.as_ref(), "campaigns", None, Utc::now())
            .await
            .expect("campaigns");
        assert_eq!(page.records.len(), 4);
    }
    let mints = received(&server, TOKEN).await;
    assert_eq!(mints.len(), 1, "one mint for 12 API requests");
    let f = form(&mints[0]);
    assert_eq!(f["grant_type"], "client_credentials");
    assert_eq!(f["client_id"], CLIENT_ID);
    assert_eq!(f["client_secret"], CLIENT_SECRET);
    assert_eq!(stored_access(&store).await, MINTED);
    let api = [
        received(&server, USER).await,
        received(&server, PLANS).await,
    ]
    .concat();
    assert_eq!(api.len(), 12);
    assert!(api.iter().all(|r| bearer(r) == format!("Bearer {MINTED}")));
}

#[tokio::test]
async fn an_agency_client_token_is_minted_with_the_agency_grant() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .respond_with(ok(fixture("token_client_credentials.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_user(&server, MINTED).await;
    let (_store, vault) = vault();
    let c = build(
        &server,
        settings(json!({"agency_client_name": "okhvat-school@agency_client"})),
        vault,
    );
    let line = c.check().await.expect("check");
    assert!(line.contains("12835517") && line.contains("RUB"), "{line}");
    assert!(!line.contains(CLIENT_SECRET) && !line.contains(MINTED));
    let f = form(&received(&server, TOKEN).await[0]);
    assert_eq!(f["grant_type"], "agency_client_credentials");
    assert_eq!(f["agency_client_name"], "okhvat-school@agency_client");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_with_the_refresh_token_not_minted_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ok(fixture("token_refreshed.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_mint(&server, 0).await;
    mount_user(&server, REFRESHED).await;
    mount_plans(&server, REFRESHED).await;
    let (store, vault) = vault();
    // Stored by an earlier run and expired since. The SDK's session compares expiry with the
    // wall clock, so expiry is arranged in the store rather than by moving tokio's clock.
    seed(
        &store,
        "old-access",
        "old-refresh",
        Utc::now() - chrono::Duration::minutes(5),
    )
    .await;
    let c = build(&server, settings(json!({})), vault);
    fetch(c.as_ref(), "campaigns", None, Utc::now())
        .await
        .expect("campaigns");
    fetch(c.as_ref(), "campaigns", None, Utc::now())
        .await
        .expect("again, on the refreshed token");
    let refresh = form(&received(&server, TOKEN).await[0]);
    assert_eq!(refresh["grant_type"], "refresh_token");
    assert_eq!(refresh["refresh_token"], "old-refresh");
    assert_eq!(refresh["client_id"], CLIENT_ID);
    assert_eq!(stored_access(&store).await, REFRESHED);
}

#[tokio::test]
async fn a_minted_token_close_to_its_expiry_is_refreshed_on_the_next_request() {
    let server = MockServer::start().await;
    let short = fixture("token_client_credentials.json").replace("\"86400\"", "\"60\"");
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(ok(short))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ok(fixture("token_refreshed.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_user(&server, MINTED).await;
    mount_plans(&server, REFRESHED).await;
    let (_store, vault) = vault();
    let c = build(&server, settings(json!({})), vault);
    // user.json on the minted token, then (60 s left is inside the refresh margin) the list
    // on the refreshed one.
    fetch(c.as_ref(), "campaigns", None, Utc::now())
        .await
        .expect("campaigns");
    let tokens = received(&server, TOKEN).await;
    assert_eq!(form(&tokens[1])["refresh_token"], MINTED_REFRESH);
}

#[tokio::test]
async fn a_token_refused_mid_run_is_replaced_once_and_the_request_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USER))
        .and(header("authorization", "Bearer stale-access"))
        .respond_with(
            status(401, fixture("error_401_expired_token.json")).insert_header(
                "WWW-Authenticate",
                "Bearer realm=\"api\", error=\"expired_token\", error_description=\"Access token is expired\"",
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ok(fixture("token_refreshed.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_user(&server, REFRESHED).await;
    let (store, vault) = vault();
    seed(
        &store,
        "stale-access",
        "r0",
        Utc::now() + chrono::Duration::hours(3),
    )
    .await;
    let c = build(&server, settings(json!({})), vault);
    c.check().await.expect("check after one refresh");
    assert_eq!(stored_access(&store).await, REFRESHED);
}

#[tokio::test]
async fn a_refused_refresh_token_leads_to_one_new_mint() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(status(
            400,
            r#"{"error": "invalid_grant", "error_description": "Unknown refresh token"}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_mint(&server, 1).await;
    mount_user(&server, MINTED).await;
    let (store, vault) = vault();
    seed(
        &store,
        "gone",
        "gone-too",
        Utc::now() - chrono::Duration::days(40),
    )
    .await;
    let c = build(&server, settings(json!({})), vault);
    c.check().await.expect("check on a new token");
    assert_eq!(stored_access(&store).await, MINTED);
}

#[tokio::test]
async fn the_token_limit_is_an_auth_error_that_says_how_to_free_tokens() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .respond_with(status(403, fixture("token_limit_403.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(DELETE))
        .respond_with(ok("{}"))
        .expect(0)
        .mount(&server)
        .await;
    let (_store, vault) = vault();
    let c = build(&server, settings(json!({})), vault);
    let err = fetch(c.as_ref(), "campaigns", None, Utc::now())
        .await
        .expect_err("no token");
    assert_eq!(err.class(), "auth");
    let text = err.to_string();
    assert!(text.contains("5 live tokens"), "{text}");
    assert!(text.contains("/api/v2/oauth2/token/delete.json"), "{text}");
    assert!(text.contains("delete_tokens_at_limit"), "{text}");
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    assert!(received(&server, USER).await.is_empty());
}

#[tokio::test]
async fn with_delete_tokens_at_limit_the_slots_are_freed_and_one_more_mint_tried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .respond_with(status(403, fixture("token_limit_403.json")))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(DELETE))
        .respond_with(ok("{}"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .and(body_string_contains("grant_type=agency_client_credentials"))
        .respond_with(ok(fixture("token_client_credentials.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_user(&server, MINTED).await;
    let (store, vault) = vault();
    let c = build(
        &server,
        settings(
            json!({"delete_tokens_at_limit": true, "agency_client_name": "client-7@agency_client"}),
        ),
        vault,
    );
    c.check().await.expect("check");
    let delete = form(&received(&server, DELETE).await[0]);
    assert_eq!(delete["client_id"], CLIENT_ID);
    assert_eq!(delete["username"], "client-7@agency_client");
    assert_eq!(stored_access(&store).await, MINTED);
}

#[tokio::test]
async fn wrong_client_credentials_say_so() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .respond_with(status(401, fixture("token_invalid_client_401.json")))
        .expect(1)
        .mount(&server)
        .await;
    let (_store, vault) = vault();
    let c = build(&server, settings(json!({})), vault);
    let err = c.check().await.expect_err("refused");
    assert_eq!(err.class(), "auth");
    assert!(err.to_string().contains("invalid_client"), "{err}");
    assert!(err.to_string().contains("check both"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// campaigns

#[tokio::test]
async fn campaigns_are_paged_by_offset_to_the_end_with_the_account_first() {
    let server = MockServer::start().await;
    mount_mint(&server, 1).await;
    mount_user(&server, MINTED).await;
    mount_plans(&server, MINTED).await;
    let (_store, vault) = vault();
    let c = build(&server, settings(json!({"channel": "vk_target"})), vault);
    let page = fetch(c.as_ref(), "campaigns", None, Utc::now())
        .await
        .expect("campaigns");
    assert!(!page.has_more);
    assert!(page.next.is_none(), "full refresh clears the cursor");
    let Record::AdAccount(account) = &page.records[0] else {
        panic!("the account comes first");
    };
    assert_eq!(account.account_id, "12835517");
    assert_eq!(account.currency.as_str(), "RUB");
    assert_eq!(account.time_zone, "Europe/Moscow");
    assert_eq!(
        account.name.as_deref(),
        Some("Охват — школа интернет-маркетинга")
    );
    let campaigns: Vec<_> = page
        .records
        .iter()
        .filter_map(Record::as_campaign)
        .collect();
    let ids: Vec<_> = campaigns.iter().map(|c| c.campaign_id.as_str()).collect();
    assert_eq!(ids, ["4120031", "4120045", "4120102"]);
    let statuses: Vec<_> = campaigns.iter().map(|c| c.status.as_deref()).collect();
    assert_eq!(statuses, [Some("active"), Some("blocked"), Some("deleted")]);
    assert!(campaigns.iter().all(|c| c.channel == "vk_target"
        && c.account_id == "12835517"
        && c.utm_campaign.is_none()));
    let requests = received(&server, PLANS).await;
    let offsets: Vec<_> = requests
        .iter()
        .map(|r| query(r)["offset"].clone())
        .collect();
    assert_eq!(offsets, ["0", "2"]);
    let q = query(&requests[0]);
    assert_eq!(q["limit"], "50");
    assert_eq!(q["fields"], "id,name,status");
}

#[tokio::test]
async fn the_campaigns_level_reads_the_api_campaigns() {
    let plans = VkAdsMock::new(3);
    let server = plans.start().await;
    let (_store, vault) = vault();
    let c = build(&server, settings(json!({"level": "campaigns"})), vault);
    let page = fetch(c.as_ref(), "campaigns", None, Utc::now())
        .await
        .expect("campaigns");
    assert_eq!(page.records.len(), 4);
    assert_eq!(received(&server, "/api/v2/campaigns.json").await.len(), 1);
    assert!(received(&server, PLANS).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// spend

#[tokio::test]
async fn spend_amounts_are_exact_decimals_from_strings_and_numbers() {
    let server = MockServer::start().await;
    mount_mint(&server, 1).await;
    mount_user(&server, MINTED).await;
    mount_plans(&server, MINTED).await;
    Mock::given(method("GET"))
        .and(path(STATS))
        .and(query_param("id", "4120031,4120045,4120102"))
        .and(query_param("date_from", "2026-11-27"))
        .and(query_param("date_to", "2026-11-29"))
        .and(query_param("metrics", "base"))
        .respond_with(ok(fixture("stats_ad_plans_day.json")))
        .expect(1)
        .mount(&server)
        .await;
    let (_store, vault) = vault();
    let c = build_at(
        &server,
        settings(json!({})),
        vault,
        at("2026-11-29T12:00:00Z"),
    );
    let page = fetch(c.as_ref(), "spend", None, at("2026-11-27T00:00:00Z"))
        .await
        .expect("spend");
    assert!(!page.has_more);
    let rows = of_kind(&page.records, Record::as_ad_spend);
    let got: Vec<_> = rows
        .iter()
        .map(|s| {
            (
                s.campaign_id.as_str(),
                s.date,
                s.cost,
                s.impressions,
                s.clicks,
                s.conversions,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "4120031",
                d("2026-11-27"),
                Decimal::new(123_456, 2),
                Some(15_234),
                Some(187),
                Some(Decimal::new(12, 0))
            ),
            (
                "4120031",
                d("2026-11-29"),
                Decimal::new(987_005, 3),
                Some(9_876),
                Some(95),
                Some(Decimal::new(7, 0))
            ),
            // A JSON number 0.1 stays exactly one tenth; goals only in base.vk.
            (
                "4120045",
                d("2026-11-28"),
                Decimal::new(1, 1),
                Some(4_321),
                Some(33),
                Some(Decimal::new(2, 0))
            ),
        ]
    );
    let total: Decimal = rows.iter().map(|s| s.cost).sum();
    assert_eq!(total, Decimal::new(2_221_665, 3));
    assert!(rows.iter().all(|s| s.currency.as_str() == "RUB"
        && s.account_id == "12835517"
        && s.vat_included.is_none()));
    // raw is the vendor's row.
    let raw: Value = serde_json::from_str(rows[0].raw.get()).expect("raw json");
    assert_eq!(raw["base"]["spent"], "1234.56");
    let w = of_kind(&page.records, Record::as_spend_window);
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].from, w[0].to), (d("2026-11-27"), d("2026-11-29")));
    assert_eq!(w[0].provisional_from, d("2026-11-23"));
    assert!(matches!(page.records.last(), Some(Record::SpendWindow(_))));
}

#[tokio::test]
async fn ids_go_200_per_request_and_days_92_per_slice_over_a_long_backfill() {
    let generator = VkAdsMock::new(450);
    let server = generator.start().await;
    let (_store, vault) = vault();
    let now = at("2026-11-29T12:00:00Z");
    let c = build_at(&server, settings(json!({})), vault, now);
    let (records, cursor) = drain(c.as_ref(), "spend", None, at("2026-06-01T00:00:00Z"))
        .await
        .expect("backfill");
    let stats = received(&server, STATS).await;
    let shape: Vec<(usize, String, String)> = stats
        .iter()
        .map(|r| {
            let q = query(r);
            (
                q["id"].split(',').count(),
                q["date_from"].clone(),
                q["date_to"].clone(),
            )
        })
        .collect();
    let slice = |n: usize, f: &str, t: &str| (n, f.to_string(), t.to_string());
    assert_eq!(
        shape,
        [
            slice(200, "2026-06-01", "2026-08-31"),
            slice(200, "2026-06-01", "2026-08-31"),
            slice(50, "2026-06-01", "2026-08-31"),
            slice(200, "2026-09-01", "2026-11-29"),
            slice(200, "2026-09-01", "2026-11-29"),
            slice(50, "2026-09-01", "2026-11-29"),
        ]
    );
    // Every id exactly once per slice.
    let mut first_slice: Vec<u64> = stats[..3]
        .iter()
        .flat_map(|r| {
            query(r)["id"]
                .split(',')
                .map(|s| s.parse::<u64>().expect("id"))
                .collect::<Vec<_>>()
        })
        .collect();
    first_slice.sort_unstable();
    first_slice.dedup();
    assert_eq!(first_slice.len(), 450);
    // Nine list pages of 50 per slice.
    assert_eq!(received(&server, PLANS).await.len(), 18);
    let w = of_kind(&records, Record::as_spend_window);
    assert_eq!(
        w.iter().map(|w| (w.from, w.to)).collect::<Vec<_>>(),
        [
            (d("2026-06-01"), d("2026-08-31")),
            (d("2026-09-01"), d("2026-11-29"))
        ]
    );
    // The rows are the generator's, to the kopeck.
    let expected: Decimal = (0..450u64)
        .flat_map(|i| {
            d("2026-06-01")
                .iter_days()
                .take_while(|day| *day <= d("2026-11-29"))
                .filter_map(move |day| VkAdsMock::day(i, day))
        })
        .map(|day| day.spent())
        .sum();
    let got: Decimal = of_kind(&records, Record::as_ad_spend)
        .iter()
        .map(|s| s.cost)
        .sum();
    assert_eq!(got, expected);
    let plan = SpendCursor::from_cursor(cursor.as_ref()).expect("cursor");
    assert_eq!(
        plan.done.get(&mock::ACCOUNT_ID.to_string()),
        Some(&d("2026-11-29"))
    );
    assert!(plan.current.is_none() && plan.queue.is_empty());
}

#[tokio::test]
async fn an_interrupted_pass_resumes_at_the_next_slice_without_a_new_lookup() {
    let generator = VkAdsMock::new(5);
    let server = generator.start().await;
    let (_store, vault) = vault();
    let now = at("2026-11-29T12:00:00Z");
    let start = at("2026-06-01T00:00:00Z");
    let first = build_at(&server, settings(json!({})), vault.clone(), now);
    let page = fetch(first.as_ref(), "spend", None, start)
        .await
        .expect("first slice");
    assert!(page.has_more);
    assert_eq!(of_kind(&page.records, Record::as_ad_account).len(), 1);
    assert_eq!(
        of_kind(&page.records, Record::as_spend_window)[0].to,
        d("2026-08-31")
    );
    // The process dies here; a new one continues from the committed cursor.
    let second = build_at(&server, settings(json!({})), vault, now);
    let (records, cursor) = drain(second.as_ref(), "spend", page.next, start)
        .await
        .expect("rest");
    assert!(
        of_kind(&records, Record::as_ad_account).is_empty(),
        "the pass was planned already"
    );
    let w = of_kind(&records, Record::as_spend_window);
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].from, w[0].to), (d("2026-09-01"), d("2026-11-29")));
    assert_eq!(received(&server, USER).await.len(), 1);
    // The next run re-pulls only the look-back window.
    let (records, _) = drain(second.as_ref(), "spend", cursor, start)
        .await
        .expect("next run");
    let w = of_kind(&records, Record::as_spend_window);
    assert_eq!((w[0].from, w[0].to), (d("2026-11-23"), d("2026-11-29")));
}

#[tokio::test]
async fn today_is_the_account_day_not_the_utc_day() {
    let generator = VkAdsMock::new(2);
    let server = generator.start().await;
    // 22:30 UTC on 30 November: already 1 December in Vladivostok, still 30 November in LA.
    let now = at("2026-11-30T22:30:00Z");
    let start = at("2026-11-29T00:00:00Z");
    for (zone, first, today) in [
        ("Asia/Vladivostok", "2026-11-29", "2026-12-01"),
        ("America/Los_Angeles", "2026-11-28", "2026-11-30"),
    ] {
        let (_store, vault) = vault();
        let c = build_at(&server, settings(json!({"time_zone": zone})), vault, now);
        let (records, _) = drain(c.as_ref(), "spend", None, start)
            .await
            .expect("spend");
        assert_eq!(of_kind(&records, Record::as_ad_account)[0].time_zone, zone);
        let w = of_kind(&records, Record::as_spend_window);
        assert_eq!((w[0].from, w[0].to), (d(first), d(today)), "{zone}");
        let last = received(&server, STATS)
            .await
            .pop()
            .expect("a stats request");
        assert_eq!(query(&last)["date_to"], today, "{zone}");
        assert!(of_kind(&records, Record::as_ad_spend)
            .iter()
            .all(|s| s.date <= d(today)));
    }
}

// ---------------------------------------------------------------------------------------------
// limits and errors

/// Paused time and real sockets do not mix on their own: while the client awaits the server,
/// the idle runtime would auto-advance the clock to reqwest's timeout. A running
/// `spawn_blocking` task inhibits auto-advance, and the clock is moved by hand only while the
/// client has nothing but its `Retry-After` sleep to wait on.
#[tokio::test(start_paused = true)]
async fn a_429_is_waited_out_for_its_retry_after_and_retried() {
    use std::time::Duration;
    let server = MockServer::start().await;
    mount_mint(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(USER))
        .respond_with(
            status(
                429,
                r#"{"error": {"code": "throttled", "message": "Too many requests"}}"#,
            )
            .insert_header("Retry-After", "30")
            .insert_header("X-RateLimit-RPS-Remaining", "0")
            .insert_header("X-RateLimit-Daily-Remaining", "4120"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(USER))
        .respond_with(ok(fixture("user.json")))
        .with_priority(2)
        .mount(&server)
        .await;
    let (_store, vault) = vault();
    let c = build(&server, settings(json!({})), vault);

    let (release, inhibited) = std::sync::mpsc::channel::<()>();
    let inhibitor = tokio::task::spawn_blocking(move || {
        let _ = inhibited.recv();
    });
    let started = tokio::time::Instant::now();
    let wall = std::time::Instant::now();
    let task = tokio::spawn(async move { c.check().await });
    for _ in 0..500 {
        if !received(&server, USER).await.is_empty() {
            break;
        }
        real_pause(5).await;
    }
    assert_eq!(
        received(&server, USER).await.len(),
        1,
        "the first request never arrived"
    );
    real_pause(50).await;
    for _ in 0..29 {
        tokio::time::advance(Duration::from_secs(1)).await;
        real_pause(5).await;
    }
    assert_eq!(
        received(&server, USER).await.len(),
        1,
        "retried before Retry-After"
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    for _ in 0..1000 {
        if task.is_finished() {
            break;
        }
        real_pause(5).await;
    }
    assert!(task.is_finished(), "no retry after Retry-After elapsed");
    let waited = started.elapsed();
    let line = task.await.expect("join").expect("the retry succeeds");
    drop(release);
    inhibitor.await.expect("inhibitor");
    assert!(line.contains("12835517"), "{line}");
    assert_eq!(received(&server, USER).await.len(), 2);
    assert!(waited >= Duration::from_secs(30), "{waited:?}");
    assert!(
        wall.elapsed() < Duration::from_secs(10),
        "{:?}",
        wall.elapsed()
    );
}

#[tokio::test]
async fn a_spent_daily_limit_is_a_quota_until_moscow_midnight_without_retries() {
    let server = MockServer::start().await;
    mount_mint(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(USER))
        .respond_with(
            status(
                429,
                r#"{"error": {"code": "throttled", "message": "Daily limit"}}"#,
            )
            .insert_header("X-RateLimit-Daily-Limit", "10000")
            .insert_header("X-RateLimit-Daily-Remaining", "0")
            .insert_header("X-RateLimit-Hourly-Remaining", "0"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (_store, vault) = vault();
    let c = build_at(
        &server,
        settings(json!({})),
        vault,
        at("2026-11-30T22:30:00Z"),
    );
    for _ in 0..3 {
        let err = fetch(c.as_ref(), "spend", None, at("2026-11-29T00:00:00Z"))
            .await
            .expect_err("quota");
        match &err {
            ConnectorError::Quota { until, message, .. } => {
                // 01:30 Moscow time on 1 December: the limit resets at the next Moscow midnight.
                assert_eq!(*until, at("2026-12-01T21:00:00Z"));
                assert!(message.contains("10000"), "{message}");
            }
            other => panic!("expected a quota, got {other:?}"),
        }
    }
    assert_eq!(received(&server, USER).await.len(), 1, "no retry storm");
}

#[tokio::test]
async fn a_spent_hour_is_a_quota_until_the_next_hour() {
    let server = MockServer::start().await;
    mount_mint(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(USER))
        .respond_with(
            status(429, "{}")
                .insert_header("X-RateLimit-Hourly-Remaining", "0")
                .insert_header("X-RateLimit-Daily-Remaining", "800"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (_store, vault) = vault();
    let c = build_at(
        &server,
        settings(json!({})),
        vault,
        at("2026-11-30T22:30:00Z"),
    );
    let err = c.check().await.expect_err("quota");
    assert_eq!(err.resume_at(Utc::now()), Some(at("2026-11-30T23:00:00Z")));
}

#[tokio::test]
async fn an_answer_that_spends_the_last_daily_request_stops_the_next_one() {
    let server = MockServer::start().await;
    mount_mint(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(USER))
        .respond_with(ok(fixture("user.json")).insert_header("X-RateLimit-Daily-Remaining", "0"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PLANS))
        .respond_with(ok(fixture("ad_plans_page2.json")))
        .expect(0)
        .mount(&server)
        .await;
    let (_store, vault) = vault();
    let c = build_at(
        &server,
        settings(json!({})),
        vault,
        at("2026-11-30T10:00:00Z"),
    );
    let err = fetch(c.as_ref(), "campaigns", None, Utc::now())
        .await
        .expect_err("quota");
    assert_eq!(err.class(), "quota");
    assert_eq!(err.resume_at(Utc::now()), Some(at("2026-11-30T21:00:00Z")));
}

#[tokio::test]
async fn vendor_error_bodies_become_clear_errors() {
    let server = MockServer::start().await;
    mount_mint(&server, 1).await;
    mount_user(&server, MINTED).await;
    mount_plans(&server, MINTED).await;
    Mock::given(method("GET"))
        .and(path(STATS))
        .respond_with(status(400, fixture("error_400_wrong_date.json")))
        .expect(1)
        .mount(&server)
        .await;
    let (_store, vault) = vault();
    let c = build_at(
        &server,
        settings(json!({})),
        vault,
        at("2026-11-29T12:00:00Z"),
    );
    let err = fetch(c.as_ref(), "spend", None, at("2026-11-01T00:00:00Z"))
        .await
        .expect_err("refused");
    assert_eq!(err.class(), "permanent");
    let text = err.to_string();
    assert!(
        text.contains("ERR_WRONG_DATE: Date range is out of the allowed period"),
        "{text}"
    );
    assert!(text.contains("start_date"), "{text}");
}

#[tokio::test]
async fn unknown_streams_and_bad_settings_are_refused() {
    let server = MockServer::start().await;
    let (_store, vault) = vault();
    let c = build(&server, settings(json!({})), vault.clone());
    let err = fetch(c.as_ref(), "banners", None, Utc::now())
        .await
        .expect_err("no such stream");
    assert_eq!(err.class(), "invalid");
    let errs = match (okno_vk_ads::KIND.build)(context(
        &server,
        json!({"client_id": "", "level": "banners"}),
        vault,
    )) {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    };
    let mut keys: Vec<_> = errs.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["client_id", "client_secret", "level"]);
}

// ---------------------------------------------------------------------------------------------
// the mock feature

#[tokio::test]
async fn the_mock_serves_a_spend_pull_configured_by_its_settings_toml() {
    let generator = VkAdsMock::new(120);
    let server = generator.start().await;
    let table: toml::Table = toml::from_str(mock::SETTINGS_TOML).expect("toml");
    let settings = serde_json::to_value(table).expect("json");
    let (_store, vault) = vault();
    let now = at("2026-11-29T12:00:00Z");
    let c = build_at(&server, settings, vault, now);
    let (records, _) = drain(c.as_ref(), "spend", None, at("2026-11-20T00:00:00Z"))
        .await
        .expect("spend");
    let rows = of_kind(&records, Record::as_ad_spend);
    let expected: usize = (0..120u64)
        .map(|i| {
            d("2026-11-20")
                .iter_days()
                .take(10)
                .filter(|day| VkAdsMock::day(i, *day).is_some())
                .count()
        })
        .sum();
    assert_eq!(rows.len(), expected);
    for s in rows.iter().take(50) {
        let i = s.campaign_id.parse::<u64>().expect("id") - mock::FIRST_PLAN_ID;
        let day = VkAdsMock::day(i, s.date).expect("a day with spend");
        assert_eq!(s.cost, day.spent());
        assert_eq!(s.impressions, Some(day.shows));
    }
    assert_eq!(
        generator
            .token_requests
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}
