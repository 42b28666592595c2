//! ROI per campaign and month over a hand-built data set, on SQLite and PostgreSQL alike. Every
//! expected figure is worked out in the comments.

mod common;

use common::engine::load_config;

use okno::figures::roi::{roi, roi_query, By, Figures, Grain, Period, Query, RoiError};
use okno_connector::{
    ClickId, ClickKind, Deleted, DeletedKind, FxRate, LeadEntity, Record, SpendWindow,
};

use common::records::{account, at, campaign, cur, day, dec as d, spend};

/// A lead (see `common::records::lead`) that may also carry a gclid; won: (closed at, amount,
/// discount, currency).
fn lead(
    id: &str,
    created: &str,
    utm: Option<&str>,
    gclid: Option<&str>,
    won: Option<(&str, &str, &str, &str)>,
) -> Record {
    let mut record = common::records::lead(id, created, utm, won);
    if let Record::Lead(l) = &mut record {
        l.marks.gclid = gclid.map(str::to_string);
    }
    record
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

/// A lead with a product, segment and region.
fn tagged(mut r: Record, product: &str, segment: &str, region: &str) -> Record {
    if let Record::Lead(l) = &mut r {
        l.product = Some(product.into());
        l.segment = Some(segment.into());
        l.region = Some(region.into());
    }
    r
}

/// Spend as Yandex reports it with `IncludeVAT`.
fn spend_with_vat(account: &str, campaign: &str, date: &str, cost: &str) -> Record {
    let mut r = spend(account, campaign, date, cost, "RUB");
    if let Record::AdSpend(s) = &mut r {
        s.vat_included = Some(true);
    }
    r
}

async fn query(
    store: &okno::store::Store,
    config: &okno::config::Config,
    period: &str,
    grain: Grain,
    by: By,
) -> okno::figures::roi::Report {
    roi_query(
        store,
        config,
        &Query {
            period: Period::parse(period).unwrap(),
            grain,
            by,
        },
    )
    .await
    .unwrap()
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
    assert!(none.spend_unknown, "no campaign: its spend cannot be told");
    assert_eq!((none.cpl(), none.cac(), none.roi()), (None, None, None));

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

store_test!(async fn months_cut_short_by_the_period_sum_only_their_days(store) {
    load(&store, true).await;
    let config = config();
    // 21 October to 1 November: no whole month, so each month is summed from its days.
    let r = query(&store, &config, "2026-10-21..2026-11-01", Grain::Month, By::Campaign).await;
    // Brand in October: both spend days (2,000.00); B and C were created before the 21st, but
    // C was won on the 25th (10,000).
    let brand = find(&r, "direct:701", "2026-10");
    assert_eq!((brand.spend, brand.leads, brand.won, brand.revenue), (d("2000.00"), 0, 1, d("10000")));
    // Brand on 1 November: 500 of provisional spend and A (won on the 2nd, after the period).
    let brand = find(&r, "direct:701", "2026-11");
    assert_eq!((brand.spend, brand.leads, brand.won, brand.provisional), (d("500"), 1, 0, true));
    // Autumn: 100 USD of spend and D's 200 USD, each at 31 October's 80.5.
    let autumn = find(&r, "google:901", "2026-10");
    assert_eq!((autumn.spend, autumn.leads, autumn.won, autumn.revenue), (d("8050"), 1, 1, d("16100")));
    assert_eq!(find(&r, "unattributed", "2026-10").leads, 1, "E");
    assert_eq!(r.rows.len(), 4, "{:?}", r.rows);
    // The same days summed a day at a time agree, month by month.
    let days = query(&store, &config, "2026-10-21..2026-11-01", Grain::Day, By::Campaign).await;
    for row in &r.rows {
        let (mut spend, mut leads, mut won, mut revenue) = (d("0"), 0, 0, d("0"));
        for x in days.rows.iter().filter(|x| x.key == row.key && x.month.starts_with(&row.month)) {
            spend += x.figures.spend;
            leads += x.figures.leads;
            won += x.figures.won;
            revenue += x.figures.revenue;
        }
        let f = &row.figures;
        assert_eq!((f.spend, f.leads, f.won, f.revenue), (spend, leads, won, revenue), "{}", row.key);
    }
    assert_eq!(r.total.spend, d("10550"));
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
    // The same campaign page again changes no row: nothing to redo.
    store.commit_page("direct", "campaigns", &[campaign("brand-acc", "702", "Generic", "yandex_direct")], None).await.unwrap();
    let same = okno::figures::facts::refresh(&store, &config).await.unwrap();
    assert_eq!((same.rebuilt.len(), same.updated.len(), same.current), (0, 0, 1));
});

/// Two more Brand leads on top of `load`: F at 21:30 UTC on Sunday 1 November (00:30 on Monday
/// 2 November in Moscow: the next day and ISO week, 2026-W45), open; G created 10 October and
/// won 5 November for 4,000 RUB (a cohort lead of October won in November).
async fn load_more(store: &okno::store::Store) {
    let more = vec![
        lead("F", "2026-11-01T21:30:00Z", Some("Brand"), None, None),
        lead(
            "G",
            "2026-10-10T10:00:00Z",
            Some("Brand"),
            None,
            Some(("2026-11-05T10:00:00Z", "4000", "0", "RUB")),
        ),
    ];
    store
        .commit_page("amo", "leads", &more, None)
        .await
        .unwrap();
}

store_test!(async fn weeks_days_and_quarters_bucket_in_the_report_zone(store) {
    load(&store, true).await;
    load_more(&store).await;
    let config = config();

    // Weeks 26 Oct – 8 Nov by channel. Direct: spend 1000.10 + 999.90 + 500 = 2,500 in W44
    // (30 Oct – 1 Nov); A (00:30 on 1 Nov Moscow) is W44; F (00:30 on 2 Nov) is W45; A won on
    // 2 Nov (W45) for 2,500, G on 5 Nov (W45) for 4,000.
    let w = query(&store, &config, "2026-10-26..2026-11-08", Grain::Week, By::Channel).await;
    let w44 = find(&w, "yandex_direct", "2026-W44");
    assert_eq!((w44.spend, w44.leads, w44.won), (d("2500.00"), 1, 0));
    let w45 = find(&w, "yandex_direct", "2026-W45");
    assert_eq!((w45.spend, w45.leads, w45.won, w45.revenue), (d("0"), 1, 2, d("6500")));
    // Google: 100 USD × 80.5 spent on 31 Oct, D won that day for 200 USD × 80.5.
    let g = find(&w, "google_ads", "2026-W44");
    assert_eq!((g.spend, g.won, g.revenue), (d("8050"), 1, d("16100")));
    assert_eq!(w.table().columns[2].name, "week");

    // One day, 2 November (Moscow): F created, A won; no spend that day, so ROI is n/a.
    let day = query(&store, &config, "2026-11-02", Grain::Day, By::Campaign).await;
    let brand = find(&day, "direct:701", "2026-11-02");
    assert_eq!((brand.leads, brand.won, brand.revenue, brand.roi()), (1, 1, d("2500"), None));
    assert_eq!(day.rows.len(), 1, "{:?}", day.rows);
    // 1 November holds A and the 500 of spend.
    let day = query(&store, &config, "2026-11-01", Grain::Day, By::Campaign).await;
    let brand = find(&day, "direct:701", "2026-11-01");
    assert_eq!((brand.spend, brand.leads), (d("500"), 1));

    // The fourth quarter: Brand leads B, C, G (October), A, F (November) = 5; won C 10,000,
    // A 2,500, G 4,000 = 16,500; all of them created in the quarter, so the cohort is the same.
    let q = query(&store, &config, "2026-Q4", Grain::Quarter, By::Channel).await;
    let direct = find(&q, "yandex_direct", "2026-Q4");
    assert_eq!((direct.spend, direct.leads, direct.won, direct.revenue), (d("2500.00"), 5, 3, d("16500")));
    assert_eq!((direct.won_cohort, direct.revenue_cohort), (3, d("16500")));
    assert_eq!(direct.conversion_cohort(), Some(d("0.6")));
});

store_test!(async fn cohort_figures_count_leads_of_the_bucket_won_by_now(store) {
    load(&store, true).await;
    load_more(&store).await;
    let config = config();
    let r = query(&store, &config, "2026-10-01..2026-11-30", Grain::Month, By::Campaign).await;
    // October: created B, C, G; won in October C (10,000); of October's leads C and G are won
    // by now (10,000 + 4,000). Conversion 1/3, cohort conversion 2/3.
    let oct = find(&r, "direct:701", "2026-10");
    assert_eq!((oct.leads, oct.won, oct.revenue), (3, 1, d("10000")));
    assert_eq!((oct.won_cohort, oct.revenue_cohort), (2, d("14000")));
    assert_eq!(oct.conversion_cohort().unwrap().round_dp(6), d("0.666667"));
    // November: created A, F; won A (2,500) and G (4,000); of November's leads only A is won.
    let nov = find(&r, "direct:701", "2026-11");
    assert_eq!((nov.leads, nov.won, nov.revenue), (2, 2, d("6500")));
    assert_eq!((nov.won_cohort, nov.revenue_cohort), (1, d("2500")));
    // ДРР: October 2,000 / 10,000; November 500 / 6,500.
    assert_eq!(oct.cost_revenue_ratio(), Some(d("0.2")));
    assert_eq!(nov.cost_revenue_ratio().unwrap().round_dp(6), d("0.076923"));
    let table = r.table();
    let col = |name: &str| table.columns.iter().position(|c| c.name == name).unwrap();
    let first = &table.rows[0];
    assert_eq!(first[col("cost_revenue_ratio")].as_deref(), Some("0.2000"));
    assert_eq!(first[col("conversion_cohort")].as_deref(), Some("0.6667"));
});

store_test!(async fn rows_by_product_segment_and_region_have_no_spend_but_the_total_does(store) {
    load(&store, false).await;
    // Rates, and products: C and A sell the course (b2b, msk), D consulting (b2c, spb).
    let rate = Record::FxRate(FxRate { date: day("2026-10-31"), currency: cur("USD"), base: cur("RUB"), rate: d("80.5") });
    store.commit_page("cbr", "rates", &[rate], None).await.unwrap();
    let tagged_leads = vec![
        tagged(lead("A", "2026-10-31T21:30:00Z", Some("Brand"), None, Some(("2026-11-02T09:00:00Z", "3000", "500", "RUB"))), "course", "b2b", "msk"),
        tagged(lead("C", "2026-10-20T10:00:00Z", Some("701"), None, Some(("2026-10-25T10:00:00Z", "10000", "0", "RUB"))), "course", "b2b", "msk"),
        tagged(lead("D", "2026-10-21T10:00:00Z", None, Some("G1"), Some(("2026-10-31T12:00:00Z", "200", "0", "USD"))), "consulting", "b2c", "spb"),
    ];
    store.commit_page("amo", "leads", &tagged_leads, None).await.unwrap();
    let config = load_config(
        "[report]\ncurrency = \"RUB\"\ntimezone = \"Europe/Moscow\"\n\
         [report.product_margin]\ncourse = \"0.6\"\nconsulting = \"0.3\"\n",
        &[],
    );
    let r = query(&store, &config, "2026-10-01..2026-11-30", Grain::Month, By::Product).await;
    // course: October C (won 10,000), November A (won 2,500); consulting: October D (16,100);
    // none: B and E in October.
    let course = find(&r, "course", "2026-10");
    assert_eq!((course.leads, course.won, course.revenue), (1, 1, d("10000")));
    assert!(course.spend_unknown);
    assert_eq!((course.cpl(), course.cac(), course.roi(), course.romi_by_product(), course.cost_revenue_ratio()), (None, None, None, None, None));
    assert_eq!(course.conversion(), Some(d("1")), "lead figures stay");
    assert_eq!(find(&r, "course", "2026-11").revenue, d("2500"));
    assert_eq!(find(&r, "consulting", "2026-10").revenue, d("16100"));
    assert_eq!(find(&r, "none", "2026-10").leads, 2);
    // The total keeps all spend: 2,000 + 500 + 8,050 = 10,550; revenue 28,600.
    assert_eq!((r.total.spend, r.total.leads, r.total.revenue), (d("10550.00"), 5, d("28600")));
    assert_eq!(r.total.roi().unwrap().round_dp(6), d("1.710900"), "18,050 / 10,550");
    let table = r.table();
    assert_eq!(table.rows[0][3], None, "spend is n/a on a product row");
    assert_eq!(table.rows.last().unwrap()[3].as_deref(), Some("10550.00"));
    assert!(table.notes.iter().any(|n| n.contains("cannot be split by product")));

    let seg = query(&store, &config, "2026-10", Grain::Month, By::Segment).await;
    assert_eq!(find(&seg, "b2b", "2026-10").revenue, d("10000"));
    assert_eq!(find(&seg, "b2c", "2026-10").revenue, d("16100"));
    let reg = query(&store, &config, "2026-10", Grain::Month, By::Region).await;
    assert_eq!(find(&reg, "spb", "2026-10").leads, 1);
    assert_eq!(reg.total.spend, d("10050.00"));

    // ROMI by product margin, by campaign in October: Brand's revenue is C's course, 10,000 ×
    // 0.6 = 6,000 → (6,000 − 2,000) / 2,000 = 2; Autumn's is D's consulting, 16,100 × 0.3 =
    // 4,830 → (4,830 − 8,050) / 8,050 = −0.4. Total (10,830 − 10,050) / 10,050.
    let oct = query(&store, &config, "2026-10", Grain::Month, By::Campaign).await;
    assert_eq!(find(&oct, "direct:701", "2026-10").romi_by_product(), Some(d("2")));
    assert_eq!(find(&oct, "google:901", "2026-10").romi_by_product(), Some(d("-0.4")));
    assert_eq!(oct.total.romi_by_product().unwrap().round_dp(6), d("0.077612"));
    // Without a margin for consulting (and no gross_margin) that revenue has none: n/a.
    let partial = load_config(
        "[report]\ncurrency = \"RUB\"\ntimezone = \"Europe/Moscow\"\n\
         [report.product_margin]\ncourse = \"0.6\"\n",
        &[],
    );
    let oct = query(&store, &partial, "2026-10", Grain::Month, By::Campaign).await;
    assert_eq!(find(&oct, "direct:701", "2026-10").romi_by_product(), Some(d("2")));
    assert_eq!(find(&oct, "google:901", "2026-10").romi_by_product(), None);
    assert_eq!(oct.total.romi_by_product(), None);
});

store_test!(async fn spend_with_vat_is_taken_net_of_the_rate_of_its_day(store) {
    let page = vec![
        account("ya-acc", "RUB"),
        campaign("ya-acc", "801", "Winter", "yandex_direct"),
        // 1,200 with 20 % VAT on 31 Dec 2025 is 1,000 net; 1,220 with 22 % on 1 Jan 2026 too.
        spend_with_vat("ya-acc", "801", "2025-12-31", "1200"),
        spend_with_vat("ya-acc", "801", "2026-01-01", "1220"),
        // Spend reported without VAT is taken as it is.
        spend("ya-acc", "801", "2026-01-02", "300", "RUB"),
    ];
    store.commit_page("direct", "spend", &page, None).await.unwrap();
    let config = config();
    let days = query(&store, &config, "2025-12-31..2026-01-02", Grain::Day, By::Campaign).await;
    assert_eq!(find(&days, "direct:801", "2025-12-31").spend, d("1000"));
    assert_eq!(find(&days, "direct:801", "2026-01-01").spend, d("1000"));
    assert_eq!(find(&days, "direct:801", "2026-01-02").spend, d("300"));
    // Whole months (monthly sums) give the same.
    let months = query(&store, &config, "2025-12-01..2026-01-31", Grain::Month, By::Campaign).await;
    assert_eq!(find(&months, "direct:801", "2025-12").spend, d("1000"));
    assert_eq!(find(&months, "direct:801", "2026-01").spend, d("1300"));
    assert_eq!(months.table().meta["spend_vat"], "excluded");
    // With spend_includes_vat the platform's figures stay: 1,200 + 1,220 + 300.
    let gross = load_config(
        "[report]\ncurrency = \"RUB\"\ntimezone = \"Europe/Moscow\"\nspend_includes_vat = true\n",
        &[],
    );
    let r = query(&store, &gross, "2025-12-01..2026-01-31", Grain::Year, By::Channel).await;
    assert_eq!(find(&r, "yandex_direct", "2025").spend, d("1200"));
    assert_eq!(find(&r, "yandex_direct", "2026").spend, d("1520"));
    // A configured rate replaces the defaults: 10 % from 2025-01-01 only.
    let ten = load_config(
        "[report]\ncurrency = \"RUB\"\n[[report.vat]]\nfrom = \"2025-01-01\"\nrate = \"0.1\"\n",
        &[],
    );
    let r = query(&store, &ten, "2026-01-01", Grain::Day, By::Campaign).await;
    assert_eq!(find(&r, "direct:801", "2026-01-01").spend, d("1220") / d("1.1"));
});

store_test!(async fn fully_loaded_roi_adds_overhead_prorated_by_days_in_the_period(store) {
    load(&store, true).await;
    let mut config = (*config()).clone();
    // Tools: 3,000 RUB over 17 Oct – 15 Nov (30 days); October holds 15 of them: 1,500.
    config.budgets = std::sync::Arc::new(okno::config::budgets::Budgets {
        lines: vec![okno::config::budgets::BudgetLine {
            id: "tools".into(),
            from: day("2026-10-17"),
            to: day("2026-11-15"),
            scope: okno::config::budgets::Scope::Everything,
            amount: d("3000"),
            currency: cur("RUB"),
            funding: okno::config::budgets::Funding::Internal,
            target_cpl: None,
            planned_discount: None,
            kind: okno::config::budgets::LineKind::Overhead,
            note: None,
        }],
        ..Default::default()
    });
    let oct = query(&store, &config, "2026-10", Grain::Month, By::Campaign).await;
    assert_eq!(oct.overhead.amount, d("1500"));
    // Revenue 26,100; spend 10,050 + 1,500 = 11,550: (26,100 − 11,550) / 11,550 = 1.2597…
    assert_eq!(oct.total.fully_loaded_roi(oct.overhead.amount).unwrap().round_dp(6), d("1.259740"));
    let table = oct.table();
    let col = table.columns.iter().position(|c| c.name == "fully_loaded_roi").unwrap();
    assert_eq!(table.rows.last().unwrap()[col].as_deref(), Some("1.2597"));
    assert_eq!(table.rows[0][col], None, "n/a on ordinary rows");
    assert_eq!(table.meta["overhead"], "1500.00");
});

store_test!(async fn spend_sums_stay_right_after_a_restatement_and_a_zeroing_window(store) {
    load(&store, true).await;
    let config = config();
    let oct = query(&store, &config, "2026-10", Grain::Month, By::Campaign).await;
    assert_eq!(find(&oct, "direct:701", "2026-10").spend, d("2000.00"));
    // A later pull restates 31 October: 999.90 → 1,999.90, so October is 3,000.00.
    store.commit_page("direct", "spend", &[spend("brand-acc", "701", "2026-10-31", "1999.90", "RUB")], None).await.unwrap();
    let oct = query(&store, &config, "2026-10", Grain::Month, By::Campaign).await;
    assert_eq!(find(&oct, "direct:701", "2026-10").spend, d("3000.00"));
    // A window over 30–31 October repeating only the 31st zeroes the 30th: 1,999.90.
    let page = vec![
        spend("brand-acc", "701", "2026-10-31", "1999.90", "RUB"),
        Record::SpendWindow(SpendWindow {
            account_id: "brand-acc".into(),
            from: day("2026-10-30"),
            to: day("2026-10-31"),
            provisional_from: day("2026-10-30"),
        }),
    ];
    store.commit_page("direct", "spend", &page, None).await.unwrap();
    let oct = query(&store, &config, "2026-10", Grain::Month, By::Campaign).await;
    let brand = find(&oct, "direct:701", "2026-10");
    assert_eq!(brand.spend, d("1999.90"));
    assert!(brand.provisional, "the window made 30 October on provisional");
    // A range of days reads the same rows: 15 Oct – 31 Oct.
    let part = query(&store, &config, "2026-10-15..2026-10-31", Grain::Month, By::Campaign).await;
    assert_eq!(find(&part, "direct:701", "2026-10").spend, d("1999.90"));
});

#[test]
fn periods_name_quarters_iso_weeks_and_days() {
    let p = Period::parse("2026-Q4").unwrap();
    assert_eq!((p.from, p.to), (day("2026-10-01"), day("2026-12-31")));
    // ISO week 44 of 2026: Monday 26 October to Sunday 1 November.
    let p = Period::parse("2026-W44").unwrap();
    assert_eq!((p.from, p.to), (day("2026-10-26"), day("2026-11-01")));
    let p = Period::parse("2026-10-05").unwrap();
    assert_eq!((p.from, p.to), (day("2026-10-05"), day("2026-10-05")));
    assert!(Period::parse("2026-Q5").is_err());
    assert!(Period::parse("2026-W54").is_err());
    // 2027-01-01 is a Friday: it belongs to ISO week 53 of 2026.
    assert_eq!(Grain::Week.label(day("2027-01-01")), "2026-W53");
    assert_eq!(Grain::Quarter.label(day("2026-04-01")), "2026-Q2");
}

fn entity(mut r: Record, deal: bool, converted_into: Option<&str>) -> Record {
    if let Record::Lead(l) = &mut r {
        if deal {
            l.entity = LeadEntity::Deal;
        }
        l.converted_deal_id = converted_into.map(str::to_string);
    }
    r
}

store_test!(async fn changed_leads_update_their_facts_exactly_as_a_full_rebuild_would(store) {
    load(&store, true).await;
    // A Zoho lead Z1 (Brand) and a deal ZD1 (no marks, won 7,000 on 20 October) not yet linked:
    // both count.
    let zoho = vec![
        lead("Z1", "2026-10-05T10:00:00Z", Some("Brand"), None, None),
        entity(lead("ZD1", "2026-10-06T10:00:00Z", None, None, Some(("2026-10-20T10:00:00Z", "7000", "0", "RUB"))), true, None),
    ];
    store.commit_page("zoho", "leads", &zoho, None).await.unwrap();
    let config = config();
    let no_margin = chrono::Duration::zero();
    let first = okno::figures::facts::refresh_with_margin(&store, &config, no_margin).await.unwrap();
    assert_eq!(first.rebuilt, [("amo".to_string(), 5), ("zoho".to_string(), 2)]);
    let oct = roi(&store, &config, &Period::parse("2026-10").unwrap(), By::Campaign).await.unwrap();
    // Brand: B, C, Z1 created; C won 10,000. Unattributed: E and ZD1, ZD1 won 7,000.
    let brand = find(&oct, "direct:701", "2026-10");
    assert_eq!((brand.leads, brand.won, brand.revenue), (3, 1, d("10000")));
    assert_eq!(find(&oct, "unattributed", "2026-10").leads, 2);

    // B is won (1,500 on 28 October), E is deleted, Z1 converts into ZD1.
    let amo = vec![
        lead("B", "2026-10-15T10:00:00Z", Some("brand"), None, Some(("2026-10-28T10:00:00Z", "1500", "0", "RUB"))),
        Record::Deleted(Deleted { kind: DeletedKind::Lead(LeadEntity::Lead), id: "E".into(), deleted_at: at("2026-11-03T10:00:00Z") }),
    ];
    store.commit_page("amo", "leads", &amo, None).await.unwrap();
    // Zoho moves Modified_Time when it converts a lead.
    let mut z1 = entity(lead("Z1", "2026-10-05T10:00:00Z", Some("Brand"), None, None), false, Some("ZD1"));
    if let Record::Lead(l) = &mut z1 {
        l.updated_at = at("2026-11-03T10:00:00Z");
    }
    let converted = vec![z1];
    store.commit_page("zoho", "leads", &converted, None).await.unwrap();
    let second = okno::figures::facts::refresh_with_margin(&store, &config, no_margin).await.unwrap();
    assert!(second.rebuilt.is_empty(), "{second:?}");
    // amo: B and E looked at; zoho: Z1 and the deal it converted into.
    assert_eq!(second.updated, [("amo".to_string(), 2), ("zoho".to_string(), 2)]);
    let incremental = (store.lead_facts("amo", None).await.unwrap(), store.lead_facts("zoho", None).await.unwrap());
    assert_eq!(incremental.0.len(), 4, "E is gone");
    assert_eq!(incremental.1.len(), 1, "Z1 and ZD1 are one lead now");
    let z1 = &incremental.1[0];
    assert_eq!((z1.lead_id.as_str(), z1.won_day, z1.revenue), ("Z1", Some(day("2026-10-20")), Some(d("7000"))));
    // Brand in October: B, C, Z1 created; B 1,500, C 10,000 and Z1 7,000 won = 18,500.
    let after = roi(&store, &config, &Period::parse("2026-10").unwrap(), By::Campaign).await.unwrap();
    let brand = find(&after, "direct:701", "2026-10");
    assert_eq!((brand.leads, brand.won, brand.revenue), (3, 3, d("18500")));
    assert!(after.rows.iter().all(|r| r.key != "unattributed"), "{:?}", after.rows);

    // A full rebuild (a new campaign nothing matches forces one) gives the same facts and sums.
    store.commit_page("direct", "campaigns", &[campaign("brand-acc", "799", "Unused", "yandex_direct")], None).await.unwrap();
    let full = okno::figures::facts::refresh(&store, &config).await.unwrap();
    assert_eq!(full.rebuilt.len(), 2);
    assert_eq!((store.lead_facts("amo", None).await.unwrap(), store.lead_facts("zoho", None).await.unwrap()), incremental);
    let rebuilt = roi(&store, &config, &Period::parse("2026-10").unwrap(), By::Campaign).await.unwrap();
    assert_eq!(rebuilt, after);
    let cohort = roi_query(&store, &config, &Query { period: Period::parse("2026").unwrap(), grain: Grain::Quarter, by: By::Product }).await.unwrap();
    assert_eq!(cohort.total.won_cohort, 5, "A, B, C, D and Z1 were created in the year and are won");
});

#[test]
fn vat_rates_are_read_sorted_and_mistakes_name_the_file_key_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("okno.toml");
    std::fs::write(
        &file,
        "[report]\n[[report.vat]]\nfrom = \"2026-01-01\"\nrate = \"0.22\"\n\
         [[report.vat]]\nfrom = \"2019-01-01\"\nrate = \"0.2\"\n",
    )
    .unwrap();
    let config = okno::config::load_with_env(&file, &[]).unwrap().config;
    let vat = &config.report.vat;
    assert_eq!((vat[0].from, vat[1].rate), (day("2019-01-01"), d("0.22")));
    assert_eq!(
        okno::config::VatRate::on(vat, day("2025-12-31")),
        Some(d("0.2"))
    );
    assert_eq!(
        okno::config::VatRate::on(vat, day("2026-01-01")),
        Some(d("0.22"))
    );
    // The default is Russia's two rates.
    let default = okno::config::VatRate::russian_default();
    assert_eq!(
        okno::config::VatRate::on(&default, day("2026-06-01")),
        Some(d("0.22"))
    );

    std::fs::write(
        &file,
        "[report]\n[[report.vat]]\nfrom = \"1 January\"\nrate = \"22%\"\n",
    )
    .unwrap();
    let err = okno::config::load_with_env(&file, &[]).unwrap_err();
    let keys: Vec<&str> = err.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        ["report.vat[0].from", "report.vat[0].rate"],
        "every mistake at once"
    );
    let issue = &err.issues[0];
    assert_eq!(issue.file, file);
    assert!(
        issue.hint.as_deref().unwrap().contains("[[report.vat]]"),
        "{issue}"
    );
}

store_test!(async fn an_update_computed_from_stale_facts_writes_nothing(store) {
    load(&store, true).await;
    let config = config();
    okno::figures::facts::refresh(&store, &config).await.unwrap();
    let facts = store.lead_facts("amo", None).await.unwrap();
    let current = store.fact_state("amo").await.unwrap().unwrap();
    // Another refresh got there first: the state these deltas were computed from is gone.
    let stale = okno::store::FactState { leads_state: Some("v0".into()), ..current.clone() };
    let applied = store
        .update_facts("amo", &[("lead".into(), "B".into())], &[], &[], &stale, &current)
        .await
        .unwrap();
    assert!(!applied);
    assert_eq!(store.lead_facts("amo", None).await.unwrap(), facts, "B's fact is still there");
});
