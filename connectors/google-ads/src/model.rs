//! serde mirrors of the Google Ads REST JSON this connector reads, and the exact number
//! conversions. The REST interface is proto3 JSON: field names are lowerCamelCase, int64 values
//! (ids, `costMicros`, `impressions`, `clicks`) arrive as JSON **strings**, doubles
//! (`conversions`) as JSON numbers, enums as their names. Numbers are read from their JSON text,
//! never through `f64`. Unknown fields are ignored.

use std::borrow::Cow;
use std::time::Duration;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

/// One message of a `googleAds:searchStream` answer (the body is a JSON array of them). A
/// stream that fails after it started carries the failure as an element with `error`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Batch<'a> {
    #[serde(borrow, default)]
    pub results: Vec<&'a RawValue>,
    #[serde(borrow, default)]
    pub error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(crate) struct CustomerRow<'a> {
    #[serde(borrow)]
    pub customer: Customer<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Customer<'a> {
    #[serde(borrow, default)]
    pub id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub descriptive_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub currency_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub time_zone: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(crate) struct CampaignRow<'a> {
    #[serde(borrow)]
    pub campaign: CampaignFields<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CampaignFields<'a> {
    #[serde(borrow)]
    pub id: &'a RawValue,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub tracking_url_template: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub final_url_suffix: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(crate) struct CampaignId<'a> {
    #[serde(borrow)]
    pub id: &'a RawValue,
}

#[derive(Deserialize)]
pub(crate) struct Segments<'a> {
    #[serde(borrow)]
    pub date: Cow<'a, str>,
}

#[derive(Deserialize)]
pub(crate) struct SpendRow<'a> {
    #[serde(borrow)]
    pub campaign: CampaignId<'a>,
    #[serde(borrow)]
    pub segments: Segments<'a>,
    #[serde(borrow, default)]
    pub metrics: Option<Metrics<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Metrics<'a> {
    #[serde(borrow, default)]
    pub cost_micros: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub impressions: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub clicks: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub conversions: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClickRow<'a> {
    #[serde(borrow, default)]
    pub click_view: Option<ClickView<'a>>,
    #[serde(borrow)]
    pub campaign: CampaignId<'a>,
    #[serde(borrow)]
    pub segments: Segments<'a>,
}

#[derive(Deserialize)]
pub(crate) struct ClickView<'a> {
    #[serde(borrow, default)]
    pub gclid: Option<Cow<'a, str>>,
}

/// The text of a scalar JSON value: a string's content, or a number as written.
fn scalar_text(raw: &RawValue) -> &str {
    let t = raw.get().trim();
    t.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(t)
}

/// An int64 as proto3 JSON writes it (a string) or as a plain number.
pub(crate) fn int64(raw: &RawValue) -> Result<i64, String> {
    let t = scalar_text(raw);
    t.parse::<i64>()
        .map_err(|_| format!("{} is not an int64", raw.get()))
}

/// An id (int64) as text, digits only.
pub(crate) fn id_text(raw: &RawValue) -> Result<String, String> {
    let t = scalar_text(raw);
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        Ok(t.to_string())
    } else {
        Err(format!("{} is not an id", raw.get()))
    }
}

/// Micros (millionths of the currency unit) as an exact decimal: `1234567` is `1.234567`.
pub(crate) fn micros(v: i64) -> Decimal {
    Decimal::new(v, 6).normalize()
}

/// A proto3 JSON double as the exact decimal of its text (`2.5`, `"2.5"`, `1e-3`). `Ok(None)`
/// for `NaN` and the infinities, which proto3 JSON writes as strings.
pub(crate) fn double(raw: &RawValue) -> Result<Option<Decimal>, String> {
    let t = scalar_text(raw);
    if matches!(t, "NaN" | "Infinity" | "-Infinity") {
        return Ok(None);
    }
    let parsed = if t.contains(['e', 'E']) {
        Decimal::from_scientific(t)
    } else {
        t.parse::<Decimal>()
    };
    parsed
        .map(|d| Some(d.normalize()))
        .map_err(|_| format!("{} is not a number", raw.get()))
}

/// A `segments.date` (`YYYY-MM-DD`).
pub(crate) fn date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("{s:?} is not a date"))
}

/// A protobuf `Duration` in JSON: seconds with an `s` suffix, optionally fractional (`"40591s"`,
/// `"1.5s"`).
pub(crate) fn duration(s: &str) -> Option<Duration> {
    let secs = s.trim().strip_suffix('s')?;
    let (whole, frac) = secs.split_once('.').unwrap_or((secs, ""));
    let whole: u64 = whole.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos: u32 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(Duration::new(whole, nanos))
}

// ---------------------------------------------------------------------------------------------
// failures

