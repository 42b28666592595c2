//! serde mirrors of the Zoho JSON envelopes we read. Records themselves are read field by field
//! from their raw text (see [`crate::normalize`]), so `raw` stays exactly what Zoho sent and
//! numbers never pass through `f64`. Unknown keys are ignored everywhere; every key that Zoho's
//! samples show as nullable is optional here.

use serde::Deserialize;
use serde_json::value::RawValue;

/// A page of `GET /{Module}`, `GET /{Module}/deleted` or `GET /{Module}?ids=`.
#[derive(Deserialize)]
pub(crate) struct RecordPage<'a> {
    #[serde(borrow, default)]
    pub data: Vec<&'a RawValue>,
    #[serde(default)]
    pub info: Option<Info>,
}

/// `GET /users`.
#[derive(Deserialize)]
pub(crate) struct UserPage<'a> {
    #[serde(borrow, default)]
    pub users: Vec<&'a RawValue>,
    #[serde(default)]
    pub info: Option<Info>,
}

/// The `info` block of list answers. `next_page_token` is nullable (and null on the last page in
/// Zoho's samples); the deleted-records and users lists have no page tokens at all.
#[derive(Deserialize, Default)]
pub(crate) struct Info {
    #[serde(default)]
    pub more_records: Option<bool>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// One entry of `GET /{Module}/deleted`.
#[derive(Deserialize)]
pub(crate) struct DeletedEntry {
    pub id: serde_json::Value,
    pub deleted_time: Option<String>,
}

/// One user of `GET /users`. Note Zoho's mixed case: `Modified_Time` but `created_time`.
#[derive(Deserialize)]
pub(crate) struct User {
    pub id: serde_json::Value,
    pub full_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub status: Option<String>,
    pub role: Option<Named>,
    #[serde(rename = "Modified_Time")]
    pub modified_time: Option<String>,
    pub created_time: Option<String>,
}

/// A `{name, id}` reference.
#[derive(Deserialize)]
pub(crate) struct Named {
    pub name: Option<String>,
}

/// `GET /org`.
#[derive(Deserialize)]
pub(crate) struct OrgEnvelope {
    #[serde(default)]
    pub org: Vec<Org>,
}

#[derive(Deserialize)]
pub(crate) struct Org {
    pub id: Option<serde_json::Value>,
    pub company_name: Option<String>,
    /// The home currency's ISO code (`currency` is a label such as "Euro - EUR").
    pub iso_code: Option<String>,
    pub currency: Option<String>,
    /// IANA name, e.g. `Europe/Berlin`.
    pub time_zone: Option<String>,
}

/// `GET /settings/fields?module=X`.
#[derive(Deserialize)]
pub(crate) struct FieldsEnvelope {
    #[serde(default)]
    pub fields: Vec<FieldMeta>,
}

#[derive(Deserialize)]
pub(crate) struct FieldMeta {
    pub api_name: String,
    #[serde(default)]
    pub pick_list_values: Option<Vec<PickListValue>>,
}

/// One picklist value. For the Deals `Stage` field Zoho adds the stage's forecast type
/// (`Open`, `Closed Won`, `Closed Lost`) and `deal_category` (same values).
#[derive(Deserialize)]
pub(crate) struct PickListValue {
    pub display_value: Option<String>,
    pub actual_value: Option<String>,
    pub reference_value: Option<String>,
    pub forecast_type: Option<String>,
    pub deal_category: Option<String>,
}

/// Zoho's error envelope: `{"code","details","message","status":"error"}`.
#[derive(Deserialize)]
pub(crate) struct ApiError {
    pub code: Option<String>,
}

/// The token endpoint's answer; errors come with HTTP 200 and an `error` key.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub api_domain: Option<String>,
    pub expires_in: Option<serde_json::Value>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// `GET /actions/watch`.
#[derive(Deserialize)]
pub(crate) struct WatchList {
    #[serde(default)]
    pub watch: Vec<WatchEntry>,
    #[serde(default)]
    pub info: Option<Info>,
}

#[derive(Deserialize)]
pub(crate) struct WatchEntry {
    pub channel_id: Option<serde_json::Value>,
    pub channel_expiry: Option<String>,
    pub resource_name: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<String>>,
    pub notify_url: Option<String>,
    pub token: Option<String>,
    pub notify_on_related_action: Option<bool>,
}

/// The answer to `POST`/`PATCH /actions/watch`.
#[derive(Deserialize)]
pub(crate) struct WatchResult {
    #[serde(default)]
    pub watch: Vec<WatchOutcome>,
}

#[derive(Deserialize)]
pub(crate) struct WatchOutcome {
    pub code: Option<String>,
    pub message: Option<String>,
    pub details: Option<WatchDetails>,
}

#[derive(Deserialize)]
pub(crate) struct WatchDetails {
    #[serde(default)]
    pub events: Vec<WatchEvent>,
}

#[derive(Deserialize)]
pub(crate) struct WatchEvent {
    pub channel_expiry: Option<String>,
    pub resource_name: Option<String>,
}

/// What Zoho POSTs to `notify_url`.
#[derive(Deserialize)]
pub(crate) struct Notification {
    pub module: Option<String>,
    #[serde(default)]
    pub ids: Option<Vec<serde_json::Value>>,
    pub operation: Option<String>,
    /// Epoch milliseconds.
    pub server_time: Option<serde_json::Value>,
    pub channel_id: Option<serde_json::Value>,
}

/// Ids come as JSON strings (19 digits); accept numbers too, never emit them as numbers.
pub(crate) fn id_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
