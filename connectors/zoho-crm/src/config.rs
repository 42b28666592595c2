//! `[connector.settings]` of a Zoho CRM instance.

use okno_connector::settings::{closest, parse};
use okno_connector::{ExposeSecret, SecretString, SettingSpec, SettingsError};
use serde::Deserialize;
use url::Url;

/// The Zoho data centres okno knows: `data_centre` value, accounts server, default API domain.
///
/// The API domain is only a fallback: the token response names the account's `api_domain`, and
/// that is what okno calls. Sources (see the crate docs): Zoho's multi-DC and token pages; the
/// Canadian accounts server is `accounts.zohocloud.ca` (not `zoho.ca`); the UK API domain
/// `www.zohoapis.uk` is not confirmed by Zoho's pages (only its accounts server is).
pub(crate) const DATA_CENTRES: &[(&str, &str, &str)] = &[
    (
        "com",
        "https://accounts.zoho.com",
        "https://www.zohoapis.com",
    ),
    ("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    ("in", "https://accounts.zoho.in", "https://www.zohoapis.in"),
    (
        "com.au",
        "https://accounts.zoho.com.au",
        "https://www.zohoapis.com.au",
    ),
    ("jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    (
        "ca",
        "https://accounts.zohocloud.ca",
        "https://www.zohoapis.ca",
    ),
    (
        "com.cn",
        "https://accounts.zoho.com.cn",
        "https://www.zohoapis.com.cn",
    ),
    ("sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    ("uk", "https://accounts.zoho.uk", "https://www.zohoapis.uk"),
];

/// Zoho refuses a notification `token` longer than 50 characters (v7 docs; the v8 OAS says 256).
pub(crate) const MAX_WEBHOOK_TOKEN: usize = 50;

pub(crate) const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: "data_centre",
        doc: "the Zoho data centre of the account, i.e. the domain of its accounts server: com, eu, in, com.au, jp, ca, com.cn, sa or uk",
        required: true,
        secret: false,
        example: "\"eu\"",
    },
    SettingSpec {
        name: "accounts_url",
        doc: "overrides the accounts server that data_centre implies (tests, proxies)",
        required: false,
        secret: false,
        example: "\"https://accounts.zoho.eu\"",
    },
    SettingSpec {
        name: "client_id",
        doc: "client id of the Self Client (or server-based client) in the Zoho API console",
        required: true,
        secret: false,
        example: "\"1000.ABCDEF1234567890\"",
    },
    SettingSpec {
        name: "client_secret",
        doc: "client secret of that client",
        required: true,
        secret: true,
        example: "\"${ZOHO_CLIENT_SECRET}\"",
    },
    SettingSpec {
        name: "redirect_uri",
        doc: "the client's redirect URI, sent with the code exchange; leave out for Self Client grant codes",
        required: false,
        secret: false,
        example: "\"https://okno.example.com/oauth/zoho\"",
    },
    SettingSpec {
        name: "notify_url",
        doc: "public URL of okno's webhook endpoint for this instance (https://HOST/hooks/<instance>); with webhook_token, okno keeps a Zoho notification channel for Leads and Deals subscribed",
        required: false,
        secret: false,
        example: "\"https://okno.example.com/hooks/zoho\"",
    },
    SettingSpec {
        name: "webhook_token",
        doc: "secret (at most 50 characters) Zoho echoes in every notification; enables POST /hooks/<instance>",
        required: false,
        secret: true,
        example: "\"${ZOHO_WEBHOOK_TOKEN}\"",
    },
    SettingSpec {
        name: "won_stages",
        doc: "Deal stages counted as won when Zoho's stage metadata (forecast type) is unavailable",
        required: false,
        secret: false,
        example: "[\"Closed Won\"]",
    },
    SettingSpec {
        name: "lost_stages",
        doc: "Deal stages counted as lost when Zoho's stage metadata is unavailable",
        required: false,
        secret: false,
        example: "[\"Closed Lost\", \"Closed Lost to Competition\"]",
    },
    SettingSpec {
        name: "lost_lead_statuses",
        doc: "Lead_Status values that count a lead as lost (every other status is open)",
        required: false,
        secret: false,
        example: "[\"Junk Lead\", \"Lost Lead\", \"Not Qualified\"]",
    },
    SettingSpec {
        name: "fields",
        doc: "API names of the fields holding marks and attributes: utm_source, utm_medium, utm_campaign, utm_content, utm_term, gclid (default GCLID, read when the module has it), yclid, fbclid, product, segment, region, discount; \"\" turns a default off",
        required: false,
        secret: false,
        example: "{ utm_source = \"UTM_Source\", utm_campaign = \"UTM_Campaign\" }",
    },
];

