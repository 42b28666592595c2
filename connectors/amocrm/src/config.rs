//! `[connector.settings]` of an amoCRM / Kommo instance.

use okno_connector::settings::parse;
use okno_connector::{Currency, SecretString, SettingSpec, SettingsError};
use serde::Deserialize;
use url::Url;

pub(crate) const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: "subdomain",
        doc: "the account's subdomain on amocrm.ru: `okhvat` for https://okhvat.amocrm.ru (or give `domain`; exactly one of the two)",
        required: false,
        secret: false,
        example: "\"okhvat\"",
    },
    SettingSpec {
        name: "domain",
        doc: "the account's full host, for Kommo and other amoCRM domains: `mycompany.kommo.com` (instead of `subdomain`)",
        required: false,
        secret: false,
        example: "\"mycompany.kommo.com\"",
    },
    SettingSpec {
        name: "client_id",
        doc: "the integration ID (amoCRM > Settings > Integrations > your integration > Keys and scopes); OAuth",
        required: false,
        secret: false,
        example: "\"7b41e95c-30d8-4db2-9a56-1f0c3e8a7721\"",
    },
    SettingSpec {
        name: "client_secret",
        doc: "the integration's secret key; OAuth, with `client_id` and `redirect_uri`",
        required: false,
        secret: true,
        example: "\"${AMOCRM_CLIENT_SECRET}\"",
    },
    SettingSpec {
        name: "redirect_uri",
        doc: "the integration's Redirect URI, exactly as registered (amoCRM checks it on every token request); OAuth",
        required: false,
        secret: false,
        example: "\"https://okno.example.com/amocrm/callback\"",
    },
    SettingSpec {
        name: "long_lived_token",
        doc: "a long-lived token of a private integration (1 day to 5 years, no refresh), instead of OAuth; recommended for one account",
        required: false,
        secret: true,
        example: "\"${AMOCRM_LONG_LIVED_TOKEN}\"",
    },
    SettingSpec {
        name: "currency",
        doc: "ISO 4217 code of lead prices; overrides the account's currency (read from /api/v4/account otherwise)",
        required: false,
        secret: false,
        example: "\"RUB\"",
    },
    SettingSpec {
        name: "webhook_token",
        doc: "secret path token of the webhook URL (POST /hooks/<id>/<token>); amoCRM signs nothing, so this enables and guards webhooks",
        required: false,
        secret: true,
        example: "\"${AMOCRM_WEBHOOK_TOKEN}\"",
    },
    SettingSpec {
        name: "fields",
        doc: "custom fields mapped to lead columns: product, segment, region, discount, lead_source, and overrides of the marks (utm_source, utm_medium, utm_campaign, utm_content, utm_term, gclid, yclid, fbclid); each names a field by numeric id, field_code or field_name (case-insensitive)",
        required: false,
        secret: false,
        example: "{ product = \"Продукт\", region = \"Регион\" }",
    },
];

/// Keys of the `fields` table.
pub(crate) const FIELD_KEYS: &[&str] = &[
    "product",
    "segment",
    "region",
    "discount",
    "lead_source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "gclid",
    "yclid",
    "fbclid",
];

/// A custom field named in settings: by numeric id, or by code or name (case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldSelector {
    /// The id, when the setting is a number or all digits.
    pub(crate) id: Option<i64>,
    /// The setting lower-cased, compared with `field_code` and `field_name`.
    pub(crate) text: Option<String>,
}

impl FieldSelector {
    fn from_raw(raw: RawSelector) -> Result<FieldSelector, String> {
        match raw {
            RawSelector::Id(id) => Ok(FieldSelector {
                id: Some(id),
                text: None,
            }),
            RawSelector::Text(t) => {
                let t = t.trim();
                if t.is_empty() {
                    return Err("is empty".into());
                }
                Ok(FieldSelector {
                    id: t.parse().ok(),
                    text: Some(t.to_lowercase()),
                })
            }
        }
    }

