//! `[connector.settings]` of a Jira instance (Cloud or Data Center).

use chrono_tz::Tz;
use okno_connector::settings::parse;
use okno_connector::{SecretString, SettingSpec, SettingsError};
use serde::Deserialize;
use url::Url;

pub(crate) const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: "deployment",
        doc: "`cloud` (default; https://<site>.atlassian.net, REST API v3) or `data_center` (your own server given as the instance's `base_url`, REST API v2; Jira Server too)",
        required: false,
        secret: false,
        example: "\"cloud\"",
    },
    SettingSpec {
        name: "site",
        doc: "Jira Cloud site name: `acme` for https://acme.atlassian.net (Cloud only; Data Center uses the instance's `base_url`)",
        required: false,
        secret: false,
        example: "\"acme\"",
    },
    SettingSpec {
        name: "email",
        doc: "Cloud: the Atlassian account e-mail the API token belongs to (basic auth email:api_token)",
        required: false,
        secret: false,
        example: "\"okno-bot@acme.example\"",
    },
    SettingSpec {
        name: "api_token",
        doc: "Cloud: an API token of that account (id.atlassian.com > Security > API tokens)",
        required: false,
        secret: true,
        example: "\"${JIRA_API_TOKEN}\"",
    },
    SettingSpec {
        name: "personal_access_token",
        doc: "Data Center: a personal access token (Profile > Personal Access Tokens; Jira 8.14+), sent as `Authorization: Bearer`",
        required: false,
        secret: true,
        example: "\"${JIRA_PAT}\"",
    },
    SettingSpec {
        name: "jql",
        doc: "an extra JQL filter ANDed with the sync's own clauses (no ORDER BY): only matching issues are synced",
        required: false,
        secret: false,
        example: "\"project in (MKT, CONTENT) AND issuetype != Sub-task\"",
    },
    SettingSpec {
        name: "projects",
        doc: "project keys to sync (all projects the account can browse when absent)",
        required: false,
        secret: false,
        example: "[\"MKT\", \"CONTENT\"]",
    },
    SettingSpec {
        name: "time_zone",
        doc: "IANA name of the API account's time zone in Jira (its profile setting), in which JQL reads dates; asked from /myself and cached when absent",
        required: false,
        secret: false,
        example: "\"Europe/Berlin\"",
    },
    SettingSpec {
        name: "campaign_field",
        doc: "id of the custom field naming the campaign an issue is for (text, select or multi-select)",
        required: false,
        secret: false,
        example: "\"customfield_10050\"",
    },
    SettingSpec {
        name: "estimate_field",
        doc: "id of the number field holding the estimate (story points)",
        required: false,
        secret: false,
        example: "\"customfield_10016\"",
    },
    SettingSpec {
        name: "webhook_secret",
        doc: "the secret of the admin webhook (Jira signs `X-Hub-Signature: sha256=<hex>`); enables webhooks",
        required: false,
        secret: true,
        example: "\"${JIRA_WEBHOOK_SECRET}\"",
    },
    SettingSpec {
        name: "webhook_secret_previous",
        doc: "the webhook secret being rotated out, still accepted until removed",
        required: false,
        secret: true,
        example: "\"${JIRA_WEBHOOK_SECRET_OLD}\"",
    },
];

/// Which Jira answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    /// Jira Cloud: REST API v3, `search/jql` with `nextPageToken`, basic auth with an API token.
    Cloud,
    /// Jira Data Center / Server: REST API v2, `search` with `startAt`, a personal access token.
    DataCenter,
}

/// How requests authenticate.
#[derive(Clone)]
pub(crate) enum Credentials {
    /// `Authorization: Basic base64(email:api_token)`.
    Basic {
        email: String,
        api_token: SecretString,
    },
    /// `Authorization: Bearer <personal access token>`.
    Bearer(SecretString),
}

/// Validated settings.
#[derive(Clone)]
pub struct Settings {
    pub(crate) deployment: Deployment,
    pub(crate) base_url: Url,
    pub(crate) credentials: Credentials,
    /// The user's `jql`, already checked to have no ORDER BY.
    pub(crate) jql: Option<String>,
    /// Upper-cased project keys.
    pub(crate) projects: Vec<String>,
    pub(crate) time_zone: Option<Tz>,
    pub(crate) campaign_field: Option<String>,
    pub(crate) estimate_field: Option<String>,
    pub(crate) webhook_secrets: Vec<SecretString>,
}

#[derive(Deserialize)]
struct Raw {
    deployment: Option<String>,
    site: Option<String>,
    email: Option<String>,
    api_token: Option<SecretString>,
    personal_access_token: Option<SecretString>,
    jql: Option<String>,
    projects: Option<Vec<String>>,
    time_zone: Option<String>,
    campaign_field: Option<String>,
    estimate_field: Option<String>,
    webhook_secret: Option<SecretString>,
    webhook_secret_previous: Option<SecretString>,
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Jira project keys: a letter, then letters, digits or underscores.
fn is_project_key(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 255
}

/// Field ids as Jira writes them: `customfield_10050`, or a system field id.
fn is_field_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `jql` has an ORDER BY clause outside quotes (the sync appends its own).
fn has_order_by(jql: &str) -> bool {
    let mut outside = String::with_capacity(jql.len());
    let mut quote: Option<char> = None;
    for c in jql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None => outside.push(c.to_ascii_lowercase()),
        }
    }
    let words: Vec<&str> = outside.split_whitespace().collect();
    words.windows(2).any(|w| w == ["order", "by"])
}

