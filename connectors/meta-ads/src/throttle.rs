//! Meta's usage headers and error bodies, turned into what the client does next. Pure functions
//! of a response and the current time, unit-tested here and through the connector in
//! `tests/api.rs`.
//!
//! - `X-Business-Use-Case-Usage`: `{"<business id>": [{"type", "call_count", "total_cputime",
//!   "total_time", "estimated_time_to_regain_access", ...}]}`; the three counts are percentages
//!   of the hourly budget, the estimate is in **minutes** (0 while not blocked).
//! - `X-Ad-Account-Usage`: `{"acc_id_util_pct", "reset_time_duration", "ads_api_access_tier"}`;
//!   `reset_time_duration` is in **seconds**.
//! - `X-FB-Ads-Insights-Throttle`: `{"app_id_util_pct", "acc_id_util_pct", ...}` (percentages).
//! - `X-App-Usage`: `{"call_count", "total_cputime", "total_time"}` (percentages), for tokens
//!   under platform limits.
//!
//! Every number is read leniently (integers, floats or numeric strings); a header that does not
//! parse is ignored rather than failing a page that carries good data.

use std::time::Duration;

use chrono::{DateTime, Utc};
use okno_connector::http::{error_excerpt, HttpResponse};
use okno_connector::reqwest::header::HeaderMap;
use okno_connector::{ConnectorError, Verdict};
use serde::Deserialize;

/// Usage at or above this percentage slows requests down.
pub(crate) const PACE_FROM_PCT: f64 = 75.0;
/// The pause before the next request at 100 % usage when Meta names no time.
pub(crate) const PACE_MAX: Duration = Duration::from_secs(60);
/// Throttling that lifts within this is waited out in place; longer becomes a quota state.
pub(crate) const SHORT_WAIT: Duration = Duration::from_secs(120);
/// The wait after a throttling error that names no time: Meta blocks a throttled ad account
/// for 60 s on the standard tier (300 s on the development tier, which then ends as rate
/// limited after the client's attempts, and the engine resumes later).
pub(crate) const UNNAMED_THROTTLE_WAIT: Duration = Duration::from_secs(60);

/// What the usage headers of one response say.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Usage {
    /// The highest percentage any header reports (0 when none came).
    pub(crate) max_pct: f64,
    /// The longest time Meta says access stays blocked (BUC estimate or ad-account reset),
    /// only when it says access is blocked now.
    pub(crate) blocked_for: Option<Duration>,
    /// The ad-account reset time, whether or not blocked.
    pub(crate) reset: Option<Duration>,
}

impl Usage {
    /// How long to wait before the next request, if at all.
    pub(crate) fn pause(&self) -> Option<Duration> {
        if let Some(b) = self.blocked_for {
            return Some(b);
        }
        if self.max_pct >= 100.0 {
            return Some(self.reset.filter(|r| !r.is_zero()).unwrap_or(PACE_MAX));
        }
        if self.max_pct >= PACE_FROM_PCT {
            let share = (self.max_pct - PACE_FROM_PCT) / (100.0 - PACE_FROM_PCT);
            return Some(PACE_MAX.mul_f64(share.clamp(0.0, 1.0)));
        }
        None
    }
}

/// A number as Meta writes it in usage headers: integer, float or numeric string.
fn number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite() && *f >= 0.0)
}

fn header_json(headers: &HeaderMap, name: &str) -> Option<serde_json::Value> {
    let text = headers.get(name)?.to_str().ok()?;
    serde_json::from_str(text).ok()
}

fn minutes(m: f64) -> Duration {
    Duration::from_secs_f64((m * 60.0).min(7.0 * 86_400.0))
}

fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(s.min(7.0 * 86_400.0))
}