    /// Whether the field with this id, code and name is the one selected.
    pub(crate) fn matches(&self, id: Option<i64>, code: Option<&str>, name: Option<&str>) -> bool {
        if self.id.is_some() && self.id == id {
            return true;
        }
        let Some(text) = self.text.as_deref() else {
            return false;
        };
        code.is_some_and(|c| eq_lowercase(c, text)) || name.is_some_and(|n| eq_lowercase(n, text))
    }
}

/// `value` equals the already lower-cased `lower`, ignoring case, without allocating.
pub(crate) fn eq_lowercase(value: &str, lower: &str) -> bool {
    if value.is_ascii() && lower.is_ascii() {
        return value.eq_ignore_ascii_case(lower);
    }
    value.chars().flat_map(char::to_lowercase).eq(lower.chars())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSelector {
    Id(i64),
    Text(String),
}

#[derive(Deserialize, Default)]
struct RawFields {
    product: Option<RawSelector>,
    segment: Option<RawSelector>,
    region: Option<RawSelector>,
    discount: Option<RawSelector>,
    lead_source: Option<RawSelector>,
    utm_source: Option<RawSelector>,
    utm_medium: Option<RawSelector>,
    utm_campaign: Option<RawSelector>,
    utm_content: Option<RawSelector>,
    utm_term: Option<RawSelector>,
    gclid: Option<RawSelector>,
    yclid: Option<RawSelector>,
    fbclid: Option<RawSelector>,
}

/// Configured custom fields; `None` where nothing is configured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields {
    pub(crate) product: Option<FieldSelector>,
    pub(crate) segment: Option<FieldSelector>,
    pub(crate) region: Option<FieldSelector>,
    pub(crate) discount: Option<FieldSelector>,
    pub(crate) lead_source: Option<FieldSelector>,
    /// Overrides of the marks, in the order of [`crate::normalize::MARK_CODES`].
    pub(crate) marks: [Option<FieldSelector>; 8],
}

#[derive(Deserialize)]
struct Raw {
    subdomain: Option<String>,
    domain: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    redirect_uri: Option<String>,
    long_lived_token: Option<SecretString>,
    currency: Option<String>,
    webhook_token: Option<SecretString>,
    // Not an Option: serde_ignored would name unknown keys below it `fields.?.key`.
    #[serde(default)]
    fields: RawFields,
}

/// How requests authenticate.
#[derive(Clone)]
pub(crate) enum AuthSettings {
    /// `Authorization: Bearer <long-lived token>`; nothing to refresh.
    LongLived(SecretString),
    /// OAuth 2.0 with tokens kept in the store.
    OAuth {
        client_id: String,
        client_secret: SecretString,
        redirect_uri: String,
    },
}

