//! `[connector.settings]` of a VK Ads instance. Parsing does no I/O and reports every problem
//! at once, each with its key and a hint.

use okno_connector::settings::parse;
use okno_connector::spend::Window;
use okno_connector::{Currency, SecretString, SettingSpec, SettingsError};
use serde::Deserialize;
use url::Url;

/// Days re-pulled on every run: VK Ads restates recent days (late clicks, fraud write-offs).
pub(crate) const DEFAULT_LOOKBACK_DAYS: u32 = 7;
/// The statistics endpoints answer at most 92 days per request.
pub(crate) const SLICE_DAYS: u32 = 92;
/// The zone the API reports in unless told otherwise (its documented default for datetimes).
pub(crate) const DEFAULT_TIME_ZONE: &str = "Europe/Moscow";
/// The public API host.
pub(crate) const DEFAULT_BASE_URL: &str = "https://ads.vk.com";

pub(crate) const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: "client_id",
        doc: "the API client id (VK Ads > Settings > API access)",
        required: true,
        secret: false,
        example: "\"b9AHG7669xtg1nvq\"",
    },
    SettingSpec {
        name: "client_secret",
        doc: "the API client secret shown next to client_id",
        required: true,
        secret: true,
        example: "\"${VK_ADS_CLIENT_SECRET}\"",
    },
    SettingSpec {
        name: "agency_client_name",
        doc: "for agencies and managers: the client's username (AgencyClients/ManagerClients `username`); tokens are then minted with grant_type=agency_client_credentials for that client",
        required: false,
        secret: false,
        example: "\"a1b2c3d4e5@agency_client\"",
    },
    SettingSpec {
        name: "level",
        doc: "what counts as a campaign: `ad_plans` (default: the campaigns of the current VK Ads interface) or `campaigns` (the API's campaigns, shown as ad groups in the current interface)",
        required: false,
        secret: false,
        example: "\"ad_plans\"",
    },
    SettingSpec {
        name: "lookback_days",
        doc: "days (today included) re-pulled on every run because VK Ads restates them; 7 by default",
        required: false,
        secret: false,
        example: "7",
    },
    SettingSpec {
        name: "time_zone",
        doc: "IANA zone the account's statistics days are counted in; the API does not state it, Europe/Moscow by default",
        required: false,
        secret: false,
        example: "\"Europe/Moscow\"",
    },
    SettingSpec {
        name: "currency",
        doc: "ISO 4217 code of the account's money; overrides the currency read from /api/v2/user.json",
        required: false,
        secret: false,
        example: "\"RUB\"",
    },
    SettingSpec {
        name: "channel",
        doc: "the channel figures group this account's campaigns under; `vk_ads` by default",
        required: false,
        secret: false,
        example: "\"vk_ads\"",
    },
    SettingSpec {
        name: "delete_tokens_at_limit",
        doc: "when minting a token fails because the client already has 5 live tokens for this user, delete them all with /api/v2/oauth2/token/delete.json and mint once more (false by default: other programs using the same client lose their tokens)",
        required: false,
        secret: false,
        example: "false",
    },
];

/// Which VK Ads object is okno's campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `ad_plans`: the campaigns of the current interface.
    AdPlans,
    /// `campaigns`: the API's campaigns (ad groups of the current interface).
    Campaigns,
}

impl Level {
    /// The list endpoint below `/api/v2/`.
    pub(crate) fn list_path(self) -> &'static str {
        match self {
            Level::AdPlans => "ad_plans.json",
            Level::Campaigns => "campaigns.json",
        }
    }

    /// The daily statistics endpoint below `/api/v2/`.
    pub(crate) fn stats_path(self) -> &'static str {
        match self {
            Level::AdPlans => "statistics/ad_plans/day.json",
            Level::Campaigns => "statistics/campaigns/day.json",
        }
    }

    pub(crate) fn list_endpoint(self) -> &'static str {
        match self {
            Level::AdPlans => "ad_plans",
            Level::Campaigns => "campaigns",
        }
    }

    pub(crate) fn stats_endpoint(self) -> &'static str {
        match self {
            Level::AdPlans => "statistics/ad_plans/day",
            Level::Campaigns => "statistics/campaigns/day",
        }
    }
}

#[derive(Deserialize)]
struct Raw {
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    agency_client_name: Option<String>,
    level: Option<String>,
    // Read by `Window::from_settings`; declared so it is not reported as unknown.
    #[allow(dead_code)]
    lookback_days: Option<serde_json::Value>,
    time_zone: Option<String>,
    currency: Option<String>,
    channel: Option<String>,
    delete_tokens_at_limit: Option<bool>,
}

