//! `[connector.settings]` of a Google Ads instance. Parsing does no I/O and reports every
//! problem at once, each with its key and a hint.

use okno_connector::settings::parse;
use okno_connector::spend::Window;
use okno_connector::{ExposeSecret, SecretString, SettingSpec, SettingsError};
use serde::Deserialize;
use url::Url;

/// The Google Ads API version used unless `api_version` says otherwise (v26, released
/// 2026-10-14, is the latest major version at the time of writing).
pub const DEFAULT_API_VERSION: &str = "v26";
/// Where the REST interface lives.
pub const DEFAULT_API_BASE: &str = "https://googleads.googleapis.com";
/// Google's OAuth 2.0 token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Days re-pulled by every spend pass: Google restates roughly the last 30 days.
pub const DEFAULT_LOOKBACK_DAYS: u32 = 30;
/// Days one spend request (one page) covers.
pub const SPEND_SLICE_DAYS: u32 = 31;
/// Days re-read by every clicks pass (click ids of recent days still arrive late).
pub const DEFAULT_CLICK_LOOKBACK_DAYS: u32 = 3;
/// `click_view` serves the last 90 days; okno asks for at most this many days back from the
/// account's today (one day of margin against the two clocks disagreeing on "today").
pub const CLICK_VIEW_MAX_DAYS_BACK: u32 = 88;

pub(crate) const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: "customer_ids",
        doc: "the Google Ads accounts (customer ids) to pull; `123-456-7890` or `1234567890`",
        required: true,
        secret: false,
        example: "[\"123-456-7890\"]",
    },
    SettingSpec {
        name: "developer_token",
        doc: "the developer token of your Google Ads manager account (API Center); sent as the `developer-token` header",
        required: true,
        secret: true,
        example: "\"${GOOGLE_ADS_DEVELOPER_TOKEN}\"",
    },
    SettingSpec {
        name: "client_id",
        doc: "the OAuth 2.0 client id (Google Cloud console > APIs & Services > Credentials)",
        required: true,
        secret: false,
        example: "\"1234567890-abc.apps.googleusercontent.com\"",
    },
    SettingSpec {
        name: "client_secret",
        doc: "the OAuth 2.0 client secret of `client_id`",
        required: true,
        secret: true,
        example: "\"${GOOGLE_ADS_CLIENT_SECRET}\"",
    },
    SettingSpec {
        name: "refresh_token",
        doc: "a refresh token of a Google user with access to the accounts, for scope https://www.googleapis.com/auth/adwords; seeds the token store on first use",
        required: true,
        secret: true,
        example: "\"${GOOGLE_ADS_REFRESH_TOKEN}\"",
    },
    SettingSpec {
        name: "login_customer_id",
        doc: "the manager account (MCC) through which the user reaches the accounts, sent as `login-customer-id`; leave out for direct access",
        required: false,
        secret: false,
        example: "\"987-654-3210\"",
    },
    SettingSpec {
        name: "lookback_days",
        doc: "days before today (today included) of spend re-pulled on every run, because Google restates them (1-365, default 30)",
        required: false,
        secret: false,
        example: "30",
    },
    SettingSpec {
        name: "click_lookback_days",
        doc: "days of click ids (gclid) re-read on every run (1-88, default 3); click_view serves only the last 90 days",
        required: false,
        secret: false,
        example: "3",
    },
    SettingSpec {
        name: "channel",
        doc: "the channel campaigns are grouped under in figures (default `google_ads`)",
        required: false,
        secret: false,
        example: "\"google_ads\"",
    },
    SettingSpec {
        name: "api_version",
        doc: "the Google Ads API version in request paths (default v26); raise it when Google sunsets the default",
        required: false,
        secret: false,
        example: "\"v26\"",
    },
];

#[derive(Deserialize)]
struct Raw {
    customer_ids: Option<Vec<serde_json::Value>>,
    developer_token: Option<SecretString>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    refresh_token: Option<SecretString>,
    login_customer_id: Option<serde_json::Value>,
    // Read by `Window::from_settings` from the whole table; listed so they count as known.
    #[allow(dead_code)]
    lookback_days: Option<serde_json::Value>,
    click_lookback_days: Option<serde_json::Value>,
    channel: Option<String>,
    api_version: Option<String>,
}