/// Keys of the `fields` table, in `Marks`/`Lead` order.
pub(crate) const FIELD_KEYS: &[&str] = &[
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "gclid",
    "yclid",
    "fbclid",
    "product",
    "segment",
    "region",
    "discount",
];

/// The API name read for `gclid` when `fields.gclid` is not set: the field Zoho's Google Ads
/// integration adds. Requested only when the module's field metadata lists it.
pub(crate) const DEFAULT_GCLID_FIELD: &str = "GCLID";

fn default_won() -> Vec<String> {
    vec!["Closed Won".into()]
}

fn default_lost() -> Vec<String> {
    vec![
        "Closed Lost".into(),
        "Closed-Lost to Competition".into(),
        "Closed Lost to Competition".into(),
    ]
}

fn default_lost_leads() -> Vec<String> {
    vec![
        "Junk Lead".into(),
        "Lost Lead".into(),
        "Not Qualified".into(),
    ]
}

#[derive(Deserialize)]
struct Raw {
    data_centre: Option<String>,
    accounts_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    redirect_uri: Option<String>,
    notify_url: Option<String>,
    webhook_token: Option<SecretString>,
    won_stages: Option<Vec<String>>,
    lost_stages: Option<Vec<String>>,
    lost_lead_statuses: Option<Vec<String>>,
    #[serde(default)]
    fields: RawFields,
}

#[derive(Deserialize, Default)]
struct RawFields {
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    utm_content: Option<String>,
    utm_term: Option<String>,
    gclid: Option<String>,
    yclid: Option<String>,
    fbclid: Option<String>,
    product: Option<String>,
    segment: Option<String>,
    region: Option<String>,
    discount: Option<String>,
}

/// One configured field: its API name and whether it was configured (else a default that is
/// requested only where the module's metadata lists it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldRef {
    pub(crate) api_name: String,
    pub(crate) configured: bool,
}

/// API names of the configured fields, by `fields` key.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldMap {
    pub(crate) utm_source: Option<FieldRef>,
    pub(crate) utm_medium: Option<FieldRef>,
    pub(crate) utm_campaign: Option<FieldRef>,
    pub(crate) utm_content: Option<FieldRef>,
    pub(crate) utm_term: Option<FieldRef>,
    pub(crate) gclid: Option<FieldRef>,
    pub(crate) yclid: Option<FieldRef>,
    pub(crate) fbclid: Option<FieldRef>,
    pub(crate) product: Option<FieldRef>,
    pub(crate) segment: Option<FieldRef>,
    pub(crate) region: Option<FieldRef>,
    pub(crate) discount: Option<FieldRef>,
}

impl FieldMap {
    pub(crate) fn all(&self) -> impl Iterator<Item = &FieldRef> {
        [
            &self.utm_source,
            &self.utm_medium,
            &self.utm_campaign,
            &self.utm_content,
            &self.utm_term,
            &self.gclid,
            &self.yclid,
            &self.fbclid,
            &self.product,
            &self.segment,
            &self.region,
            &self.discount,
        ]
        .into_iter()
        .flatten()
    }
}

/// Validated settings.
#[derive(Clone)]
pub struct Settings {
    pub(crate) accounts_url: Url,
    /// Whether `accounts_url` was given explicitly (then a plain-http `api_domain` is accepted).
    pub(crate) accounts_overridden: bool,
    /// Where the API is called when the token carries no `api_domain` and no base_url is set.
    pub(crate) default_api_domain: Option<Url>,
    /// `base_url` of the `[[connector]]` block: overrides every other API domain.
    pub(crate) base_url: Option<Url>,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) notify_url: Option<Url>,
    pub(crate) webhook_token: Option<SecretString>,
    pub(crate) won_stages: Vec<String>,
    pub(crate) lost_stages: Vec<String>,
    pub(crate) lost_lead_statuses: Vec<String>,
    pub(crate) fields: FieldMap,
}

fn known_keys() -> Vec<String> {
    SETTINGS
        .iter()
        .map(|s| s.name.to_string())
        .chain(FIELD_KEYS.iter().map(|k| format!("fields.{k}")))
        .collect()
}

/// A field API name as Zoho writes them: letters, digits, `_` (custom fields end in `__c` in
/// some editions, `$` starts system fields).
fn valid_api_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

