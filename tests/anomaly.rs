//! `okno report anomalies` over a hand-built period, on SQLite and PostgreSQL alike: CPL
//! outliers against the channel's median, spend without leads, channels with too few campaigns
//! for a norm, and segments with many leads and no sale.

mod common;

use common::engine::load_config;
use common::records::{account, campaign, dec, in_segment, lead, spend};
use okno::figures::anomaly::{anomalies, Flag};
use okno::figures::roi::Period;

/// Direct (`direct`, channel yandex_direct), October, ten leads each unless said:
///   c1 1,000 → CPL 100;  c2 1,200 → 120;  c3 1,500 → 150;  c4 6,000 → 600;  c5 700, no lead.
///   Median of 100, 120, 150, 600 = (120 + 150) / 2 = 135; × 2 = 270.
///   c4: 600 > 270 → cpl_outlier.  c5: spend 700 > 270 with no lead → spend_without_leads.
/// Google (`google`, channel google_ads): g1 100 → 10; g2 9,000 → 900 — two campaigns make
///   no median (min_campaigns 3), so nothing is flagged there.
/// Segments (October leads, cohort sales): enterprise 5 leads, 0 won → flagged (threshold 5);
///   smb 6 leads, 1 won → not; startups 4 leads, 0 won → under the threshold.
async fn load(store: &okno::store::Store) {
    let mut direct = vec![account("d", "RUB")];
    for (id, cost) in [
        ("c1", "1000"),
        ("c2", "1200"),
        ("c3", "1500"),
        ("c4", "6000"),
        ("c5", "700"),
    ] {
        direct.push(campaign("d", id, id, "yandex_direct"));
        direct.push(spend("d", id, "2026-10-05", cost, "RUB"));
    }
    store
        .commit_page("direct", "spend", &direct, None)
        .await
        .unwrap();
    let google = [
        account("g", "RUB"),
        campaign("g", "g1", "g1", "google_ads"),
        campaign("g", "g2", "g2", "google_ads"),
        spend("g", "g1", "2026-10-05", "100", "RUB"),
        spend("g", "g2", "2026-10-05", "9000", "RUB"),
    ];
    store
        .commit_page("google", "spend", &google, None)
        .await
        .unwrap();

    let mut leads = Vec::new();
    let mut n = 0;
    let mut next = |utm: &str, won: bool| {
        n += 1;
        let closed = ("2026-10-20T10:00:00Z", "1000", "0", "RUB");
        lead(
            &format!("L{n}"),
            "2026-10-10T10:00:00Z",
            Some(utm),
            won.then_some(closed),
        )
    };
    for c in ["c1", "c2", "c3", "c4"] {
        for _ in 0..10 {
            leads.push(next(c, false));
        }
    }
    leads.push(next("g1", false));
    leads.push(next("g2", false));
    // Segments on leads of their own (no utm that matches: unattributed, still counted).
    for _ in 0..5 {
        leads.push(in_segment(next("x", false), "enterprise"));
    }
    for i in 0..6 {
        leads.push(in_segment(next("x", i == 0), "smb"));
    }
    for _ in 0..4 {
        leads.push(in_segment(next("x", false), "startups"));
    }
    store
        .commit_page("amo", "leads", &leads, None)
        .await
        .unwrap();
}

const CONFIG: &str = "[report]\ncurrency = \"RUB\"\n\n[anomalies]\ncpl_factor = \"2\"\nmin_campaigns = 3\nsegment_min_leads = 5\n";

store_test!(async fn outliers_idle_spend_and_segments_without_sales_are_flagged(store) {
    load(&store).await;
    let config = load_config(CONFIG, &[]);
    let found = anomalies(&store, &config, &Period::parse("2026-10").unwrap())
        .await
        .unwrap()
        .found;
    let got: Vec<(Flag, &str, String, String)> = found
        .iter()
        .map(|a| {
            (a.flag, a.subject.as_str(), a.value.normalize().to_string(), a.limit.normalize().to_string())
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Flag::CplOutlier, "direct:c4", "600".into(), "270".into()),
            (Flag::SpendWithoutLeads, "direct:c5", "700".into(), "270".into()),
            (Flag::SegmentWithoutSales, "enterprise", "5".into(), "5".into()),
        ]
    );
    assert_eq!(found[0].median, Some(dec("135")));
    assert_eq!(found[0].channel.as_deref(), Some("yandex_direct"));

    // A higher factor (5 × 135 = 675) keeps c4 (600) and c5 (700 > 675 still) apart.
    let config = load_config(&CONFIG.replace("\"2\"", "\"5\""), &[]);
    let found = anomalies(&store, &config, &Period::parse("2026-10").unwrap())
        .await
        .unwrap()
        .found;
    let flagged: Vec<&str> = found.iter().map(|a| a.subject.as_str()).collect();
    assert_eq!(flagged, ["direct:c5", "enterprise"]);

    // November has none of it.
    let found = anomalies(&store, &config, &Period::parse("2026-11").unwrap())
        .await
        .unwrap();
    assert!(found.found.is_empty());
    assert!(found.table().text().contains("nothing flagged"));
});

#[test]
fn bad_thresholds_name_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("okno.toml");
    std::fs::write(
        &file,
        "[anomalies]\ncpl_factor = \"0.5\"\nmin_campaigns = 1\nsegment_min_leads = 0\nk = 3\n",
    )
    .unwrap();
    let err = okno::config::load_with_env(&file, &[])
        .unwrap_err()
        .to_string();
    for needle in [
        "anomalies.cpl_factor",
        "anomalies.min_campaigns",
        "anomalies.segment_min_leads",
        "anomalies.k",
        "hint:",
    ] {
        assert!(err.contains(needle), "{needle} missing from:\n{err}");
    }
}
