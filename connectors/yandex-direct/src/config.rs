//! `[connector.settings]` of a Yandex Direct instance.

use okno_connector::settings::parse;
use okno_connector::spend::Window;
use okno_connector::{SecretString, SettingSpec, SettingsError};
use serde::Deserialize;
use url::Url;

/// Days re-pulled on every run: Direct statistics "normally stabilise within three days".
pub(crate) const DEFAULT_LOOKBACK_DAYS: u32 = 3;
/// Days one report (one page) covers.
pub(crate) const SLICE_DAYS: u32 = 31;

const PRODUCTION: &str = "https://api.direct.yandex.com";
const SANDBOX: &str = "https://api-sandbox.direct.yandex.com";

pub(crate) const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: "token",
        doc: "OAuth token of a Yandex user with access to the Direct accounts (sent as `Authorization: Bearer`)",
        required: true,
        secret: true,
        example: "\"${YANDEX_DIRECT_TOKEN}\"",
    },
    SettingSpec {
        name: "include_vat",
        doc: "whether spend figures include VAT (the report's `IncludeVAT`); recorded on every spend row as vat_included",
        required: true,
        secret: false,
        example: "true",
    },
    SettingSpec {
        name: "client_logins",
        doc: "for agency tokens: the client logins to pull (sent as `Client-Login`), each one account; without it the token's own account is the one account",
        required: false,
        secret: false,
        example: "[\"shop-msk\", \"shop-spb\"]",
    },
    SettingSpec {
        name: "lookback_days",
        doc: "days (today included) re-pulled every run because Direct restates them; the Changes service extends it when it reports corrected statistics (default 3)",
        required: false,
        secret: false,
        example: "3",
    },
    SettingSpec {
        name: "time_zone",
        doc: "IANA zone the account's days are counted in; by default the zone its campaigns are set to (`TimeZone`)",
        required: false,
        secret: false,
        example: "\"Europe/Moscow\"",
    },
    SettingSpec {
        name: "channel",
        doc: "the channel figures group these campaigns under (default `yandex_direct`)",
        required: false,
        secret: false,
        example: "\"paid_search\"",
    },
    SettingSpec {
        name: "sandbox",
        doc: "use the Direct sandbox (api-sandbox.direct.yandex.com) instead of the production API",
        required: false,
        secret: false,
        example: "false",
    },
];

#[derive(Deserialize)]
struct Raw {
    token: Option<SecretString>,
    include_vat: Option<bool>,
    client_logins: Option<Vec<String>>,
    // Read by `Window::from_settings`; listed so the typed parse does not call it unknown.
    #[allow(dead_code)]
    lookback_days: Option<serde_json::Value>,
    time_zone: Option<String>,
    channel: Option<String>,
    #[serde(default)]
    sandbox: bool,
}

/// Validated settings.
#[derive(Clone)]
pub struct Settings {
    /// `https://api.direct.yandex.com`, the sandbox, or the `base_url` override.
    pub(crate) base_url: Url,
    pub(crate) token: SecretString,
    pub(crate) include_vat: bool,
    /// Agency client logins; empty means the token's own account.
    pub(crate) client_logins: Vec<String>,
    pub(crate) window: Window,
    pub(crate) time_zone: Option<chrono_tz::Tz>,
    pub(crate) channel: String,
}

use okno_connector::chrono_tz;

fn is_login(s: &str) -> bool {
    // Yandex logins: letters, digits, dots and hyphens (e-mail style logins keep their @domain).
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
}

