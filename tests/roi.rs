//! ROI per campaign and month over a hand-built data set, on SQLite and PostgreSQL alike. Every
//! expected figure is worked out in the comments.

mod common;

use common::engine::load_config;

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use okno::figures::roi::{roi, By, Figures, Period, RoiError};
use okno_connector::rust_decimal::Decimal;
use okno_connector::serde_json::value::RawValue;
use okno_connector::{
    AdAccount, AdSpend, Campaign, ClickId, ClickKind, Currency, FxRate, Lead, LeadEntity, Marks,
    Record, SpendWindow, StageCategory,
};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}
fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}
fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}
fn cur(s: &str) -> Currency {
    s.parse().unwrap()
}
fn raw() -> Box<RawValue> {
    RawValue::from_string("{}".into()).unwrap()
}

fn account(id: &str, currency: &str) -> Record {
    Record::AdAccount(AdAccount {
        account_id: id.into(),
        name: None,
        currency: cur(currency),
        time_zone: "Europe/Moscow".into(),
        raw: raw(),
    })
}
fn campaign(account: &str, id: &str, name: &str, channel: &str) -> Record {
    Record::Campaign(Campaign {
        account_id: account.into(),
        campaign_id: id.into(),
        name: name.into(),
        status: None,
        channel: channel.into(),
        utm_campaign: None,
        raw: raw(),
    })
}
fn spend(account: &str, campaign: &str, date: &str, cost: &str, currency: &str) -> Record {
    Record::AdSpend(AdSpend {
        account_id: account.into(),
        campaign_id: campaign.into(),
        date: day(date),
        cost: d(cost),
        currency: cur(currency),
        vat_included: None,
        impressions: Some(100),
        clicks: Some(10),
        conversions: None,
        raw: raw(),
    })
}
fn lead(
    id: &str,
    created: &str,
    utm: Option<&str>,
    gclid: Option<&str>,
    won: Option<(&str, &str, &str, &str)>,
) -> Record {
    // won: (closed at, amount, discount, currency)
    Record::Lead(Box::new(Lead {
        lead_id: id.into(),
        entity: LeadEntity::Lead,
        name: None,
        created_at: at(created),
        updated_at: at(created),
        pipeline_id: None,
        stage_id: None,
        stage_name: None,
        stage_category: if won.is_some() {
            StageCategory::Won
        } else {
            StageCategory::Open
        },
        amount: won.map(|w| d(w.1)),
        discount: won.map(|w| d(w.2)),
        currency: Some(cur(won.map_or("RUB", |w| w.3))),
        exchange_rate: None,
        closed_at: won.map(|w| at(w.0)),
        owner_id: None,
        lead_source: None,
        marks: Marks {
            utm_campaign: utm.map(str::to_string),
            gclid: gclid.map(str::to_string),
            ..Marks::default()
        },
        product: None,
        segment: None,
        region: None,
        converted_deal_id: None,
        deleted_at: None,
        raw: raw(),
    }))
}

async fn load(store: &okno::store::Store, with_rate: bool) {
    let direct = vec![
        account("brand-acc", "RUB"),
        campaign("brand-acc", "701", "Brand", "yandex_direct"),
        // October 1000.10 + 999.90 = 2000.00; November 500.
        spend("brand-acc", "701", "2026-10-30", "1000.10", "RUB"),
        spend("brand-acc", "701", "2026-10-31", "999.90", "RUB"),
        spend("brand-acc", "701", "2026-11-01", "500", "RUB"),
        Record::SpendWindow(SpendWindow {
            account_id: "brand-acc".into(),
            from: day("2026-10-30"),
            to: day("2026-11-01"),
            provisional_from: day("2026-11-01"),
        }),
    ];
    store
        .commit_page("direct", "spend", &direct, None)
        .await
        .unwrap();
    let google = vec![
        account("usd-acc", "USD"),
        campaign("usd-acc", "901", "Autumn", "google_ads"),
        // 100 USD at 80.5 = 8,050.00 RUB.
        spend("usd-acc", "901", "2026-10-31", "100.00", "USD"),
        Record::ClickId(ClickId {
            click_id: "G1".into(),
            kind: ClickKind::Gclid,
            account_id: "usd-acc".into(),
            campaign_id: "901".into(),
            date: day("2026-10-21"),
        }),
    ];
    store
        .commit_page("google", "spend", &google, None)
        .await
        .unwrap();
    if with_rate {
        let rate = Record::FxRate(FxRate {
            date: day("2026-10-31"),
            currency: cur("USD"),
            base: cur("RUB"),
            rate: d("80.5"),
        });
        store
            .commit_page("cbr", "rates", &[rate], None)
            .await
            .unwrap();
    }
    let leads = vec![
        // 21:30 UTC on 31 October is 00:30 on 1 November in Moscow: a November lead.
        lead(
            "A",
            "2026-10-31T21:30:00Z",
            Some("Brand"),
            None,
            Some(("2026-11-02T09:00:00Z", "3000", "500", "RUB")),
        ),
        lead("B", "2026-10-15T10:00:00Z", Some("brand"), None, None),
        lead(
            "C",
            "2026-10-20T10:00:00Z",
            Some("701"),
            None,
            Some(("2026-10-25T10:00:00Z", "10000", "0", "RUB")),
        ),
        // The gclid resolves to Autumn; won for 200 USD on 31 October = 16,100.00 RUB.
        lead(
            "D",
            "2026-10-21T10:00:00Z",
            None,
            Some("G1"),
            Some(("2026-10-31T12:00:00Z", "200", "0", "USD")),
        ),
        lead("E", "2026-10-22T10:00:00Z", None, None, None),
    ];
    store
        .commit_page("amo", "leads", &leads, None)
        .await
        .unwrap();
}

