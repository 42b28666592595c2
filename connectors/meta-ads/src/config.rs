//! `[connector.settings]` of a Meta Ads instance.

use okno_connector::settings::parse;
use okno_connector::spend::Window;
use okno_connector::{SecretString, SettingSpec, SettingsError};
use serde::Deserialize;
use url::Url;

/// The Graph API host every request goes to unless `base_url` overrides it.
pub(crate) const DEFAULT_BASE: &str = "https://graph.facebook.com";
/// The Marketing API version asked for by default (released July 2026; Meta keeps a version for
/// about a year after its successor ships).
pub(crate) const DEFAULT_API_VERSION: &str = "v26.0";
/// Days re-pulled on every run: Meta restates the last 28 days (attribution windows).
pub(crate) const DEFAULT_LOOKBACK_DAYS: u32 = 28;
/// The most days one spend page (one insights query) covers.
pub(crate) const SLICE_DAYS: u32 = 28;
/// Slices longer than this many days use an asynchronous report run.
pub(crate) const DEFAULT_ASYNC_AFTER_DAYS: u32 = 7;
/// `action_type`s summed into conversions unless `conversion_actions` says otherwise.
pub(crate) const DEFAULT_CONVERSION_ACTIONS: &[&str] = &["lead", "purchase"];

pub(crate) const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: "access_token",
        doc: "a system user's access token with ads_read on every listed ad account (Business Settings > Users > System users > Generate new token); sent as `Authorization: Bearer`",
        required: true,
        secret: true,
        example: "\"${META_ADS_ACCESS_TOKEN}\"",
    },
    SettingSpec {
        name: "app_secret",
        doc: "the app's secret (App Dashboard > App settings > Basic); when set, every request carries `appsecret_proof`, which apps with \"Require App Secret\" demand",
        required: false,
        secret: true,
        example: "\"${META_ADS_APP_SECRET}\"",
    },
    SettingSpec {
        name: "ad_account_ids",
        doc: "the ad accounts to pull, with or without the `act_` prefix (Ads Manager shows the number in the account menu)",
        required: true,
        secret: false,
        example: "[\"act_1234567890\", \"9876543210\"]",
    },
    SettingSpec {
        name: "api_version",
        doc: "the Graph API version in every path, `vNN.0`; the default is bumped with okno releases",
        required: false,
        secret: false,
        example: "\"v26.0\"",
    },
    SettingSpec {
        name: "lookback_days",
        doc: "days before today (account time zone, today included) re-pulled on every run because Meta restates them (1-365, default 28)",
        required: false,
        secret: false,
        example: "28",
    },
    SettingSpec {
        name: "conversion_actions",
        doc: "insights `actions` types summed into conversions (default lead and purchase, Meta's totals across pixel, app and on-Facebook events; do not add their sub-types such as offsite_conversion.fb_pixel_lead or they are counted twice)",
        required: false,
        secret: false,
        example: "[\"lead\", \"purchase\"]",
    },
    SettingSpec {
        name: "channel",
        doc: "the channel figures group these campaigns under (default `meta_ads`)",
        required: false,
        secret: false,
        example: "\"facebook\"",
    },
    SettingSpec {
        name: "async_after_days",
        doc: "a spend slice spanning more days than this is fetched with an asynchronous report run instead of a direct query (0 = always asynchronous; default 7)",
        required: false,
        secret: false,
        example: "7",
    },
];

/// An ad account id from settings: one string or number each.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawId {
    Number(u64),
    Text(String),
}

#[derive(Deserialize)]
struct Raw {
    access_token: Option<SecretString>,
    app_secret: Option<SecretString>,
    ad_account_ids: Option<Vec<RawId>>,
    api_version: Option<String>,
    // Read by `Window::from_settings`; declared so it is not reported unknown.
    #[allow(dead_code)]
    lookback_days: Option<serde_json::Value>,
    conversion_actions: Option<Vec<String>>,
    channel: Option<String>,
    async_after_days: Option<u32>,
}

