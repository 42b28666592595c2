//! Ad accounts, campaigns, daily spend, click ids and exchange rates in the store, on SQLite and
//! PostgreSQL alike: restated days overwrite (never add), a day restated to nothing is zeroed,
//! and what changed is recorded.

mod common;

use std::str::FromStr;

use chrono::{Duration, NaiveDate, Utc};
use okno_connector::rust_decimal::Decimal;
use okno_connector::serde_json::value::RawValue;
use okno_connector::{
    AdAccount, AdSpend, Campaign, ClickId, ClickKind, Currency, FxRate, Record, SpendWindow,
};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn rub() -> Currency {
    "RUB".parse().unwrap()
}

fn account() -> Record {
    Record::AdAccount(AdAccount {
        account_id: "client-a".into(),
        name: Some("Школа маркетинга".into()),
        currency: rub(),
        time_zone: "Europe/Moscow".into(),
        raw: RawValue::from_string(r#"{"Login":"client-a"}"#.into()).unwrap(),
    })
}

fn spend(campaign: &str, d: u32, cost: &str, clicks: i64) -> Record {
    Record::AdSpend(AdSpend {
        account_id: "client-a".into(),
        campaign_id: campaign.into(),
        date: day(d),
        cost: Decimal::from_str(cost).unwrap(),
        currency: rub(),
        vat_included: Some(true),
        impressions: Some(clicks * 40),
        clicks: Some(clicks),
        conversions: Some(Decimal::from_str("1.5").unwrap()),
        raw: RawValue::from_string(format!(r#"["{campaign}","{d}","{cost}"]"#)).unwrap(),
    })
}

fn window(from: u32, to: u32, provisional_from: u32) -> Record {
    Record::SpendWindow(SpendWindow {
        account_id: "client-a".into(),
        from: day(from),
        to: day(to),
        provisional_from: day(provisional_from),
    })
}

store_test!(async fn restated_days_overwrite_and_days_restated_to_nothing_are_zeroed(store) {
    let first = vec![
        account(),
        spend("701", 20, "1500.50", 30),
        spend("702", 20, "99.99", 3),
        spend("701", 21, "1200", 25),
        spend("702", 21, "10.10", 1),
        window(20, 21, 19),
    ];
    assert_eq!(store.commit_page("yd", "spend", &first, None).await.unwrap(), 5, "account + 4 rows");
    assert_eq!(store.commit_page("yd", "spend", &first, None).await.unwrap(), 0, "re-pull of the same figures changes nothing");

    // The platform restates the 21st: campaign 701 cost more, and 702's day was refunded whole
    // (the platform no longer reports it). The 20th is outside this window and stays.
    let second = vec![spend("701", 21, "1234.56", 26), window(21, 21, 19)];
    assert_eq!(store.commit_page("yd", "spend", &second, None).await.unwrap(), 2);
    let rows = store.spend("yd").await.unwrap();
    assert_eq!(rows.len(), 4, "restated rows overwrite, never add");
    let find = |c: &str, d: u32| rows.iter().find(|r| r.campaign_id == c && r.date == day(d)).unwrap();
    assert_eq!(find("701", 20).cost, "1500.5");
    assert_eq!(find("701", 20).restated_at, None);
    assert_eq!(find("701", 21).cost, "1234.56");
    assert_eq!(find("701", 21).previous_cost.as_deref(), Some("1200"));
    assert!(find("701", 21).restated_at.is_some());
    assert_eq!(find("702", 21).cost, "0");
    assert_eq!(find("702", 21).clicks, Some(0));
    assert_eq!(find("702", 21).previous_cost.as_deref(), Some("10.1"));
    assert_eq!(find("701", 21).conversions.as_deref(), Some("1.5"));
    assert_eq!(find("701", 21).vat_included, Some(true));
    // Σ cost is exact: 1500.50 + 99.99 + 1234.56 + 0.
    let total: Decimal = rows.iter().map(|r| Decimal::from_str(&r.cost).unwrap()).sum();
    assert_eq!(total, Decimal::from_str("2835.05").unwrap());
    // The same in millionths, which figures sum as integers in SQL.
    assert_eq!(find("701", 20).cost_micros, 1_500_500_000);
    assert_eq!(find("702", 21).cost_micros, 0);
    assert_eq!(rows.iter().map(|r| r.cost_micros).sum::<i64>(), 2_835_050_000);

    // The same restated pull again: nothing changes, the zeroed row is not "restated" again.
    assert_eq!(store.commit_page("yd", "spend", &second, None).await.unwrap(), 0);

    let accounts = store.ad_accounts(Utc::now() - Duration::hours(1)).await.unwrap();
    assert_eq!(accounts.len(), 1);
    let a = &accounts[0];
    assert_eq!((a.currency.as_str(), a.time_zone.as_str()), ("RUB", "Europe/Moscow"));
    assert_eq!(a.pulled_through, Some(day(21)));
    assert_eq!(a.provisional_from, Some(day(19)));
    assert_eq!(a.restated_rows, 2, "701 and 702 on the 21st");
});

store_test!(async fn campaigns_clicks_and_rates_upsert_idempotently(store) {
    let campaign = |name: &str| {
        Record::Campaign(Campaign {
            account_id: "1234567890".into(),
            campaign_id: "20871234".into(),
            name: name.into(),
            status: Some("ENABLED".into()),
            channel: "google_ads".into(),
            utm_campaign: None,
            raw: RawValue::from_string(format!(r#"{{"name":"{name}"}}"#)).unwrap(),
        })
    };
    assert_eq!(store.commit_page("gads", "campaigns", &[campaign("Brand")], None).await.unwrap(), 1);
    assert_eq!(store.commit_page("gads", "campaigns", &[campaign("Brand")], None).await.unwrap(), 0);
    assert_eq!(store.commit_page("gads", "campaigns", &[campaign("Brand RU")], None).await.unwrap(), 1);
    let stored = store.campaigns("gads").await.unwrap();
    assert_eq!(stored, [("1234567890".into(), "20871234".into(), "Brand RU".into(), Some("ENABLED".into()), "google_ads".into())]);

    let click = Record::ClickId(ClickId {
        click_id: "Cj0KCQiA-gclid".into(),
        kind: ClickKind::Gclid,
        account_id: "1234567890".into(),
        campaign_id: "20871234".into(),
        date: day(20),
    });
    assert_eq!(store.commit_page("gads", "clicks", std::slice::from_ref(&click), None).await.unwrap(), 1);
    assert_eq!(store.commit_page("gads", "clicks", &[click], None).await.unwrap(), 0);
    assert_eq!(store.click_ids("gads").await.unwrap()[0].1, "gclid");

    let rate = |r: &str| {
        Record::FxRate(FxRate { date: day(20), currency: "USD".parse().unwrap(), base: rub(), rate: Decimal::from_str(r).unwrap() })
    };
    assert_eq!(store.commit_page("cbr", "rates", &[rate("81.4967")], None).await.unwrap(), 1);
    assert_eq!(store.commit_page("cbr", "rates", &[rate("81.49670")], None).await.unwrap(), 0, "same rate, other scale");
    assert_eq!(store.commit_page("cbr", "rates", &[rate("81.5")], None).await.unwrap(), 1, "a corrected rate replaces the day's");
    let rates = store.fx_rates().await.unwrap();
    assert_eq!(rates, [(day(20), "USD".into(), "RUB".into(), "81.5".into(), "cbr".into())]);
});

store_test!(async fn rates_from_the_store_convert_with_the_rate_of_the_day(store) {
    let usd: Currency = "USD".parse().unwrap();
    let eur: Currency = "EUR".parse().unwrap();
    let rate = |d: u32, c: Currency, r: &str| Record::FxRate(FxRate { date: day(d), currency: c, base: rub(), rate: Decimal::from_str(r).unwrap() });
    let page = [rate(20, usd, "81.4967"), rate(20, eur, "94.2"), rate(21, usd, "80.9")];
    store.commit_page("cbr", "rates", &page, None).await.unwrap();
    let rates = okno::fx::Rates::load(&store).await.unwrap();
    // 1,234.56 USD on the 20th: 1234.56 × 81.4967 = 100,612.565952 RUB, exactly.
    assert_eq!(rates.convert(Decimal::from_str("1234.56").unwrap(), usd, rub(), day(20)).unwrap(), Decimal::from_str("100612.565952").unwrap());
    assert_eq!(rates.convert(Decimal::from_str("100").unwrap(), usd, rub(), day(21)).unwrap(), Decimal::from_str("8090").unwrap());
    // EUR has no rate on the 21st: an explicit error, not 1.
    let err = rates.convert(Decimal::ONE, eur, rub(), day(21)).unwrap_err();
    assert_eq!(err.date, day(21));
});

store_test!(async fn a_cost_beyond_the_stores_range_fails_the_page_and_writes_nothing(store) {
    let page = vec![spend("701", 20, "100", 1), spend("702", 20, "10000000000000", 1)];
    let err = store.commit_page("yd", "spend", &page, None).await.unwrap_err();
    assert!(err.to_string().contains("the cost 10000000000000 of campaign 702 on 2026-11-20"), "{err}");
    assert!(store.spend("yd").await.unwrap().is_empty());
});