impl Settings {
    pub(crate) fn parse(
        value: &serde_json::Value,
        base_url: Option<&Url>,
    ) -> Result<Settings, Vec<SettingsError>> {
        let known: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let raw: Raw = parse(value, &known)?;
        let mut errors = Vec::new();

        let window = Window::from_settings(value, DEFAULT_LOOKBACK_DAYS, SLICE_DAYS, &mut errors);

        if raw.token.is_none() {
            errors.push(SettingsError::new("token", "missing").hint(
                "set `token = \"${YANDEX_DIRECT_TOKEN}\"`: an OAuth token with the direct:api scope (https://oauth.yandex.ru)",
            ));
        }
        if raw.include_vat.is_none() {
            errors.push(
                SettingsError::new("include_vat", "missing: choose whether spend includes VAT")
                    .hint("`include_vat = true` reports cost with VAT as invoiced, `false` without; the choice is stored on every spend row"),
            );
        }

        let mut client_logins = Vec::new();
        for (i, login) in raw
            .client_logins
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let login = login.trim().to_string();
            if !is_login(&login) {
                errors.push(
                    SettingsError::new(
                        format!("client_logins[{i}]"),
                        format!("{login:?} is not a Yandex login"),
                    )
                    .hint("the client's login as shown in the agency's client list, e.g. \"shop-msk\""),
                );
            } else if client_logins.contains(&login) {
                errors.push(SettingsError::new(
                    format!("client_logins[{i}]"),
                    format!("{login:?} is listed twice"),
                ));
            } else {
                client_logins.push(login);
            }
        }

        let time_zone = match raw.time_zone.as_deref().map(str::trim) {
            None => None,
            Some(name) => match name.parse::<chrono_tz::Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    errors.push(
                        SettingsError::new(
                            "time_zone",
                            format!("{name:?} is not an IANA time zone"),
                        )
                        .hint("a name such as \"Europe/Moscow\" or \"Asia/Yekaterinburg\""),
                    );
                    None
                }
            },
        };

        let channel = match raw.channel.as_deref().map(str::trim) {
            None => crate::KIND_NAME.to_string(),
            Some("") => {
                errors.push(
                    SettingsError::new("channel", "is empty")
                        .hint("leave it out to group these campaigns under `yandex_direct`"),
                );
                String::new()
            }
            Some(c) => c.to_string(),
        };

        let default_base = if raw.sandbox { SANDBOX } else { PRODUCTION };
        let base_url = match base_url {
            Some(u) => u.clone(),
            None => match Url::parse(default_base) {
                Ok(u) => u,
                Err(e) => {
                    errors.push(SettingsError::new("", format!("bad built-in URL: {e}")));
                    return Err(errors);
                }
            },
        };

        match (raw.token, raw.include_vat) {
            (Some(token), Some(include_vat)) if errors.is_empty() => Ok(Settings {
                base_url,
                token,
                include_vat,
                client_logins,
                window,
                time_zone,
                channel,
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
        let mut k: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errs = Settings::parse(
            &json!({"client_logins": ["ok-login", "bad login!", "ok-login"],
                    "time_zone": "Moscow", "lookback_days": 0, "channel": " "}),
            None,
        )
        .err()
        .unwrap();
        assert_eq!(
            keys(&errs),
            [
                "channel",
                "client_logins[1]",
                "client_logins[2]",
                "include_vat",
                "lookback_days",
                "time_zone",
                "token"
            ]
        );
    }

    #[test]
    fn defaults_and_sandbox() {
        let s = Settings::parse(
            &json!({"token": "t", "include_vat": false, "sandbox": true}),
            None,
        )
        .ok()
        .unwrap();
        assert_eq!(
            s.base_url.as_str(),
            "https://api-sandbox.direct.yandex.com/"
        );
        assert_eq!(s.window.lookback_days, 3);
        assert_eq!(s.window.slice_days, 31);
        assert_eq!(s.channel, "yandex_direct");
        assert!(s.client_logins.is_empty() && !s.include_vat && s.time_zone.is_none());
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let errs = Settings::parse(
            &json!({"token": "t", "include_vat": true, "client_login": ["x"]}),
            None,
        )
        .err()
        .unwrap();
        assert_eq!(errs[0].key, "client_login");
        assert_eq!(
            errs[0].hint.as_deref(),
            Some("did you mean `client_logins`?")
        );
    }
}