/// Validated settings.
#[derive(Clone)]
pub struct Settings {
    /// Customer ids, digits only, in configured order, without duplicates.
    pub(crate) customer_ids: Vec<String>,
    pub(crate) developer_token: SecretString,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) refresh_token: SecretString,
    /// Digits only.
    pub(crate) login_customer_id: Option<String>,
    pub(crate) spend_window: Window,
    pub(crate) click_window: Window,
    pub(crate) channel: String,
    pub(crate) api_version: String,
    /// `https://googleads.googleapis.com` or the `base_url` override, without a trailing slash.
    pub(crate) api_base: String,
    /// Google's token endpoint, or `{base_url}/token` when `base_url` is set.
    pub(crate) token_url: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("customer_ids", &self.customer_ids)
            .field("login_customer_id", &self.login_customer_id)
            .field("api_version", &self.api_version)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

/// A customer id as digits: `123-456-7890`, `123 456 7890` and `1234567890` are one id.
pub(crate) fn customer_id_digits(v: &serde_json::Value) -> Result<String, String> {
    let text = match v {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Number(n) if n.is_u64() => n.to_string(),
        other => return Err(format!("{other} is not a customer id")),
    };
    let digits: String = text.chars().filter(|c| *c != '-' && *c != ' ').collect();
    if digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(format!("{text:?} is not a customer id"))
    }
}

fn required_secret(
    value: Option<SecretString>,
    key: &str,
    hint: &str,
    errors: &mut Vec<SettingsError>,
) -> Option<SecretString> {
    match value {
        Some(s) if !s.expose_secret().trim().is_empty() => Some(s),
        Some(_) => {
            errors.push(SettingsError::new(key, "is empty").hint(hint));
            None
        }
        None => {
            errors.push(SettingsError::new(key, "missing").hint(hint));
            None
        }
    }
}

fn is_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.splitn(2, '_');
    let major_ok = parts
        .next()
        .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
    let minor_ok = parts
        .next()
        .is_none_or(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
    major_ok && minor_ok
}

