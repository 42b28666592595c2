//! Serde mirrors of the VK Ads JSON this connector reads, tolerant of unknown fields. Numbers
//! arrive as JSON numbers or as strings (the API's documented representation of integers and
//! decimals is a string: `"123"`, `"1.23"`), so every number is kept as its raw text and parsed
//! exactly in `normalize`.

use serde::Deserialize;
use serde_json::value::RawValue;

/// `POST /api/v2/oauth2/token.json`. `expires_in` is `"86400"` in the client-credentials
/// example and `86400` in the authorisation-code one; `tokens_left` is sent by some answers.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: Option<String>,
    pub(crate) token_type: Option<String>,
    pub(crate) expires_in: Option<Box<RawValue>>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) tokens_left: Option<Box<RawValue>>,
}

/// `GET /api/v2/user.json?fields=id,username,additional_info,account`.
#[derive(Deserialize)]
pub(crate) struct User {
    pub(crate) id: Option<Box<RawValue>>,
    pub(crate) username: Option<String>,
    pub(crate) additional_info: Option<AdditionalInfo>,
    pub(crate) account: Option<Account>,
    /// Some answers carry the currency on the user itself.
    pub(crate) currency: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct AdditionalInfo {
    pub(crate) client_name: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Account {
    pub(crate) currency: Option<String>,
}

/// A collection page: `{count, offset, limit, items}`.
#[derive(Deserialize)]
pub(crate) struct ListPage {
    pub(crate) count: Option<Box<RawValue>>,
    #[serde(default)]
    pub(crate) items: Vec<Box<RawValue>>,
}

/// One ad plan or campaign as listed with `fields=id,name,status`.
#[derive(Deserialize)]
pub(crate) struct ListItem {
    pub(crate) id: Box<RawValue>,
    pub(crate) name: Option<String>,
    pub(crate) status: Option<String>,
}

/// `GET /api/v2/statistics/{ad_plans|campaigns}/day.json`: `{items: [{id, rows, total}]}`.
#[derive(Deserialize)]
pub(crate) struct StatsPage {
    #[serde(default)]
    pub(crate) items: Vec<StatItem>,
}

#[derive(Deserialize)]
pub(crate) struct StatItem {
    pub(crate) id: Box<RawValue>,
    /// Kept raw: each row is the vendor's row of an `AdSpend`.
    #[serde(default)]
    pub(crate) rows: Option<Vec<Box<RawValue>>>,
}

/// One day of one object: `{date, base: {shows, clicks, goals, spent, ...}, ...}`.
#[derive(Deserialize)]
pub(crate) struct StatRow {
    pub(crate) date: String,
    pub(crate) base: Option<Base>,
}

#[derive(Deserialize)]
pub(crate) struct Base {
    pub(crate) shows: Option<Box<RawValue>>,
    pub(crate) clicks: Option<Box<RawValue>>,
    pub(crate) goals: Option<Box<RawValue>>,
    pub(crate) spent: Option<Box<RawValue>>,
    /// Goals counted by VK's own pixel/events, seen in newer answers as `base.vk.goals`.
    pub(crate) vk: Option<VkBase>,
}

#[derive(Deserialize)]
pub(crate) struct VkBase {
    pub(crate) goals: Option<Box<RawValue>>,
}

/// What an error body says, whichever of the API's shapes it has:
/// `{"error": {"code", "message"}}` (statistics, resources), `{"code", "message"}` (401s),
/// or OAuth's `{"error": "token_limit_exceeded", "error_description": ...}` (token endpoint).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct VendorError {
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
}

impl VendorError {
    pub(crate) fn parse(body: &[u8]) -> VendorError {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return VendorError::default();
        };
        let text = |v: Option<&serde_json::Value>| -> Option<String> {
            match v? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        match v.get("error") {
            Some(serde_json::Value::Object(o)) => VendorError {
                code: text(o.get("code")),
                message: text(o.get("message")).or_else(|| text(o.get("description"))),
            },
            Some(serde_json::Value::String(code)) => VendorError {
                code: Some(code.clone()),
                message: text(v.get("error_description")).or_else(|| text(v.get("message"))),
            },
            _ => VendorError {
                code: text(v.get("code")),
                message: text(v.get("message")),
            },
        }
    }

    /// `CODE: message`, or whichever part is there.
    pub(crate) fn describe(&self) -> Option<String> {
        match (&self.code, &self.message) {
            (Some(c), Some(m)) => Some(format!("{c}: {m}")),
            (Some(c), None) => Some(c.clone()),
            (None, Some(m)) => Some(m.clone()),
            (None, None) => None,
        }
    }

    pub(crate) fn code_is(&self, code: &str) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_every_shape_are_read() {
        let e =
            VendorError::parse(br#"{"error": {"code": "ERR_WRONG_DATE", "message": "bad date"}}"#);
        assert_eq!(e.describe().as_deref(), Some("ERR_WRONG_DATE: bad date"));
        let e = VendorError::parse(
            br#"{"code": "expired_token", "message": "Access token is expired"}"#,
        );
        assert!(e.code_is("expired_token"));
        let e = VendorError::parse(
            br#"{"error": "token_limit_exceeded", "error_description": "too many"}"#,
        );
        assert_eq!(
            e.describe().as_deref(),
            Some("token_limit_exceeded: too many")
        );
        assert_eq!(VendorError::parse(b"<html>"), VendorError::default());
    }
}
