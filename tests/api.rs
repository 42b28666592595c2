//! The report API (`GET /api/v1/reports/{name}`): the same figures as the CLI, bearer token,
//! parameter errors, and a report the data cannot give. Both store backends.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::engine::{load_config, state};
use common::records::{account, campaign, lead, spend};
use okno::webhooks;
use tower::ServiceExt;

async fn get(
    app: &okno::webhooks::AppState,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, String, String) {
    let mut req = Request::get(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = webhooks::router(app.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let kind = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, kind, String::from_utf8_lossy(&body).into_owned())
}

/// Brand (Direct 701): 1,000.00 on 10 October + 500.00 on 11 October = 1,500.00.
/// Leads: X (utm Brand, won 6,000 − 0 on 20 October), Y (utm "brand", open), Z (no marks).
async fn load(store: &okno::store::Store) {
    let direct = [
        account("acc", "RUB"),
        campaign("acc", "701", "Brand", "yandex_direct"),
        spend("acc", "701", "2026-10-10", "1000.00", "RUB"),
        spend("acc", "701", "2026-10-11", "500.00", "RUB"),
    ];
    store
        .commit_page("direct", "spend", &direct, None)
        .await
        .unwrap();
    let leads = [
        lead(
            "X",
            "2026-10-12T10:00:00Z",
            Some("Brand"),
            Some(("2026-10-20T10:00:00Z", "6000", "0", "RUB")),
        ),
        lead("Y", "2026-10-13T10:00:00Z", Some("brand"), None),
        lead("Z", "2026-10-14T10:00:00Z", None, None),
    ];
    store
        .commit_page("amo", "leads", &leads, None)
        .await
        .unwrap();
}

const CONFIG: &str = "[report]\ncurrency = \"RUB\"\ntimezone = \"Europe/Moscow\"\n\n[server]\nlisten = \"127.0.0.1:0\"\napi_token = \"${OKNO_API_TOKEN}\"\n";

store_test!(async fn roi_over_http_has_the_figures_worked_out_by_hand(store) {
    load(&store).await;
    let config = load_config(CONFIG, &[("OKNO_API_TOKEN", "dash-board")]);
    let app = state(&config, &store);

    let (code, kind, body) = get(&app, "/api/v1/reports/roi?period=2026-10", Some("dash-board")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert!(kind.starts_with("application/json"), "{kind}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["currency"], "RUB");
    assert_eq!(json["timezone"], "Europe/Moscow");
    let rows = json["rows"].as_array().unwrap();
    let row = |key: &str| rows.iter().find(|r| r["key"] == key).unwrap_or_else(|| panic!("{key}: {body}"));
    let brand = row("direct:701");
    // Spend 1,500.00; leads X and Y; won X for 6,000.
    assert_eq!(brand["spend"], "1500.00");
    assert_eq!(brand["leads"], 2);
    assert_eq!(brand["won"], 1);
    assert_eq!(brand["revenue"], "6000.00");
    // CPL 1,500 / 2 = 750; CAC 1,500 / 1; conversion 1 / 2; ROI (6,000 − 1,500) / 1,500 = 3.
    assert_eq!(brand["cpl"], "750.00");
    assert_eq!(brand["cac"], "1500.00");
    assert_eq!(brand["conversion"], "0.5000");
    assert_eq!(brand["roi"], "3.0000");
    // No gross margin configured: ROMI is n/a, i.e. null.
    assert!(brand["romi"].is_null());
    // Z is counted, unattributed: no spend can be told for it, so spend, CPL, CAC and ROI are
    // n/a (null), not 0.
    let none = row("unattributed");
    assert_eq!(none["leads"], 1);
    for figure in ["spend", "cpl", "cac", "roi"] {
        assert!(none[figure].is_null(), "{figure}: {none}");
    }
    // Total: 1,500 over 3 leads = 500.
    let total = row("total");
    assert_eq!((total["leads"].as_i64(), total["cpl"].as_str()), (Some(3), Some("500.00")));

    // The same table as CSV, header first.
    let (code, kind, body) =
        get(&app, "/api/v1/reports/roi?period=2026-10&by=channel&format=csv", Some("dash-board")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(kind.starts_with("text/csv"), "{kind}");
    let mut lines = body.lines();
    assert!(lines.next().unwrap().starts_with("key,channel,month,spend,"));
    assert!(body.lines().any(|l| l.starts_with("yandex_direct,yandex_direct,2026-10,1500.00,")), "{body}");

    // Attribution: the unattributed lead with its reason.
    let (code, _, body) =
        get(&app, "/api/v1/reports/attribution?unmatched=true", Some("dash-board")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{body}");
    assert_eq!(rows[0]["lead_id"], "Z");
});

store_test!(async fn the_api_refuses_wrong_tokens_bad_parameters_and_missing_rates(store) {
    load(&store).await;
    // A USD account with no USD rate stored: the report cannot be made, and says why.
    let usd = [
        account("usd", "USD"),
        campaign("usd", "901", "Autumn", "google_ads"),
        spend("usd", "901", "2026-10-31", "100.00", "USD"),
    ];
    store.commit_page("google", "spend", &usd, None).await.unwrap();
    let config = load_config(CONFIG, &[("OKNO_API_TOKEN", "dash-board")]);
    let app = state(&config, &store);

    for token in [None, Some("wrong"), Some("dash-board ")] {
        let (code, _, body) = get(&app, "/api/v1/reports/roi?period=2026-10", token).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(body.is_empty());
    }
    let t = Some("dash-board");
    let (code, _, body) = get(&app, "/api/v1/reports/roi", t).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body.contains("period is required"), "{body}");
    let (code, _, body) = get(&app, "/api/v1/reports/roi?period=October", t).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body.contains("not a period"), "{body}");
    let (code, _, body) = get(&app, "/api/v1/reports/roi?period=2026-10&by=planet", t).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body.contains("by=\\\"planet\\\" is not one of"), "{body}");
    let (code, _, body) = get(&app, "/api/v1/reports/nope", t).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(body.contains("no report"), "{body}");
    let (code, _, body) = get(&app, "/api/v1/reports/roi?period=2026-10", t).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("USD") && body.contains("2026-10-31"), "{body}");
});

store_test!(async fn without_a_token_configured_the_api_is_open(store) {
    load(&store).await;
    let config = load_config("[server]\nlisten = \"127.0.0.1:0\"\n", &[]);
    let app = state(&config, &store);
    let (code, _, body) = get(&app, "/api/v1/reports/attribution", None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    // Buckets: direct:701 (X, Y) and the unattributed one (Z).
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{body}");
    assert_eq!((rows[0]["attributed_to"].as_str(), rows[0]["leads"].as_i64()), (Some("direct:701"), Some(2)));
    assert_eq!(rows[0]["revenue_rub"], "6000.00");

    // One campaign makes no channel median: nothing is flagged, and the answer says so.
    let (code, _, body) = get(&app, "/api/v1/reports/anomalies?period=2026-10", None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(0), "{body}");
    assert_eq!(json["notes"][0], "nothing flagged");
    assert_eq!((rows[1]["attributed_to"].as_str(), rows[1]["leads"].as_i64()), (Some("unattributed"), Some(1)));
});
