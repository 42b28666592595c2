//! Serde mirrors of the Direct API v5 JSON this connector reads, tolerant of unknown fields.

use serde::Deserialize;
use serde_json::value::RawValue;

/// `{"result": ...}` of every JSON service.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope<T> {
    pub(crate) result: T,
}

/// `{"error": {...}}`, in 200 answers of the JSON services and in 4xx answers of Reports.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub(crate) error: VendorError,
}

#[derive(Debug, Deserialize)]
pub(crate) struct VendorError {
    /// An int per the documentation; a numeric string is accepted too.
    #[serde(default)]
    pub(crate) error_code: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) request_id: Option<String>,
    #[serde(default)]
    pub(crate) error_string: Option<String>,
    #[serde(default)]
    pub(crate) error_detail: Option<String>,
}

impl VendorError {
    pub(crate) fn code(&self) -> Option<i64> {
        match self.error_code.as_ref()? {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// `error 152 Not enough units: ... (request 8861...)`
    pub(crate) fn describe(&self) -> String {
        let mut out = match self.code() {
            Some(c) => format!("error {c}"),
            None => "error".to_string(),
        };
        if let Some(s) = self.error_string.as_deref().filter(|s| !s.is_empty()) {
            out.push(' ');
            out.push_str(s);
        }
        if let Some(d) = self.error_detail.as_deref().filter(|s| !s.is_empty()) {
            out.push_str(": ");
            out.push_str(d);
        }
        if let Some(r) = self.request_id.as_deref().filter(|s| !s.is_empty()) {
            out.push_str(&format!(" (request {r})"));
        }
        out
    }
}

/// `Clients.get` result.
#[derive(Debug, Deserialize)]
pub(crate) struct ClientsResult {
    #[serde(rename = "Clients", default)]
    pub(crate) clients: Vec<Box<RawValue>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Client {
    #[serde(rename = "Login")]
    pub(crate) login: String,
    #[serde(rename = "Currency")]
    pub(crate) currency: Option<String>,
    #[serde(rename = "ClientInfo")]
    pub(crate) client_info: Option<String>,
}

/// `Campaigns.get` result.
#[derive(Debug, Deserialize)]
pub(crate) struct CampaignsResult {
    #[serde(rename = "Campaigns", default)]
    pub(crate) campaigns: Vec<Box<RawValue>>,
    /// The number of the last object returned when more remain: the next `Offset`.
    #[serde(rename = "LimitedBy")]
    pub(crate) limited_by: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CampaignItem {
    #[serde(rename = "Id")]
    pub(crate) id: i64,
    #[serde(rename = "Name", default)]
    pub(crate) name: Option<String>,
    #[serde(rename = "State", default)]
    pub(crate) state: Option<String>,
    #[serde(rename = "TimeZone", default)]
    pub(crate) time_zone: Option<String>,
}

/// `Changes.checkDictionaries` result (only the server time is used).
#[derive(Debug, Deserialize)]
pub(crate) struct TimestampResult {
    #[serde(rename = "Timestamp")]
    pub(crate) timestamp: String,
}

/// `Changes.check` result.
#[derive(Debug, Deserialize)]
pub(crate) struct CheckResult {
    #[serde(rename = "Modified", default)]
    pub(crate) modified: Option<CheckModified>,
    #[serde(rename = "Unprocessed", default)]
    pub(crate) unprocessed: Option<CheckIds>,
    #[serde(rename = "Timestamp")]
    pub(crate) timestamp: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CheckModified {
    #[serde(rename = "CampaignsStat", default)]
    pub(crate) campaigns_stat: Vec<CampaignStatItem>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CheckIds {
    #[serde(rename = "CampaignIds", default)]
    pub(crate) campaign_ids: Vec<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CampaignStatItem {
    #[serde(rename = "CampaignId")]
    pub(crate) campaign_id: i64,
    #[serde(rename = "BorderDate")]
    pub(crate) border_date: String,
}