impl Settings {
    pub(crate) fn parse(
        value: &serde_json::Value,
        base_url: Option<&Url>,
        kind: &str,
    ) -> Result<Settings, Vec<SettingsError>> {
        let known: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let raw: Raw = parse(value, &known)?;
        let mut errors = Vec::new();

        let mut customer_ids = Vec::new();
        match raw.customer_ids {
            None => errors.push(
                SettingsError::new("customer_ids", "missing")
                    .hint("list the accounts to pull: `customer_ids = [\"123-456-7890\"]`"),
            ),
            Some(list) if list.is_empty() => errors.push(
                SettingsError::new("customer_ids", "is empty")
                    .hint("list at least one account: `customer_ids = [\"123-456-7890\"]`"),
            ),
            Some(list) => {
                for (i, v) in list.iter().enumerate() {
                    match customer_id_digits(v) {
                        Ok(id) if customer_ids.contains(&id) => errors.push(
                            SettingsError::new(
                                format!("customer_ids[{i}]"),
                                format!("{id} is listed twice"),
                            )
                            .hint("list each account once"),
                        ),
                        Ok(id) => customer_ids.push(id),
                        Err(why) => errors.push(
                            SettingsError::new(format!("customer_ids[{i}]"), why).hint(
                                "a Google Ads customer id has 10 digits, shown as 123-456-7890 at the top of the Google Ads UI",
                            ),
                        ),
                    }
                }
            }
        }

        let developer_token = required_secret(
            raw.developer_token,
            "developer_token",
            "set `developer_token = \"${GOOGLE_ADS_DEVELOPER_TOKEN}\"` (Google Ads manager account > Admin > API Center)",
            &mut errors,
        );
        let client_secret = required_secret(
            raw.client_secret,
            "client_secret",
            "set `client_secret = \"${GOOGLE_ADS_CLIENT_SECRET}\"` (the OAuth client's secret)",
            &mut errors,
        );
        let refresh_token = required_secret(
            raw.refresh_token,
            "refresh_token",
            "set `refresh_token = \"${GOOGLE_ADS_REFRESH_TOKEN}\"`: a refresh token for scope https://www.googleapis.com/auth/adwords issued to client_id",
            &mut errors,
        );
        let client_id = match raw.client_id.map(|s| s.trim().to_string()) {
            Some(s) if !s.is_empty() => Some(s),
            _ => {
                errors.push(SettingsError::new("client_id", "missing").hint(
                    "the OAuth 2.0 client id, such as 1234567890-abc.apps.googleusercontent.com",
                ));
                None
            }
        };

        let login_customer_id = match raw.login_customer_id.as_ref() {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => match customer_id_digits(v) {
                Ok(id) => Some(id),
                Err(why) => {
                    errors.push(SettingsError::new("login_customer_id", why).hint(
                        "the 10-digit id of the manager account the user signs in through, e.g. 987-654-3210",
                    ));
                    None
                }
            },
        };

        let spend_window =
            Window::from_settings(value, DEFAULT_LOOKBACK_DAYS, SPEND_SLICE_DAYS, &mut errors);
        let click_lookback = match raw.click_lookback_days.as_ref() {
            None | Some(serde_json::Value::Null) => DEFAULT_CLICK_LOOKBACK_DAYS,
            Some(v) => match v.as_u64() {
                Some(n) if n >= 1 && n <= u64::from(CLICK_VIEW_MAX_DAYS_BACK) => n as u32,
                _ => {
                    errors.push(
                        SettingsError::new(
                            "click_lookback_days",
                            format!(
                                "{v} is not a number of days from 1 to {CLICK_VIEW_MAX_DAYS_BACK}"
                            ),
                        )
                        .hint("click_view only serves the last 90 days; 3 is the default"),
                    );
                    DEFAULT_CLICK_LOOKBACK_DAYS
                }
            },
        };
        let click_window = Window {
            lookback_days: click_lookback,
            slice_days: 1,
        };

        let channel = match raw.channel.map(|c| c.trim().to_string()) {
            None => kind.to_string(),
            Some(c) if c.is_empty() => {
                errors.push(
                    SettingsError::new("channel", "is empty")
                        .hint(format!("leave it out to use `{kind}`")),
                );
                kind.to_string()
            }
            Some(c) => c,
        };

        let api_version = match raw.api_version.map(|v| v.trim().to_ascii_lowercase()) {
            None => DEFAULT_API_VERSION.to_string(),
            Some(v) if is_version(&v) => v,
            Some(v) => {
                errors.push(
                    SettingsError::new("api_version", format!("{v:?} is not an API version")).hint(
                        format!(
                        "a version as it appears in request paths, such as {DEFAULT_API_VERSION}"
                    ),
                    ),
                );
                DEFAULT_API_VERSION.to_string()
            }
        };

        let (api_base, token_url) = match base_url {
            Some(u) => {
                let base = u.as_str().trim_end_matches('/').to_string();
                let token = format!("{base}/token");
                (base, token)
            }
            None => (DEFAULT_API_BASE.to_string(), DEFAULT_TOKEN_URL.to_string()),
        };

        match (developer_token, client_id, client_secret, refresh_token) {
            (Some(developer_token), Some(client_id), Some(client_secret), Some(refresh_token))
                if errors.is_empty() =>
            {
                Ok(Settings {
                    customer_ids,
                    developer_token,
                    client_id,
                    client_secret,
                    refresh_token,
                    login_customer_id,
                    spend_window,
                    click_window,
                    channel,
                    api_version,
                    api_base,
                    token_url,
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full() -> serde_json::Value {
        json!({
            "customer_ids": ["123-456-7890", 2345678901u64],
            "developer_token": "dev",
            "client_id": "id.apps.googleusercontent.com",
            "client_secret": "secret",
            "refresh_token": "1//refresh",
        })
    }

    #[test]
    fn customer_ids_are_stored_as_digits_and_defaults_apply() {
        let s = Settings::parse(&full(), None, "google_ads").unwrap();
        assert_eq!(s.customer_ids, ["1234567890", "2345678901"]);
        assert_eq!(s.api_version, DEFAULT_API_VERSION);
        assert_eq!(s.api_base, DEFAULT_API_BASE);
        assert_eq!(s.token_url, DEFAULT_TOKEN_URL);
        assert_eq!(s.channel, "google_ads");
        assert_eq!(s.spend_window.lookback_days, 30);
        assert_eq!(s.spend_window.slice_days, 31);
        assert_eq!(s.click_window.lookback_days, 3);
        assert_eq!(s.click_window.slice_days, 1);
        assert!(s.login_customer_id.is_none());
    }

    #[test]
    fn base_url_moves_the_api_and_the_token_endpoint() {
        let base = Url::parse("http://127.0.0.1:9999/").unwrap();
        let s = Settings::parse(&full(), Some(&base), "google_ads").unwrap();
        assert_eq!(s.api_base, "http://127.0.0.1:9999");
        assert_eq!(s.token_url, "http://127.0.0.1:9999/token");
    }

    #[test]
    fn versions_are_checked() {
        assert!(is_version("v26"));
        assert!(is_version("v25_1"));
        assert!(!is_version("26"));
        assert!(!is_version("v"));
        assert!(!is_version("v26_"));
        assert!(!is_version("v26.1"));
    }
}