/// Reads every usage header Meta sends.
pub(crate) fn usage(headers: &HeaderMap) -> Usage {
    let mut u = Usage::default();
    let mut pct = |v: Option<&serde_json::Value>| {
        if let Some(p) = v.and_then(number) {
            u.max_pct = u.max_pct.max(p);
        }
    };
    let mut blocked: Option<Duration> = None;
    if let Some(serde_json::Value::Object(businesses)) =
        header_json(headers, "x-business-use-case-usage")
    {
        for entries in businesses.values() {
            let Some(entries) = entries.as_array() else {
                continue;
            };
            for e in entries {
                pct(e.get("call_count"));
                pct(e.get("total_cputime"));
                pct(e.get("total_time"));
                if let Some(m) = e.get("estimated_time_to_regain_access").and_then(number) {
                    if m > 0.0 {
                        blocked = Some(blocked.map_or(minutes(m), |b| b.max(minutes(m))));
                    }
                }
            }
        }
    }
    let mut reset = None;
    let mut account_full = false;
    if let Some(a) = header_json(headers, "x-ad-account-usage") {
        if let Some(p) = a.get("acc_id_util_pct").and_then(number) {
            account_full = p >= 100.0;
            pct(Some(&serde_json::json!(p)));
        }
        reset = a.get("reset_time_duration").and_then(number).map(seconds);
    }
    if let Some(i) = header_json(headers, "x-fb-ads-insights-throttle") {
        pct(i.get("app_id_util_pct"));
        pct(i.get("acc_id_util_pct"));
    }
    if let Some(a) = header_json(headers, "x-app-usage") {
        pct(a.get("call_count"));
        pct(a.get("total_cputime"));
        pct(a.get("total_time"));
    }
    if account_full {
        if let Some(r) = reset.filter(|r| !r.is_zero()) {
            blocked = Some(blocked.map_or(r, |b| b.max(r)));
        }
    }
    u.blocked_for = blocked;
    u.reset = reset;
    u
}

/// `{"error": {...}}`, the body of every Graph API failure.
#[derive(Debug, Deserialize)]
pub(crate) struct GraphErrorBody {
    pub(crate) error: GraphError,
}

#[derive(Debug, Deserialize)]
pub(crate) struct GraphError {
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) code: Option<i64>,
    #[serde(default)]
    pub(crate) error_subcode: Option<i64>,
    #[serde(default)]
    pub(crate) error_user_msg: Option<String>,
    #[serde(default)]
    pub(crate) fbtrace_id: Option<String>,
    #[serde(default)]
    pub(crate) is_transient: Option<bool>,
}

impl GraphError {
    /// `message (code 17, subcode 2446079, fbtrace_id ...)`, for error messages.
    pub(crate) fn describe(&self) -> String {
        let mut out = self
            .message
            .clone()
            .unwrap_or_else(|| "no message".to_string());
        if let Some(m) = self.error_user_msg.as_deref().filter(|m| !m.is_empty()) {
            out.push_str(": ");
            out.push_str(m);
        }
        let mut tags = Vec::new();
        if let Some(k) = &self.kind {
            tags.push(k.clone());
        }
        if let Some(c) = self.code {
            tags.push(format!("code {c}"));
        }
        if let Some(s) = self.error_subcode {
            tags.push(format!("subcode {s}"));
        }
        if let Some(t) = &self.fbtrace_id {
            tags.push(format!("fbtrace_id {t}"));
        }
        if !tags.is_empty() {
            out.push_str(" (");
            out.push_str(&tags.join(", "));
            out.push(')');
        }
        out
    }

    /// Codes Meta documents as throttling: 4 (app), 17 (user), 32 (pages), 341 (app limit),
    /// 613 (ad account calls) and the business-use-case family 80000-80014 (80000 ads
    /// insights, 80004 ads management, ...).
    pub(crate) fn is_throttling(&self) -> bool {
        matches!(self.code, Some(4 | 17 | 32 | 341 | 613 | 80_000..=80_014))
    }

    /// A synchronous insights query that ran out of time (try a smaller range or async).
    pub(crate) fn is_insights_timeout(&self) -> bool {
        matches!(
            (self.code, self.error_subcode),
            (Some(100), Some(1_504_018)) | (Some(2), Some(1_504_038))
        )
    }
}