/// Validated settings.
#[derive(Clone)]
pub struct Settings {
    /// `https://{subdomain}.amocrm.ru`, `https://{domain}` or the `base_url` override.
    pub(crate) base_url: Url,
    pub(crate) auth: AuthSettings,
    pub(crate) currency: Option<Currency>,
    pub(crate) webhook_token: Option<SecretString>,
    pub(crate) fields: Fields,
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl Settings {
    pub(crate) fn parse(
        value: &serde_json::Value,
        base_url: Option<&Url>,
    ) -> Result<Settings, Vec<SettingsError>> {
        let mut known: Vec<String> = SETTINGS.iter().map(|s| s.name.to_string()).collect();
        known.extend(FIELD_KEYS.iter().map(|k| format!("fields.{k}")));
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let raw: Raw = parse(value, &known)?;
        let mut errors = Vec::new();

        let host_url = match (raw.subdomain.as_deref(), raw.domain.as_deref()) {
            (Some(_), Some(_)) => {
                errors.push(
                    SettingsError::new("domain", "both subdomain and domain are set")
                        .hint("keep one: `subdomain = \"okhvat\"` for okhvat.amocrm.ru, or `domain = \"mycompany.kommo.com\"`"),
                );
                None
            }
            (Some(sub), None) => {
                let sub = sub.trim();
                if is_label(sub) {
                    Url::parse(&format!("https://{}.amocrm.ru", sub.to_ascii_lowercase())).ok()
                } else {
                    errors.push(
                        SettingsError::new("subdomain", format!("{sub:?} is not a subdomain"))
                            .hint("give only the first label: `okhvat` for https://okhvat.amocrm.ru; use `domain` for a full host"),
                    );
                    None
                }
            }
            (None, Some(domain)) => {
                let domain = domain.trim().trim_end_matches('.');
                let labels: Vec<&str> = domain.split('.').collect();
                if labels.len() >= 2 && labels.iter().all(|l| is_label(l)) {
                    Url::parse(&format!("https://{}", domain.to_ascii_lowercase())).ok()
                } else {
                    errors.push(
                        SettingsError::new("domain", format!("{domain:?} is not a host name"))
                            .hint(
                            "give the host only, without https:// or a path: `mycompany.kommo.com`",
                        ),
                    );
                    None
                }
            }
            (None, None) => {
                if base_url.is_none() {
                    errors.push(
                        SettingsError::new("subdomain", "missing").hint(
                            "set `subdomain = \"okhvat\"` (okhvat.amocrm.ru) or `domain = \"mycompany.kommo.com\"`",
                        ),
                    );
                }
                None
            }
        };
        let base_url = base_url.cloned().or(host_url);

        let oauth_given =
            raw.client_id.is_some() || raw.client_secret.is_some() || raw.redirect_uri.is_some();
        let auth = match raw.long_lived_token {
            Some(_) if oauth_given => {
                errors.push(
                    SettingsError::new(
                        "long_lived_token",
                        "both a long-lived token and OAuth settings are set",
                    )
                    .hint("keep either `long_lived_token`, or `client_id` + `client_secret` + `redirect_uri`"),
                );
                None
            }
            Some(token) => Some(AuthSettings::LongLived(token)),
            None if !oauth_given => {
                errors.push(SettingsError::new("long_lived_token", "no credentials").hint(
                    "set `long_lived_token = \"${AMOCRM_LONG_LIVED_TOKEN}\"` (private integration), or `client_id`, `client_secret` and `redirect_uri` for OAuth",
                ));
                None
            }
            None => {
                let missing = |key: &str, hint: &str| {
                    SettingsError::new(
                        key,
                        "missing: OAuth needs client_id, client_secret and redirect_uri",
                    )
                    .hint(hint)
                };
                let client_id = raw.client_id.filter(|s| !s.trim().is_empty());
                let redirect_uri = raw.redirect_uri.filter(|s| !s.trim().is_empty());
                if client_id.is_none() {
                    errors.push(missing(
                        "client_id",
                        "the integration ID from its Keys and scopes tab",
                    ));
                }
                if raw.client_secret.is_none() {
                    errors.push(missing(
                        "client_secret",
                        "set `client_secret = \"${AMOCRM_CLIENT_SECRET}\"` (the integration's secret key)",
                    ));
                }
                if redirect_uri.is_none() {
                    errors.push(missing(
                        "redirect_uri",
                        "the Redirect URI registered for the integration, exactly as written there",
                    ));
                }
                match (client_id, raw.client_secret, redirect_uri) {
                    (Some(client_id), Some(client_secret), Some(redirect_uri)) => {
                        if Url::parse(redirect_uri.trim()).is_err() {
                            errors.push(
                                SettingsError::new(
                                    "redirect_uri",
                                    format!("{redirect_uri:?} is not a URL"),
                                )
                                .hint("an absolute URL such as https://okno.example.com/amocrm/callback"),
                            );
                        }
                        Some(AuthSettings::OAuth {
                            client_id: client_id.trim().to_string(),
                            client_secret,
                            redirect_uri: redirect_uri.trim().to_string(),
                        })
                    }
                    _ => None,
                }
            }
        };

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

        let fields = fields(raw.fields, &mut errors);

        match (base_url, auth) {
            (Some(base_url), Some(auth)) if errors.is_empty() => Ok(Settings {
                base_url,
                auth,
                currency,
                webhook_token: raw.webhook_token,
                fields,
            }),
            _ => Err(errors),
        }
    }
}

fn fields(raw: RawFields, errors: &mut Vec<SettingsError>) -> Fields {
    let mut one = |key: &str, sel: Option<RawSelector>| -> Option<FieldSelector> {
        match FieldSelector::from_raw(sel?) {
            Ok(s) => Some(s),
            Err(why) => {
                errors.push(
                    SettingsError::new(format!("fields.{key}"), why)
                        .hint("name the custom field by its numeric id, its code, or its name"),
                );
                None
            }
        }
    };
    Fields {
        product: one("product", raw.product),
        segment: one("segment", raw.segment),
        region: one("region", raw.region),
        discount: one("discount", raw.discount),
        lead_source: one("lead_source", raw.lead_source),
        marks: [
            one("utm_source", raw.utm_source),
            one("utm_medium", raw.utm_medium),
            one("utm_campaign", raw.utm_campaign),
            one("utm_content", raw.utm_content),
            one("utm_term", raw.utm_term),
            one("gclid", raw.gclid),
            one("yclid", raw.yclid),
            one("fbclid", raw.fbclid),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okno_connector::ExposeSecret;
    use serde_json::json;

    fn keys(errs: &[SettingsError]) -> Vec<&str> {
        errs.iter().map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn builds_base_urls_from_subdomain_or_domain() {
        let s = Settings::parse(
            &json!({"subdomain": "Okhvat", "long_lived_token": "t"}),
            None,
        )
        .ok()
        .unwrap();
        assert_eq!(s.base_url.as_str(), "https://okhvat.amocrm.ru/");
        assert!(matches!(&s.auth, AuthSettings::LongLived(t) if t.expose_secret() == "t"));
        let s = Settings::parse(
            &json!({"domain": "mycompany.kommo.com", "client_id": "id", "client_secret": "s",
                    "redirect_uri": "https://okno.example.com/cb", "currency": "usd"}),
            None,
        )
        .ok()
        .unwrap();
        assert_eq!(s.base_url.as_str(), "https://mycompany.kommo.com/");
        assert_eq!(s.currency.map(|c| c.to_string()).as_deref(), Some("USD"));
        assert!(matches!(&s.auth, AuthSettings::OAuth { client_id, .. } if client_id == "id"));
    }

    #[test]
    fn rejects_hosts_with_schemes_and_paths() {
        let errs = Settings::parse(
            &json!({"domain": "https://x.kommo.com/", "long_lived_token": "t"}),
            None,
        )
        .err()
        .unwrap();
        assert_eq!(keys(&errs), ["domain"]);
        let errs = Settings::parse(
            &json!({"subdomain": "x.amocrm.ru", "long_lived_token": "t"}),
            None,
        )
        .err()
        .unwrap();
        assert_eq!(keys(&errs), ["subdomain"]);
    }

    #[test]
    fn selectors_match_by_id_code_or_name_ignoring_case() {
        let by_name = FieldSelector::from_raw(RawSelector::Text("ПРОДУКТ".into())).unwrap();
        assert!(by_name.matches(Some(1), None, Some("Продукт")));
        assert!(!by_name.matches(Some(1), None, Some("Продукты")));
        let by_code = FieldSelector::from_raw(RawSelector::Text("utm_source".into())).unwrap();
        assert!(by_code.matches(None, Some("UTM_SOURCE"), Some("other")));
        let by_id = FieldSelector::from_raw(RawSelector::Id(1032841)).unwrap();
        assert!(by_id.matches(Some(1032841), None, None));
        assert!(!by_id.matches(Some(1032843), None, Some("1032841")));
        let digits = FieldSelector::from_raw(RawSelector::Text("1032841".into())).unwrap();
        assert!(digits.matches(Some(1032841), None, None));
        assert!(FieldSelector::from_raw(RawSelector::Text("  ".into())).is_err());
    }

    #[test]
    fn nested_unknown_keys_get_a_suggestion() {
        let errs = Settings::parse(
            &json!({"subdomain": "x", "long_lived_token": "t", "fields": {"prodcut": "Продукт"}}),
            None,
        )
        .err()
        .unwrap();
        assert_eq!(keys(&errs), ["fields.prodcut"]);
        assert_eq!(
            errs[0].hint.as_deref(),
            Some("did you mean `fields.product`?")
        );
    }
}