/// Validated settings.
#[derive(Clone)]
pub struct Settings {
    /// `https://graph.facebook.com` or the `base_url` override, without a trailing slash.
    pub(crate) base: String,
    pub(crate) access_token: SecretString,
    pub(crate) app_secret: Option<SecretString>,
    /// `act_<digits>`, in the configured order, without duplicates.
    pub(crate) accounts: Vec<String>,
    pub(crate) api_version: String,
    pub(crate) window: Window,
    pub(crate) conversion_actions: Vec<String>,
    pub(crate) channel: String,
    pub(crate) async_after_days: u32,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("base", &self.base)
            .field("accounts", &self.accounts)
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

/// `act_123`, `123` or ` ACT_123 ` → `act_123`; `None` unless the rest is digits.
pub(crate) fn account_id(raw: &str) -> Option<String> {
    let t = raw.trim();
    let digits = match t.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("act_") => &t[4..],
        _ => t,
    };
    (!digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("act_{digits}"))
}

fn is_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.split('.');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
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
        let window = Window::from_settings(value, DEFAULT_LOOKBACK_DAYS, SLICE_DAYS, &mut errors);

        let access_token = match raw.access_token {
            Some(t)
                if !okno_connector::ExposeSecret::expose_secret(&t)
                    .trim()
                    .is_empty() =>
            {
                Some(t)
            }
            Some(_) => {
                errors.push(SettingsError::new("access_token", "is empty").hint(
                    "generate a system user token with ads_read in Business Settings > Users > System users",
                ));
                None
            }
            None => {
                errors.push(SettingsError::new("access_token", "missing").hint(
                    "set `access_token = \"${META_ADS_ACCESS_TOKEN}\"`: a system user token with ads_read on the ad accounts",
                ));
                None
            }
        };
        let app_secret = match raw.app_secret {
            Some(s)
                if okno_connector::ExposeSecret::expose_secret(&s)
                    .trim()
                    .is_empty() =>
            {
                errors.push(
                    SettingsError::new("app_secret", "is empty")
                        .hint("remove the key, or give the App secret from App settings > Basic"),
                );
                None
            }
            other => other,
        };

        let mut accounts: Vec<String> = Vec::new();
        match raw.ad_account_ids {
            None => errors.push(
                SettingsError::new("ad_account_ids", "missing")
                    .hint("list the ad accounts to pull: `ad_account_ids = [\"act_1234567890\"]`"),
            ),
            Some(ids) if ids.is_empty() => errors.push(
                SettingsError::new("ad_account_ids", "is empty")
                    .hint("list at least one ad account, e.g. `[\"act_1234567890\"]`"),
            ),
            Some(ids) => {
                for (i, id) in ids.into_iter().enumerate() {
                    let text = match id {
                        RawId::Number(n) => n.to_string(),
                        RawId::Text(t) => t,
                    };
                    match account_id(&text) {
                        Some(a) if !accounts.contains(&a) => accounts.push(a),
                        Some(_) => {}
                        None => errors.push(
                            SettingsError::new(
                                format!("ad_account_ids[{i}]"),
                                format!("{text:?} is not an ad account id"),
                            )
                            .hint("the account number, with or without `act_`: \"act_1234567890\""),
                        ),
                    }
                }
            }
        }

        let api_version = match raw.api_version {
            None => DEFAULT_API_VERSION.to_string(),
            Some(v) if is_version(v.trim()) => v.trim().to_string(),
            Some(v) => {
                errors.push(
                    SettingsError::new("api_version", format!("{v:?} is not a Graph API version"))
                        .hint(format!(
                            "write it as in the URL, e.g. \"{DEFAULT_API_VERSION}\""
                        )),
                );
                DEFAULT_API_VERSION.to_string()
            }
        };

        let conversion_actions = match raw.conversion_actions {
            None => DEFAULT_CONVERSION_ACTIONS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            Some(list) => {
                let mut out: Vec<String> = Vec::new();
                for (i, a) in list.iter().enumerate() {
                    let a = a.trim();
                    if a.is_empty() {
                        errors.push(
                            SettingsError::new(format!("conversion_actions[{i}]"), "is empty")
                                .hint("an insights action_type such as \"lead\" or \"purchase\""),
                        );
                    } else if !out.iter().any(|o| o == a) {
                        out.push(a.to_string());
                    }
                }
                out
            }
        };

        let channel = match raw.channel {
            None => kind.to_string(),
            Some(c) if c.trim().is_empty() => {
                errors.push(
                    SettingsError::new("channel", "is empty")
                        .hint(format!("remove the key to group under `{kind}`")),
                );
                kind.to_string()
            }
            Some(c) => c.trim().to_string(),
        };

        let base = base_url
            .map(|u| u.as_str().trim_end_matches('/').to_string())
            .unwrap_or_else(|| DEFAULT_BASE.to_string());

        match access_token {
            Some(access_token) if errors.is_empty() => Ok(Settings {
                base,
                access_token,
                app_secret,
                accounts,
                api_version,
                window,
                conversion_actions,
                channel,
                async_after_days: raw.async_after_days.unwrap_or(DEFAULT_ASYNC_AFTER_DAYS),
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(errs: &[SettingsError]) -> Vec<&str> {
        errs.iter().map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn account_ids_are_accepted_with_or_without_act_and_deduplicated() {
        let s = Settings::parse(
            &json!({"access_token": "t", "ad_account_ids": ["act_123", "123", 456, " ACT_789 "]}),
            None,
            "meta_ads",
        )
        .unwrap();
        assert_eq!(s.accounts, ["act_123", "act_456", "act_789"]);
        assert_eq!(s.base, DEFAULT_BASE);
        assert_eq!(s.api_version, DEFAULT_API_VERSION);
        assert_eq!(s.window.lookback_days, 28);
        assert_eq!(s.window.slice_days, SLICE_DAYS);
        assert_eq!(s.conversion_actions, ["lead", "purchase"]);
        assert_eq!(s.channel, "meta_ads");
        assert_eq!(s.async_after_days, DEFAULT_ASYNC_AFTER_DAYS);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errs = Settings::parse(
            &json!({
                "ad_account_ids": ["act_12x", "act_"],
                "api_version": "26",
                "lookback_days": 0,
                "conversion_actions": ["lead", " "],
                "channel": "",
                "app_secret": "",
            }),
            None,
            "meta_ads",
        )
        .unwrap_err();
        let mut k = keys(&errs);
        k.sort();
        assert_eq!(
            k,
            [
                "access_token",
                "ad_account_ids[0]",
                "ad_account_ids[1]",
                "api_version",
                "app_secret",
                "channel",
                "conversion_actions[1]",
                "lookback_days",
            ],
            "{errs:?}"
        );
    }

    #[test]
    fn unknown_keys_get_a_suggestion_and_base_url_overrides_the_host() {
        let errs = Settings::parse(
            &json!({"access_token": "t", "ad_account_id": ["1"]}),
            None,
            "meta_ads",
        )
        .unwrap_err();
        assert_eq!(keys(&errs), ["ad_account_id"]);
        assert_eq!(
            errs[0].hint.as_deref(),
            Some("did you mean `ad_account_ids`?")
        );
        let base = Url::parse("http://127.0.0.1:4321/").unwrap();
        let s = Settings::parse(
            &json!({"access_token": "t", "ad_account_ids": ["1"], "api_version": "v25.0"}),
            Some(&base),
            "meta_ads",
        )
        .unwrap();
        assert_eq!(s.base, "http://127.0.0.1:4321");
        assert_eq!(s.api_version, "v25.0");
    }

    #[test]
    fn versions_look_like_the_url_segment() {
        assert!(is_version("v26.0"));
        assert!(!is_version("v26"));
        assert!(!is_version("26.0"));
        assert!(!is_version("v26.0.1"));
        assert!(!is_version("va.0"));
    }
}