/// The Graph error in a body, if it is one.
pub(crate) fn graph_error(body: &[u8]) -> Option<GraphError> {
    serde_json::from_slice::<GraphErrorBody>(body)
        .ok()
        .map(|b| b.error)
}

/// What to do with a response, decided before the SDK's generic status rules: throttling
/// codes wait (briefly, in place) or become [`ConnectorError::Quota`]; code 190 and permission
/// codes are credentials problems; other Graph errors are permanent with Meta's own words.
pub(crate) fn classify(
    resp: &HttpResponse,
    endpoint: &'static str,
    now: DateTime<Utc>,
) -> Option<Verdict> {
    if resp.status.is_success() {
        return None;
    }
    let status = resp.status.as_u16();
    let Some(err) = graph_error(&resp.body) else {
        // Not a Graph error body (a proxy page, an empty 5xx): the generic rules apply.
        return None;
    };
    if err.is_throttling() {
        let u = usage(&resp.headers);
        let named = u.blocked_for.or(u.reset.filter(|r| !r.is_zero()));
        let why = format!("Meta throttled the request: {}", err.describe());
        return Some(match named {
            Some(wait) if wait > SHORT_WAIT => Verdict::Fail(ConnectorError::Quota {
                endpoint,
                until: now
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::minutes(60)),
                message: err.describe(),
            }),
            Some(wait) => Verdict::Retry {
                wait: Some(wait),
                why,
                throttled: true,
            },
            None => Verdict::Retry {
                wait: Some(UNNAMED_THROTTLE_WAIT),
                why,
                throttled: true,
            },
        });
    }
    match err.code {
        Some(190) | Some(102) => {
            return Some(Verdict::Fail(ConnectorError::Auth {
                endpoint,
                status,
                message: format!(
                    "{} — the access token is invalid, expired or revoked: generate a new system user token (Business Settings > Users > System users > Generate new token, with ads_read) and update access_token",
                    err.describe()
                ),
            }))
        }
        Some(10) | Some(200..=299) => {
            return Some(Verdict::Fail(ConnectorError::Auth {
                endpoint,
                status,
                message: format!(
                    "{} — the token lacks a permission: give the system user ads_read and assign it to the ad account (Business Settings > Ad accounts > Assign people)",
                    err.describe()
                ),
            }))
        }
        _ => {}
    }
    let transient_code = matches!(err.code, Some(1 | 2))
        && !matches!(err.error_subcode, Some(1_504_041 | 1_504_042));
    if err.is_transient == Some(true) || transient_code || status >= 500 {
        return Some(Verdict::Retry {
            wait: None,
            why: format!("Meta reported a temporary error: {}", err.describe()),
            throttled: false,
        });
    }
    let mut message = err.describe();
    if err.is_insights_timeout() {
        message.push_str(" — the query was too large for a direct request; lower async_after_days so such ranges use report runs");
    }
    if message.is_empty() {
        message = error_excerpt(&resp.body);
    }
    Some(Verdict::Fail(ConnectorError::Permanent {
        endpoint,
        status,
        message,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use okno_connector::reqwest::header::HeaderValue;
    use okno_connector::reqwest::StatusCode;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn resp(status: u16, pairs: &[(&'static str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: headers(pairs),
            body: body.as_bytes().to_vec(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn reads_the_highest_percentage_of_every_header() {
        let u = usage(&headers(&[
            (
                "x-business-use-case-usage",
                r#"{"1234":[{"type":"ads_insights","call_count":12,"total_cputime":80,"total_time":3,"estimated_time_to_regain_access":0},{"type":"ads_management","call_count":"5"}]}"#,
            ),
            (
                "x-ad-account-usage",
                r#"{"acc_id_util_pct":9.67,"reset_time_duration":100,"ads_api_access_tier":"standard_access"}"#,
            ),
            (
                "x-fb-ads-insights-throttle",
                r#"{"app_id_util_pct":40,"acc_id_util_pct":77.5}"#,
            ),
        ]));
        assert_eq!(u.max_pct, 80.0);
        assert_eq!(u.blocked_for, None);
        assert_eq!(u.reset, Some(Duration::from_secs(100)));
        // 80 % is a fifth of the way from 75 to 100: a fifth of the longest pause.
        assert_eq!(u.pause(), Some(Duration::from_secs(12)));
        assert_eq!(usage(&HeaderMap::new()).pause(), None);
        assert_eq!(usage(&headers(&[("x-app-usage", "garbage")])).pause(), None);
    }

    #[test]
    fn a_regain_estimate_is_minutes_and_a_full_account_waits_for_its_reset() {
        let u = usage(&headers(&[(
            "x-business-use-case-usage",
            r#"{"1":[{"type":"ads_insights","call_count":100,"total_cputime":10,"total_time":10,"estimated_time_to_regain_access":7}]}"#,
        )]));
        assert_eq!(u.blocked_for, Some(Duration::from_secs(420)));
        assert_eq!(u.pause(), Some(Duration::from_secs(420)));
        let u = usage(&headers(&[(
            "x-ad-account-usage",
            r#"{"acc_id_util_pct":100,"reset_time_duration":45}"#,
        )]));
        assert_eq!(u.blocked_for, Some(Duration::from_secs(45)));
    }

    #[test]
    fn a_long_block_is_a_quota_until_the_named_time() {
        let r = resp(
            400,
            &[(
                "x-business-use-case-usage",
                r#"{"9":[{"type":"ads_management","call_count":100,"total_cputime":4,"total_time":4,"estimated_time_to_regain_access":25}]}"#,
            )],
            r#"{"error":{"message":"User request limit reached","type":"OAuthException","code":17,"error_subcode":2446079,"fbtrace_id":"AbC"}}"#,
        );
        match classify(&r, "x", now()) {
            Some(Verdict::Fail(ConnectorError::Quota { until, message, .. })) => {
                assert_eq!(until, now() + chrono::Duration::minutes(25));
                assert!(message.contains("code 17"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_short_or_unnamed_block_is_waited_out() {
        let r = resp(
            400,
            &[(
                "x-ad-account-usage",
                r#"{"acc_id_util_pct":100,"reset_time_duration":30}"#,
            )],
            r#"{"error":{"message":"There have been too many calls from this ad-account.","code":613,"error_subcode":1487742}}"#,
        );
        assert!(matches!(
            classify(&r, "x", now()),
            Some(Verdict::Retry { wait: Some(w), throttled: true, .. }) if w == Duration::from_secs(30)
        ));
        let r = resp(400, &[], r#"{"error":{"message":"x","code":80000}}"#);
        assert!(matches!(
            classify(&r, "x", now()),
            Some(Verdict::Retry { wait: Some(w), .. }) if w == UNNAMED_THROTTLE_WAIT
        ));
    }

    #[test]
    fn tokens_permissions_and_other_errors_are_told_apart() {
        let r = resp(
            400,
            &[],
            r#"{"error":{"message":"Error validating access token: Session has expired.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"T"}}"#,
        );
        assert!(matches!(
            classify(&r, "x", now()),
            Some(Verdict::Fail(ConnectorError::Auth { status: 400, message, .. })) if message.contains("System users")
        ));
        let r = resp(
            400,
            &[],
            r#"{"error":{"message":"Unsupported get request.","type":"GraphMethodException","code":100,"error_subcode":33}}"#,
        );
        assert!(matches!(
            classify(&r, "x", now()),
            Some(Verdict::Fail(ConnectorError::Permanent { status: 400, message, .. })) if message.contains("Unsupported get request") && message.contains("subcode 33")
        ));
        let r = resp(
            500,
            &[],
            r#"{"error":{"message":"An unexpected error has occurred.","code":2,"is_transient":true}}"#,
        );
        assert!(matches!(
            classify(&r, "x", now()),
            Some(Verdict::Retry {
                throttled: false,
                ..
            })
        ));
        assert!(classify(&resp(502, &[], "<html>bad gateway</html>"), "x", now()).is_none());
        assert!(classify(&resp(200, &[], r#"{"data":[]}"#), "x", now()).is_none());
    }
}