impl Settings {
    pub(crate) fn parse(
        value: &serde_json::Value,
        base_url: Option<&Url>,
    ) -> Result<Settings, Vec<SettingsError>> {
        let known = known_keys();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let raw: Raw = parse(value, &known)?;
        let mut errors = Vec::new();

        let names: Vec<&str> = DATA_CENTRES.iter().map(|(n, _, _)| *n).collect();
        let dc = match raw
            .data_centre
            .as_deref()
            .map(|d| d.trim().to_ascii_lowercase())
        {
            Some(d) => match DATA_CENTRES.iter().find(|(n, _, _)| *n == d) {
                Some(found) => Some(*found),
                None => {
                    let mut err = SettingsError::new(
                        "data_centre",
                        format!("{d:?} is not a Zoho data centre"),
                    );
                    err = match closest(&d, &names) {
                        Some(near) => err.hint(format!(
                            "did you mean `{near}`? known: {}",
                            names.join(", ")
                        )),
                        None => err.hint(format!(
                            "one of {} (the domain of the accounts server: accounts.zoho.eu → eu)",
                            names.join(", ")
                        )),
                    };
                    errors.push(err);
                    None
                }
            },
            None => None,
        };

        let accounts_url = match (raw.accounts_url.as_deref(), dc) {
            (Some(u), _) => match Url::parse(u.trim()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
                _ => {
                    errors.push(
                        SettingsError::new("accounts_url", format!("{u:?} is not an http(s) URL"))
                            .hint("e.g. https://accounts.zoho.eu"),
                    );
                    None
                }
            },
            (None, Some((_, accounts, _))) => Url::parse(accounts).ok(),
            (None, None) => {
                if raw.data_centre.is_none() {
                    errors.push(SettingsError::new("data_centre", "missing").hint(format!(
                        "the domain of the account's accounts server, one of {}",
                        names.join(", ")
                    )));
                }
                None
            }
        };
        let default_api_domain = dc.and_then(|(_, _, api)| Url::parse(api).ok());

        let client_id =
            match raw.client_id.map(|c| c.trim().to_string()) {
                Some(c) if !c.is_empty() => Some(c),
                _ => {
                    errors.push(SettingsError::new("client_id", "missing").hint(
                        "API console (https://api-console.zoho.com) > Self Client > Client ID",
                    ));
                    None
                }
            };
        let client_secret = match raw.client_secret {
            Some(s) if !s.expose_secret().trim().is_empty() => Some(s),
            _ => {
                errors.push(
                    SettingsError::new("client_secret", "missing")
                        .hint("client_secret = \"${ZOHO_CLIENT_SECRET}\""),
                );
                None
            }
        };

        let notify_url = match raw.notify_url.as_deref() {
            None => None,
            Some(u) => match Url::parse(u.trim()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
                _ => {
                    errors.push(
                        SettingsError::new("notify_url", format!("{u:?} is not an http(s) URL"))
                            .hint(
                                "the public URL of okno's endpoint, https://HOST/hooks/<instance>",
                            ),
                    );
                    None
                }
            },
        };
        let webhook_token = match raw.webhook_token {
            Some(t) => {
                let len = t.expose_secret().chars().count();
                if len == 0 || len > MAX_WEBHOOK_TOKEN {
                    errors.push(
                        SettingsError::new(
                            "webhook_token",
                            format!(
                                "is {len} characters long; Zoho accepts 1 to {MAX_WEBHOOK_TOKEN}"
                            ),
                        )
                        .hint("e.g. 40 random hex characters"),
                    );
                    None
                } else {
                    Some(t)
                }
            }
            None => None,
        };
        if raw.notify_url.is_some()
            && webhook_token.is_none()
            && !errors.iter().any(|e| e.key == "webhook_token")
        {
            errors.push(
                SettingsError::new("notify_url", "is set without webhook_token").hint(
                    "Zoho signs nothing: the echoed webhook_token is the only proof a notification comes from Zoho",
                ),
            );
        }

        let mut fields = FieldMap::default();
        let f = raw.fields;
        let entries: [(&str, Option<String>, &mut Option<FieldRef>); 12] = [
            ("utm_source", f.utm_source, &mut fields.utm_source),
            ("utm_medium", f.utm_medium, &mut fields.utm_medium),
            ("utm_campaign", f.utm_campaign, &mut fields.utm_campaign),
            ("utm_content", f.utm_content, &mut fields.utm_content),
            ("utm_term", f.utm_term, &mut fields.utm_term),
            ("gclid", f.gclid, &mut fields.gclid),
            ("yclid", f.yclid, &mut fields.yclid),
            ("fbclid", f.fbclid, &mut fields.fbclid),
            ("product", f.product, &mut fields.product),
            ("segment", f.segment, &mut fields.segment),
            ("region", f.region, &mut fields.region),
            ("discount", f.discount, &mut fields.discount),
        ];
        for (key, value, slot) in entries {
            match value.map(|v| v.trim().to_string()) {
                // An empty name switches a default off.
                Some(v) if v.is_empty() => {}
                Some(v) if valid_api_name(&v) => {
                    *slot = Some(FieldRef {
                        api_name: v,
                        configured: true,
                    })
                }
                Some(v) => errors.push(
                    SettingsError::new(format!("fields.{key}"), format!("{v:?} is not a field API name"))
                        .hint("give the API name (Setup > Developer Hub > APIs > API names), e.g. UTM_Source, not the label"),
                ),
                None if key == "gclid" => {
                    *slot = Some(FieldRef {
                        api_name: DEFAULT_GCLID_FIELD.into(),
                        configured: false,
                    })
                }
                None => {}
            }
        }

        let stages = |key: &str,
                      v: Option<Vec<String>>,
                      default: fn() -> Vec<String>,
                      errors: &mut Vec<SettingsError>| {
            let list: Vec<String> = v
                .unwrap_or_else(default)
                .into_iter()
                .map(|s| s.trim().to_string())
                .collect();
            if list.iter().any(String::is_empty) {
                errors.push(SettingsError::new(key, "contains an empty name"));
            }
            list
        };
        let won_stages = stages("won_stages", raw.won_stages, default_won, &mut errors);
        let lost_stages = stages("lost_stages", raw.lost_stages, default_lost, &mut errors);
        let lost_lead_statuses = stages(
            "lost_lead_statuses",
            raw.lost_lead_statuses,
            default_lost_leads,
            &mut errors,
        );
        if let Some(both) = won_stages
            .iter()
            .find(|w| lost_stages.iter().any(|l| l.eq_ignore_ascii_case(w)))
        {
            errors.push(
                SettingsError::new("lost_stages", format!("{both:?} is also in won_stages"))
                    .hint("a stage is either won or lost"),
            );
        }

        match (accounts_url, client_id, client_secret) {
            (Some(accounts_url), Some(client_id), Some(client_secret)) if errors.is_empty() => {
                Ok(Settings {
                    accounts_url,
                    accounts_overridden: raw.accounts_url.is_some(),
                    default_api_domain,
                    base_url: base_url.cloned(),
                    client_id,
                    client_secret,
                    redirect_uri: raw
                        .redirect_uri
                        .map(|r| r.trim().to_string())
                        .filter(|r| !r.is_empty()),
                    notify_url,
                    webhook_token,
                    won_stages,
                    lost_stages,
                    lost_lead_statuses,
                    fields,
                })
            }
            _ => Err(errors),
        }
    }