/// Validated settings.
#[derive(Clone)]
pub struct Settings {
    pub(crate) base_url: Url,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) agency_client_name: Option<String>,
    pub(crate) level: Level,
    pub(crate) window: Window,
    pub(crate) time_zone: String,
    pub(crate) currency: Option<Currency>,
    pub(crate) channel: String,
    pub(crate) delete_tokens_at_limit: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("base_url", &self.base_url.as_str())
            .field("client_id", &self.client_id)
            .field("agency_client_name", &self.agency_client_name)
            .field("level", &self.level)
            .field("window", &self.window)
            .field("time_zone", &self.time_zone)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub(crate) fn parse(
        value: &serde_json::Value,
        base_url: Option<&Url>,
    ) -> Result<Settings, Vec<SettingsError>> {
        let known: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let raw: Raw = parse(value, &known)?;
        let mut errors = Vec::new();

        let client_id = raw
            .client_id
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if client_id.is_none() {
            errors.push(
                SettingsError::new("client_id", "missing")
                    .hint("the client id of VK Ads > Settings > API access (ask VK support for API access first)"),
            );
        }
        if raw.client_secret.is_none() {
            errors.push(
                SettingsError::new("client_secret", "missing")
                    .hint("set `client_secret = \"${VK_ADS_CLIENT_SECRET}\"`"),
            );
        }
        let agency_client_name = match raw.agency_client_name.map(|s| s.trim().to_string()) {
            Some(s) if s.is_empty() => {
                errors
                    .push(SettingsError::new("agency_client_name", "is empty").hint(
                        "give the client's username, or remove the key for your own account",
                    ));
                None
            }
            other => other,
        };
        let level = match raw.level.as_deref().map(str::trim) {
            None | Some("ad_plans") => Level::AdPlans,
            Some("campaigns") => Level::Campaigns,
            Some(other) => {
                errors.push(
                    SettingsError::new("level", format!("{other:?} is not a level"))
                        .hint("`ad_plans` (campaigns of the current interface) or `campaigns` (its ad groups)"),
                );
                Level::AdPlans
            }
        };
        let window = Window::from_settings(value, DEFAULT_LOOKBACK_DAYS, SLICE_DAYS, &mut errors);
        let time_zone = raw
            .time_zone
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_string());
        if time_zone.parse::<okno_connector::chrono_tz::Tz>().is_err() {
            errors.push(
                SettingsError::new(
                    "time_zone",
                    format!("{time_zone:?} is not an IANA time zone"),
                )
                .hint("such as Europe/Moscow or Asia/Vladivostok"),
            );
        }
        let currency = match raw.currency.as_deref() {
            None => None,
            Some(c) => match c.parse::<Currency>() {
                Ok(c) => Some(c),
                Err(e) => {
                    errors.push(SettingsError::new("currency", e.to_string()));
                    None
                }
            },
        };
        let channel = match raw.channel.map(|s| s.trim().to_string()) {
            None => crate::KIND_NAME.to_string(),
            Some(s) if s.is_empty() => {
                errors.push(
                    SettingsError::new("channel", "is empty")
                        .hint("remove the key to group under `vk_ads`"),
                );
                String::new()
            }
            Some(s) => s,
        };
        let base_url = match base_url {
            Some(u) => u.clone(),
            None => match Url::parse(DEFAULT_BASE_URL) {
                Ok(u) => u,
                Err(e) => {
                    errors.push(SettingsError::new("", e.to_string()));
                    return Err(errors);
                }
            },
        };
        match (client_id, raw.client_secret) {
            (Some(client_id), Some(client_secret)) if errors.is_empty() => Ok(Settings {
                base_url,
                client_id,
                client_secret,
                agency_client_name,
                level,
                window,
                time_zone,
                currency,
                channel,
                delete_tokens_at_limit: raw.delete_tokens_at_limit.unwrap_or(false),
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
    fn defaults_are_ad_plans_seven_days_moscow_and_the_kind_as_channel() {
        let s = Settings::parse(&json!({"client_id": "id", "client_secret": "s"}), None)
            .expect("valid");
        assert_eq!(s.level, Level::AdPlans);
        assert_eq!(s.window.lookback_days, 7);
        assert_eq!(s.window.slice_days, 92);
        assert_eq!(s.time_zone, "Europe/Moscow");
        assert_eq!(s.channel, "vk_ads");
        assert_eq!(s.base_url.as_str(), "https://ads.vk.com/");
        assert!(!s.delete_tokens_at_limit);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errs = Settings::parse(
            &json!({"level": "groups", "lookback_days": 0, "time_zone": "Moscow",
                    "currency": "RU", "agency_client_name": " "}),
            None,
        )
        .expect_err("invalid");
        let mut k = keys(&errs);
        k.sort_unstable();
        assert_eq!(
            k,
            [
                "agency_client_name",
                "client_id",
                "client_secret",
                "currency",
                "level",
                "lookback_days",
                "time_zone"
            ]
        );
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let errs = Settings::parse(
            &json!({"client_id": "id", "client_secret": "s", "lookback_day": 3}),
            None,
        )
        .expect_err("invalid");
        assert_eq!(keys(&errs), ["lookback_day"]);
        assert_eq!(
            errs[0].hint.as_deref(),
            Some("did you mean `lookback_days`?")
        );
    }
}