impl Settings {
    pub(crate) fn parse(
        value: &serde_json::Value,
        base_url: Option<&Url>,
    ) -> Result<Settings, Vec<SettingsError>> {
        let known: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let raw: Raw = parse(value, &known)?;
        let mut errors = Vec::new();

        let deployment = match raw.deployment.as_deref().map(str::trim) {
            None | Some("cloud") => Deployment::Cloud,
            Some("data_center") => Deployment::DataCenter,
            Some(other) => {
                // Checked further as what was most likely meant, so only this error shows.
                let (hint, meant) = match other.to_ascii_lowercase().as_str() {
                    "datacenter" | "data-center" | "data center" | "dc" | "server" => (
                        "write `deployment = \"data_center\"`",
                        Deployment::DataCenter,
                    ),
                    _ => (
                        "`cloud` (https://<site>.atlassian.net) or `data_center` (your own server)",
                        Deployment::Cloud,
                    ),
                };
                errors.push(
                    SettingsError::new("deployment", format!("{other:?} is not a deployment"))
                        .hint(hint),
                );
                meant
            }
        };

        let host_url = match (deployment, raw.site.as_deref()) {
            (Deployment::Cloud, Some(site)) => {
                let site = site.trim().to_ascii_lowercase();
                let name = site.strip_suffix(".atlassian.net").unwrap_or(&site);
                if is_label(name) {
                    Url::parse(&format!("https://{name}.atlassian.net")).ok()
                } else {
                    errors.push(
                        SettingsError::new("site", format!("{site:?} is not a Jira Cloud site name"))
                            .hint("give only the name: `acme` for https://acme.atlassian.net (a custom domain goes in the instance's `base_url`)"),
                    );
                    None
                }
            }
            (Deployment::Cloud, None) => {
                if base_url.is_none() {
                    errors.push(
                        SettingsError::new("site", "missing")
                            .hint("set `site = \"acme\"` for https://acme.atlassian.net"),
                    );
                }
                None
            }
            (Deployment::DataCenter, Some(_)) => {
                errors.push(
                    SettingsError::new("site", "`site` is for Jira Cloud")
                        .hint("a Data Center instance is reached through the `base_url` of its [[connector]] block, e.g. base_url = \"https://jira.acme.example\""),
                );
                None
            }
            (Deployment::DataCenter, None) => {
                if base_url.is_none() {
                    errors.push(
                        SettingsError::new("base_url", "missing: Data Center needs the server's address")
                            .hint("set `base_url = \"https://jira.acme.example\"` in the [[connector]] block (with the context path if Jira has one)"),
                    );
                }
                None
            }
        };
        let base_url = base_url.cloned().or(host_url);

        let email = raw
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        let credentials = match deployment {
            Deployment::Cloud => {
                if raw.personal_access_token.is_some() {
                    errors.push(
                        SettingsError::new("personal_access_token", "Jira Cloud does not take personal access tokens")
                            .hint("use `email` and `api_token`, or set `deployment = \"data_center\"` for your own server"),
                    );
                }
                match (email, raw.api_token) {
                    (Some(email), Some(api_token)) if email.contains('@') => {
                        Some(Credentials::Basic {
                            email: email.to_string(),
                            api_token,
                        })
                    }
                    (Some(email), Some(_)) => {
                        errors.push(
                            SettingsError::new(
                                "email",
                                format!("{email:?} is not an e-mail address"),
                            )
                            .hint("the Atlassian account e-mail the API token belongs to"),
                        );
                        None
                    }
                    (email, token) => {
                        if email.is_none() {
                            errors.push(SettingsError::new("email", "missing").hint(
                                "Jira Cloud authenticates with the account's e-mail and an API token",
                            ));
                        }
                        if token.is_none() {
                            errors.push(SettingsError::new("api_token", "missing").hint(
                                "set `api_token = \"${JIRA_API_TOKEN}\"` (create one at id.atlassian.com > Security > API tokens)",
                            ));
                        }
                        None
                    }
                }
            }
            Deployment::DataCenter => {
                if email.is_some() || raw.api_token.is_some() {
                    errors.push(
                        SettingsError::new(
                            if raw.api_token.is_some() {
                                "api_token"
                            } else {
                                "email"
                            },
                            "Data Center authenticates with a personal access token",
                        )
                        .hint("remove `email`/`api_token` and set `personal_access_token`"),
                    );
                }
                match raw.personal_access_token {
                    Some(t) => Some(Credentials::Bearer(t)),
                    None => {
                        errors.push(SettingsError::new("personal_access_token", "missing").hint(
                            "set `personal_access_token = \"${JIRA_PAT}\"` (Jira > Profile > Personal Access Tokens)",
                        ));
                        None
                    }
                }
            }
        };

        let jql = raw
            .jql
            .map(|j| j.trim().to_string())
            .filter(|j| !j.is_empty());
        if let Some(j) = &jql {
            if has_order_by(j) {
                errors.push(
                    SettingsError::new("jql", "must not contain ORDER BY")
                        .hint("okno orders by `updated` itself to resume where it stopped; keep only the filter"),
                );
            }
        }

        let mut projects = Vec::new();
        for (n, key) in raw.projects.unwrap_or_default().iter().enumerate() {
            let key = key.trim();
            if is_project_key(key) {
                let key = key.to_ascii_uppercase();
                if !projects.contains(&key) {
                    projects.push(key);
                }
            } else {
                errors.push(
                    SettingsError::new(
                        format!("projects[{n}]"),
                        format!("{key:?} is not a project key"),
                    )
                    .hint("project keys look like `MKT`: a letter, then letters, digits or `_`"),
                );
            }
        }

        let time_zone = match raw.time_zone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => match name.parse::<Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    errors.push(
                        SettingsError::new("time_zone", format!("{name:?} is not an IANA time zone"))
                            .hint("write it as in the account's Jira profile, e.g. `Europe/Berlin` or `Asia/Kolkata`; or leave it out to ask Jira"),
                    );
                    None
                }
            },
        };

        let mut field = |key: &str, v: Option<String>| -> Option<String> {
            let v = v?.trim().to_string();
            if is_field_id(&v) {
                Some(v)
            } else {
                errors.push(
                    SettingsError::new(key, format!("{v:?} is not a field id"))
                        .hint("give the field's id, e.g. `customfield_10050` (Jira admin > Issues > Custom fields, or GET /rest/api/3/field), not its name"),
                );
                None
            }
        };
        let campaign_field = field("campaign_field", raw.campaign_field);
        let estimate_field = field("estimate_field", raw.estimate_field);

        let mut webhook_secrets = Vec::new();
        match (raw.webhook_secret, raw.webhook_secret_previous) {
            (Some(current), previous) => {
                webhook_secrets.push(current);
                webhook_secrets.extend(previous);
            }
            (None, Some(_)) => errors.push(
                SettingsError::new("webhook_secret_previous", "set without `webhook_secret`")
                    .hint("the previous secret is accepted only during a rotation: set the new one as `webhook_secret`"),
            ),
            (None, None) => {}
        }

        match (base_url, credentials) {
            (Some(base_url), Some(credentials)) if errors.is_empty() => Ok(Settings {
                deployment,
                base_url,
                credentials,
                jql,
                projects,
                time_zone,
                campaign_field,
                estimate_field,
                webhook_secrets,
            }),
            _ => Err(errors),
        }
    }

    /// The filter every issue query carries: projects and the user's JQL, or `None` for all.
    pub(crate) fn filter(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.projects.is_empty() {
            let keys: Vec<String> = self.projects.iter().map(|k| format!("\"{k}\"")).collect();
            parts.push(format!("project in ({})", keys.join(", ")));
        }
        if let Some(j) = &self.jql {
            parts.push(format!("({j})"));
        }
        (!parts.is_empty()).then(|| parts.join(" AND "))
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
    fn cloud_site_becomes_the_base_url() {
        for site in ["acme", "ACME", "acme.atlassian.net"] {
            let s = Settings::parse(
                &json!({"site": site, "email": "a@acme.example", "api_token": "t"}),
                None,
            )
            .ok()
            .unwrap();
            assert_eq!(s.base_url.as_str(), "https://acme.atlassian.net/");
            assert_eq!(s.deployment, Deployment::Cloud);
        }
        let errs = Settings::parse(
            &json!({"site": "https://acme.atlassian.net/", "email": "a@acme.example", "api_token": "t"}),
            None,
        )
        .err()
        .unwrap();
        assert_eq!(keys(&errs), ["site"]);
    }

    #[test]
    fn order_by_is_found_outside_quotes_only() {
        assert!(has_order_by("project = MKT ORDER BY created"));
        assert!(has_order_by("project = MKT order\n by created"));
        assert!(!has_order_by("summary ~ \"order by\""));
        assert!(!has_order_by("labels = border AND status = 'by'"));
    }

    #[test]
    fn filter_joins_projects_and_jql() {
        let s = Settings::parse(
            &json!({"site": "acme", "email": "a@acme.example", "api_token": "t",
                    "projects": ["mkt", "CONTENT", "MKT"], "jql": "issuetype != Sub-task"}),
            None,
        )
        .ok()
        .unwrap();
        assert_eq!(
            s.filter().as_deref(),
            Some("project in (\"MKT\", \"CONTENT\") AND (issuetype != Sub-task)")
        );
    }
}