    /// `{accounts}/oauth/v2/token`.
    pub(crate) fn token_url(&self) -> String {
        format!(
            "{}/oauth/v2/token",
            self.accounts_url.as_str().trim_end_matches('/')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({"data_centre": "eu", "client_id": "1000.X", "client_secret": "s"})
    }

    #[test]
    fn the_data_centre_picks_the_accounts_server_and_api_domain() {
        let s = Settings::parse(&base(), None).ok().unwrap();
        assert_eq!(s.token_url(), "https://accounts.zoho.eu/oauth/v2/token");
        assert_eq!(
            s.default_api_domain.as_ref().map(Url::as_str),
            Some("https://www.zohoapis.eu/")
        );
        let mut ca = base();
        ca["data_centre"] = json!("ca");
        let s = Settings::parse(&ca, None).ok().unwrap();
        assert_eq!(
            s.token_url(),
            "https://accounts.zohocloud.ca/oauth/v2/token"
        );
        assert_eq!(s.won_stages, ["Closed Won"]);
        assert_eq!(s.lost_lead_statuses.len(), 3);
        assert_eq!(
            s.fields.gclid,
            Some(FieldRef {
                api_name: "GCLID".into(),
                configured: false
            })
        );
    }

    #[test]
    fn configured_fields_and_an_empty_name_turning_a_default_off() {
        let mut v = base();
        v["fields"] = json!({"utm_source": "UTM_Source", "gclid": ""});
        let s = Settings::parse(&v, None).ok().unwrap();
        assert_eq!(s.fields.utm_source.as_ref().unwrap().api_name, "UTM_Source");
        assert!(s.fields.utm_source.as_ref().unwrap().configured);
        assert_eq!(s.fields.gclid, None);
        v["fields"] = json!({"utm_source": "UTM Source"});
        let errs = Settings::parse(&v, None).err().unwrap();
        assert_eq!(errs[0].key, "fields.utm_source");
    }

    #[test]
    fn missing_credentials_are_reported_together() {
        let errs = Settings::parse(&json!({}), None).err().unwrap();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["data_centre", "client_id", "client_secret"]);
    }

    #[test]
    fn a_stage_cannot_be_won_and_lost() {
        let mut v = base();
        v["won_stages"] = json!(["Closed Won", "Done"]);
        v["lost_stages"] = json!(["done"]);
        let errs = Settings::parse(&v, None).err().unwrap();
        assert_eq!(errs[0].key, "lost_stages");
    }
}
