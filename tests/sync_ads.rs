//! Ad platforms end to end through the engine and the store, on SQLite and PostgreSQL alike:
//! spend lands once per campaign and day whatever the number of runs, and a spent vendor quota
//! becomes a wait the scheduler honours instead of a retry storm.

mod common;

use common::engine::{fixture, load_config};
use okno_connector::testkit::MockVendor;

use chrono::{Duration, NaiveDate, Utc};
use okno::sync::{quota_wait, run_due_once, sync_instance, QuietProgress, RunOptions, Trigger};
use okno_connector::rust_decimal::Decimal;
use okno_yandex_direct::mock::{ReportsMock, FIRST_DAY};
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DIRECT: &str = "connectors/yandex-direct/tests/fixtures";

fn direct_config(uri: &str, db_url: &str, schedule: &str) -> std::sync::Arc<okno::config::Config> {
    load_config(
        &format!(
            "[store]\nurl = \"{db_url}\"\n\
             [[connector]]\nid = \"direct\"\nkind = \"yandex_direct\"\nbase_url = \"{uri}\"\n\
             start_date = \"{FIRST_DAY}\"\nschedule = \"{schedule}\"\n\
             [connector.rate_limit]\napi = 0\n[connector.settings]\n{}",
            okno_yandex_direct::mock::SETTINGS_TOML
        ),
        &[],
    )
}

fn opts() -> RunOptions {
    RunOptions {
        full: false,
        trigger: Trigger::Manual,
    }
}

store_test!(async fn direct_spend_lands_once_with_exact_costs_and_a_second_run_changes_nothing(store) {
    // 7 campaigns over 40 days from FIRST_DAY: two 31-day slices hold data, later slices
    // through today are empty.
    let mock = ReportsMock::new(7, 40);
    let server = mock.start().await;
    let config = direct_config(&server.uri(), store.url(), "0 * * * *");
    store.attach_tokens(&config.tokens);
    let inst = &config.connectors[0];
    let runs = sync_instance(&store, inst, &[], opts(), &CancellationToken::new(), &QuietProgress).await.unwrap();
    assert!(runs.iter().all(|r| r.error.is_none()), "{runs:?}");
    let rows = store.spend("direct").await.unwrap();
    assert_eq!(rows.len(), 7 * 40);
    let first: NaiveDate = FIRST_DAY.parse().unwrap();
    let last = first + Duration::days(39);
    assert_eq!((rows[0].date, rows.last().unwrap().date), (first, last));
    // Every cost is the mock's micros divided exactly by a million, VAT as configured.
    let expected: Decimal = (0..7u64)
        .flat_map(|c| (0..40u64).map(move |d| Decimal::new(ReportsMock::cost_micros(c, d) as i64, 6)))
        .sum();
    let stored: Decimal = rows.iter().map(|r| r.cost.parse::<Decimal>().unwrap()).sum();
    assert_eq!(stored, expected);
    assert!(rows.iter().all(|r| r.vat_included == Some(true) && r.currency == "RUB"));
    assert_eq!(store.campaigns("direct").await.unwrap().len(), 7);

    // The next run re-pulls only the look-back window: nothing doubles, nothing changes.
    let again = sync_instance(&store, inst, &["spend".into()], opts(), &CancellationToken::new(), &QuietProgress).await.unwrap();
    assert_eq!(again[0].written, 0, "{again:?}");
    assert_eq!(store.spend("direct").await.unwrap().len(), 7 * 40);
    let account = &store.ad_accounts(Utc::now() - Duration::days(1)).await.unwrap()[0];
    let moscow_today = Utc::now().with_timezone(&okno_connector::chrono_tz::Europe::Moscow).date_naive();
    assert_eq!(account.pulled_through, Some(moscow_today));
    assert_eq!(account.provisional_from, Some(moscow_today - Duration::days(2)), "3-day look-back, today included");
    assert_eq!(account.restated_rows, 0);
});

store_test!(async fn a_spent_quota_is_a_wait_the_scheduler_honours(store) {
    let server = MockServer::start().await;
    // Direct answers every report with error 152 (points spent), once per run: no retries.
    Mock::given(method("POST"))
        .and(path("/json/v5/reports"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(fixture(DIRECT, "error_152.json").into_bytes(), "application/json"))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    let server = ReportsMock::new(3, 10).mount(server).await;
    // Due every second, so only the quota can hold the next run back.
    let config = direct_config(&server.uri(), store.url(), "* * * * * *");
    store.attach_tokens(&config.tokens);
    let inst = &config.connectors[0];
    let runs = sync_instance(&store, inst, &["spend".into()], opts(), &CancellationToken::new(), &QuietProgress).await.unwrap();
    let error = runs[0].error.as_deref().unwrap();
    assert!(error.starts_with("[quota]"), "{error}");

    let now = Utc::now();
    let until = quota_wait(&store, inst, now).await.unwrap().expect("a quota wait is recorded");
    assert!(until > now + Duration::minutes(50) && until <= now + Duration::minutes(61), "{until}");
    // The instance is due (its schedule passed) but waits: nothing runs, nothing is requested.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let ran = run_due_once(&config, &store, &CancellationToken::new(), &QuietProgress).await.unwrap();
    assert!(ran.is_empty(), "{ran:?}");
    server.verify().await;
    // Past the reset, the wait is over.
    assert_eq!(quota_wait(&store, inst, until + Duration::seconds(1)).await.unwrap(), None);
});