fn config() -> std::sync::Arc<okno::config::Config> {
    load_config(
        "[report]\ncurrency = \"RUB\"\ntimezone = \"Europe/Moscow\"\ngross_margin = \"0.5\"\n",
        &[],
    )
}

fn find<'a>(report: &'a okno::figures::roi::Report, key: &str, month: &str) -> &'a Figures {
    &report
        .rows
        .iter()
        .find(|r| r.key == key && r.month == month)
        .unwrap_or_else(|| panic!("no row {key} {month}: {:?}", report.rows))
        .figures
}

store_test!(async fn roi_per_campaign_and_month_matches_the_figures_worked_out_by_hand(store) {
    load(&store, true).await;
    let config = config();
    let oct = roi(&store, &config, &Period::parse("2026-10").unwrap(), By::Campaign).await.unwrap();

    // Brand in October: spend 2,000.00; leads B and C; C won 10,000.
    let brand = find(&oct, "direct:701", "2026-10");
    assert_eq!((brand.spend, brand.leads, brand.won, brand.revenue), (d("2000.00"), 2, 1, d("10000")));
    assert_eq!(brand.cpl(), Some(d("1000")));
    assert_eq!(brand.cac(), Some(d("2000")));
    assert_eq!(brand.conversion(), Some(d("0.5")));
    assert_eq!(brand.roi(), Some(d("4")), "(10,000 − 2,000) / 2,000");
    assert_eq!(brand.romi(oct.margin), Some(d("1.5")), "(10,000 × 0.5 − 2,000) / 2,000");
    assert!(!brand.provisional, "October's days are final");

    // Autumn: 100 USD of spend and 200 USD of revenue, both at 80.5 on 31 October.
    let autumn = find(&oct, "google:901", "2026-10");
    assert_eq!((autumn.spend, autumn.leads, autumn.won, autumn.revenue), (d("8050"), 1, 1, d("16100")));
    assert_eq!(autumn.roi(), Some(d("1")));
    assert_eq!(autumn.romi(oct.margin), Some(d("0")));

    // E has no marks: counted, unattributed, with no spend to divide.
    let none = find(&oct, "unattributed", "2026-10");
    assert_eq!((none.leads, none.won, none.spend), (1, 0, d("0")));
    assert_eq!(none.roi(), None);

    // Total: spend 10,050; 4 leads; 2 won; revenue 26,100; ROI 16,050 / 10,050.
    assert_eq!((oct.total.spend, oct.total.leads, oct.total.won, oct.total.revenue), (d("10050"), 4, 2, d("26100")));
    assert_eq!(oct.total.cpl(), Some(d("2512.5")));
    assert_eq!(oct.total.roi().unwrap().round_dp(6), d("1.597015"));

    // November: A (created after midnight in Moscow) won 3,000 − 500; spend 500, provisional.
    let nov = roi(&store, &config, &Period::parse("2026-11").unwrap(), By::Campaign).await.unwrap();
    let brand = find(&nov, "direct:701", "2026-11");
    assert_eq!((brand.spend, brand.leads, brand.won, brand.revenue), (d("500"), 1, 1, d("2500")));
    assert!(brand.provisional);

    // By channel, the same sums regroup.
    let by_channel = roi(&store, &config, &Period::parse("2026-10-01..2026-11-30").unwrap(), By::Channel).await.unwrap();
    let direct = find(&by_channel, "yandex_direct", "2026-10");
    assert_eq!(direct.spend, d("2000.00"));
    assert_eq!(by_channel.total.revenue, d("28600"), "26,100 + 2,500");
});

store_test!(async fn a_missing_rate_fails_the_report_naming_the_currency_and_day(store) {
    load(&store, false).await;
    let err = roi(&store, &config(), &Period::parse("2026-10").unwrap(), By::Campaign).await.unwrap_err();
    let RoiError::MissingRates(missing) = &err else { panic!("{err}") };
    assert_eq!(missing.len(), 1, "spend and revenue need the same rate: {missing:?}");
    assert!(err.to_string().contains("no USD→RUB exchange rate for 2026-10-31"), "{err}");
});

store_test!(async fn lead_facts_are_rebuilt_only_when_what_they_derive_from_changes(store) {
    load(&store, true).await;
    let config = config();
    let first = okno::figures::facts::refresh(&store, &config).await.unwrap();
    assert_eq!(first.rebuilt, [("amo".to_string(), 5)]);
    let again = okno::figures::facts::refresh(&store, &config).await.unwrap();
    assert_eq!((again.rebuilt.len(), again.current), (0, 1));
    // A new campaign can change any lead's attribution: the facts are rebuilt.
    store.commit_page("direct", "campaigns", &[campaign("brand-acc", "702", "Generic", "yandex_direct")], None).await.unwrap();
    let after = okno::figures::facts::refresh(&store, &config).await.unwrap();
    assert_eq!(after.rebuilt, [("amo".to_string(), 5)]);
});
