//! `[connector.settings]` of a Zendesk instance.

use okno_connector::settings::parse;
use okno_connector::{SecretString, SettingSpec, SettingsError};
use serde::Deserialize;
use url::Url;

pub(crate) const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: "subdomain",
        doc: "the account's subdomain: `acme` for https://acme.zendesk.com (not needed when base_url is set)",
        required: false,
        secret: false,
        example: "\"acme\"",
    },
    SettingSpec {
        name: "email",
        doc: "the admin's e-mail for API-token auth",
        required: false,
        secret: false,
        example: "\"ops@acme.example\"",
    },
    SettingSpec {
        name: "api_token",
        doc: "API token (Admin Center > Apps and integrations > Zendesk API); used with `email`",
        required: false,
        secret: true,
        example: "\"${ZENDESK_API_TOKEN}\"",
    },
    SettingSpec {
        name: "oauth_token",
        doc: "OAuth access token, instead of email + api_token",
        required: false,
        secret: true,
        example: "\"${ZENDESK_OAUTH_TOKEN}\"",
    },
    SettingSpec {
        name: "webhook_signing_secret",
        doc: "the webhook's signing secret (Admin Center > Webhooks > Reveal secret); enables POST /hooks/<id>",
        required: false,
        secret: true,
        example: "\"${ZENDESK_WEBHOOK_SECRET}\"",
    },
    SettingSpec {
        name: "webhook_signing_secret_previous",
        doc: "the secret being rotated out; deliveries signed with either are accepted",
        required: false,
        secret: true,
        example: "\"${ZENDESK_WEBHOOK_SECRET_OLD}\"",
    },
    SettingSpec {
        name: "webhook_max_age_secs",
        doc: "refuse deliveries whose signature timestamp is further than this from now (replay window)",
        required: false,
        secret: false,
        example: "300",
    },
    SettingSpec {
        name: "per_page",
        doc: "records per incremental export page, 1 to 1000",
        required: false,
        secret: false,
        example: "1000",
    },
];

#[derive(Deserialize)]
struct Raw {
    subdomain: Option<String>,
    email: Option<String>,
    api_token: Option<SecretString>,
    oauth_token: Option<SecretString>,
    per_page: Option<u32>,
    webhook_signing_secret: Option<SecretString>,
    webhook_signing_secret_previous: Option<SecretString>,
    webhook_max_age_secs: Option<u32>,
}

/// How requests authenticate.
#[derive(Clone)]
pub(crate) enum Auth {
    /// `Authorization: Basic base64("{email}/token:{token}")`.
    ApiToken {
        email: String,
        token: SecretString,
    },
    Bearer(SecretString),
}

/// Validated settings.
#[derive(Clone)]
pub struct Settings {
    pub(crate) base_url: Url,
    pub(crate) auth: Auth,
    pub(crate) per_page: u32,
    /// Signing secrets, newest first; empty when webhooks are not configured.
    pub(crate) webhook_secrets: Vec<SecretString>,
    pub(crate) webhook_max_age_secs: u32,
}

impl Settings {
    pub(crate) fn parse(
        value: &serde_json::Value,
        base_url: Option<&Url>,
    ) -> Result<Settings, Vec<SettingsError>> {
        let known: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let raw: Raw = parse(value, &known)?;
        let mut errors = Vec::new();

        let base_url = match (base_url, raw.subdomain.as_deref()) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(sub)) => {
                let valid =
                    !sub.is_empty() && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                if valid {
                    Url::parse(&format!("https://{sub}.zendesk.com")).ok()
                } else {
                    errors.push(
                        SettingsError::new("subdomain", format!("{sub:?} is not a subdomain"))
                            .hint("give only the first label: `acme` for https://acme.zendesk.com"),
                    );
                    None
                }
            }
            (None, None) => {
                errors.push(
                    SettingsError::new("subdomain", "missing")
                        .hint("set `subdomain = \"acme\"`, or `base_url` on the connector for a custom domain"),
                );
                None
            }
        };

        let auth = match (raw.email, raw.api_token, raw.oauth_token) {
            (Some(email), Some(token), None) => Some(Auth::ApiToken { email, token }),
            (None, None, Some(token)) => Some(Auth::Bearer(token)),
            (Some(_), None, Some(_)) => {
                errors.push(
                    SettingsError::new("email", "is only used with api_token")
                        .hint("remove `email` when authenticating with `oauth_token`"),
                );
                None
            }
            (_, Some(_), Some(_)) => {
                errors.push(
                    SettingsError::new("oauth_token", "both api_token and oauth_token are set")
                        .hint("keep one way of authenticating"),
                );
                None
            }
            (None, Some(_), None) => {
                errors.push(
                    SettingsError::new("email", "missing: API-token auth needs the admin's e-mail")
                        .hint("set `email = \"admin@example.com\"`"),
                );
                None
            }
            _ => {
                errors.push(SettingsError::new("api_token", "no credentials").hint(
                    "set `email` and `api_token = \"${ZENDESK_API_TOKEN}\"`, or `oauth_token`",
                ));
                None
            }
        };

        let per_page = raw.per_page.unwrap_or(1000);
        if !(1..=1000).contains(&per_page) {
            errors.push(
                SettingsError::new("per_page", format!("{per_page} is out of range"))
                    .hint("Zendesk serves 1 to 1000 records per incremental page"),
            );
        }

        let webhook_max_age_secs = raw.webhook_max_age_secs.unwrap_or(300);
        if !(10..=3600).contains(&webhook_max_age_secs) {
            errors.push(
                SettingsError::new(
                    "webhook_max_age_secs",
                    format!("{webhook_max_age_secs} is out of range"),
                )
                .hint("10 to 3600 seconds; Zendesk retries within minutes, 300 is the default"),
            );
        }
        let webhook_secrets: Vec<SecretString> = raw
            .webhook_signing_secret
            .into_iter()
            .chain(raw.webhook_signing_secret_previous)
            .collect();

        match (base_url, auth) {
            (Some(base_url), Some(auth)) if errors.is_empty() => Ok(Settings {
                base_url,
                auth,
                per_page,
                webhook_secrets,
                webhook_max_age_secs,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_the_base_url_from_the_subdomain() {
        let s = Settings::parse(
            &json!({"subdomain": "acme", "email": "a@b.c", "api_token": "t"}),
            None,
        )
        .ok()
        .unwrap();
        assert_eq!(s.base_url.as_str(), "https://acme.zendesk.com/");
        assert_eq!(s.per_page, 1000);
    }

    #[test]
    fn reports_missing_credentials_and_a_bad_subdomain_together() {
        let errs = Settings::parse(&json!({"subdomain": "acme.zendesk.com"}), None)
            .err()
            .unwrap();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["subdomain", "api_token"]);
    }
}