/// `google.rpc.Status` as the REST interface sends it, at the top level (`{"error": {...}}`) or
/// as an element of a searchStream array (`[{"error": {...}}]`).
#[derive(Deserialize)]
struct Envelope {
    error: Option<Status>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdsFailure {
    #[serde(default)]
    errors: Vec<AdsError>,
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdsError {
    /// A one-of: `{"quotaError": "RESOURCE_EXHAUSTED"}`.
    #[serde(default)]
    error_code: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Option<ErrorDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDetails {
    #[serde(default)]
    quota_error_details: Option<QuotaErrorDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QuotaErrorDetails {
    #[serde(default)]
    rate_scope: Option<String>,
    #[serde(default)]
    rate_name: Option<String>,
    #[serde(default)]
    retry_delay: Option<String>,
}

/// One `GoogleAdsError`: `kind` is the one-of's name (`quotaError`), `code` its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailureError {
    pub kind: String,
    pub code: String,
    pub message: Option<String>,
}

/// What a failed request said, in the parts that decide what to do next.
#[derive(Debug, Clone, Default)]
pub(crate) struct Failure {
    /// `google.rpc.Code` name (`RESOURCE_EXHAUSTED`, `PERMISSION_DENIED`...).
    pub status: Option<String>,
    pub message: Option<String>,
    pub errors: Vec<FailureError>,
    pub request_id: Option<String>,
    pub retry_delay: Option<Duration>,
    pub rate_scope: Option<String>,
    pub rate_name: Option<String>,
}

impl Failure {
    /// Reads a failure body; `None` when the body is not a `google.rpc.Status`.
    pub(crate) fn parse(body: &[u8]) -> Option<Failure> {
        // Checked by its first byte: serde would read a struct from an array's elements.
        let array = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        let status = if array {
            let list: Vec<Envelope> = serde_json::from_slice(body).ok()?;
            list.into_iter().find_map(|e| e.error)?
        } else {
            serde_json::from_slice::<Envelope>(body).ok()?.error?
        };
        Some(Failure::from_status(status))
    }

    /// Reads the `error` element of a searchStream array.
    pub(crate) fn from_raw_status(raw: &RawValue) -> Option<Failure> {
        serde_json::from_str::<Status>(raw.get())
            .ok()
            .map(Failure::from_status)
    }

    fn from_status(status: Status) -> Failure {
        let mut out = Failure {
            status: status.status,
            message: status.message,
            ..Failure::default()
        };
        for detail in status.details {
            let is_ads = detail
                .get("@type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.ends_with(".GoogleAdsFailure"));
            if !is_ads {
                continue;
            }
            let Ok(failure) = serde_json::from_value::<AdsFailure>(detail) else {
                continue;
            };
            if out.request_id.is_none() {
                out.request_id = failure.request_id;
            }
            for e in failure.errors {
                if let Some(q) = e.details.and_then(|d| d.quota_error_details) {
                    if out.retry_delay.is_none() {
                        out.retry_delay = q.retry_delay.as_deref().and_then(duration);
                    }
                    out.rate_scope = out.rate_scope.or(q.rate_scope);
                    out.rate_name = out.rate_name.or(q.rate_name);
                }
                for (kind, code) in e.error_code {
                    let code = match code {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    out.errors.push(FailureError {
                        kind,
                        code,
                        message: e.message.clone(),
                    });
                }
            }
        }
        out
    }

    /// Whether an error of this kind and code is among the failure's errors.
    pub(crate) fn has(&self, kind: &str, code: &str) -> bool {
        self.errors.iter().any(|e| e.kind == kind && e.code == code)
    }

    pub(crate) fn has_kind(&self, kind: &str) -> bool {
        self.errors.iter().any(|e| e.kind == kind)
    }

    /// One line for the operator: every error code with its message, the quota bucket, and the
    /// request id Google support asks for.
    pub(crate) fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .errors
            .iter()
            .map(|e| match &e.message {
                Some(m) => format!("{}.{}: {m}", e.kind, e.code),
                None => format!("{}.{}", e.kind, e.code),
            })
            .collect();
        if parts.is_empty() {
            parts.push(match (&self.status, &self.message) {
                (Some(s), Some(m)) => format!("{s}: {m}"),
                (Some(s), None) => s.clone(),
                (None, Some(m)) => m.clone(),
                (None, None) => "no details".to_string(),
            });
        }
        let mut line = parts.join("; ");
        if let Some(name) = &self.rate_name {
            line.push_str(&format!(" [quota: {name}"));
            if let Some(scope) = &self.rate_scope {
                line.push_str(&format!(", scope {scope}"));
            }
            line.push(']');
        }
        if let Some(id) = &self.request_id {
            line.push_str(&format!(" (request id {id})"));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use okno_connector::testkit::raw_json as raw;

    #[test]
    fn int64_and_ids_read_strings_and_numbers() {
        assert_eq!(int64(&raw("\"1234567\"")), Ok(1_234_567));
        assert_eq!(int64(&raw("42")), Ok(42));
        assert!(int64(&raw("\"1.5\"")).is_err());
        assert_eq!(id_text(&raw("\"9876543210\"")).unwrap(), "9876543210");
        assert!(id_text(&raw("\"-1\"")).is_err());
    }

    #[test]
    fn micros_and_doubles_are_exact() {
        assert_eq!(micros(1_234_567).to_string(), "1.234567");
        assert_eq!(micros(990_000).to_string(), "0.99");
        assert_eq!(micros(0), Decimal::ZERO);
        // 0.1 + 0.2 style values stay as written, never through f64.
        assert_eq!(
            double(&raw("0.30000000000000004"))
                .unwrap()
                .unwrap()
                .to_string(),
            "0.30000000000000004"
        );
        assert_eq!(double(&raw("\"2.5\"")).unwrap().unwrap().to_string(), "2.5");
        assert_eq!(double(&raw("1e-3")).unwrap().unwrap().to_string(), "0.001");
        assert_eq!(double(&raw("\"NaN\"")).unwrap(), None);
        assert!(double(&raw("\"many\"")).is_err());
    }

    #[test]
    fn durations_read_protobuf_json() {
        assert_eq!(duration("40591s"), Some(Duration::from_secs(40591)));
        assert_eq!(duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(duration("soon"), None);
    }
}
