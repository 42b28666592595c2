//! Zoho Accounts: exchanging a grant code and refreshing access tokens.
//!
//! Both are `POST {accounts}/oauth/v2/token` with a form body. Zoho answers errors with
//! **HTTP 200** and an `error` key, so the body is checked, not only the status:
//! - `invalid_code`: the grant code expired (3 minutes by default) or was used, or the refresh
//!   token was revoked → an auth error that says to run `okno auth` again;
//! - `invalid_client` / `invalid_client_secret`: wrong client id or secret, or the tokens belong
//!   to another data centre → an auth error naming the accounts server used;
//! - `Access Denied`: more than 10 access tokens requested from one refresh token in 10
//!   minutes → reported as rate limiting: the stored access token (valid for an hour) is reused
//!   and the refresh retried on a later run.
//!
//! A refresh answer carries no refresh token; the stored one is kept (see `OAuthSession`).

use std::time::Duration;

use chrono::Utc;
use okno_connector::{ConnectorError, ExposeSecret, HttpClient, Refresher, SecretString, TokenSet};

use crate::config::Settings;
use crate::model::TokenResponse;

const EP: &str = "oauth/v2/token";

/// Zoho's access tokens live an hour; used when the answer has no `expires_in`.
const DEFAULT_LIFETIME_SECS: i64 = 3600;

pub(crate) struct Accounts {
    pub(crate) http: HttpClient,
    pub(crate) token_url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) redirect_uri: Option<String>,
    /// For error messages: which data centre's accounts server was asked.
    pub(crate) accounts_host: String,
}

impl Accounts {
    pub(crate) fn new(http: HttpClient, settings: &Settings) -> Accounts {
        Accounts {
            http,
            token_url: settings.token_url(),
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            redirect_uri: settings.redirect_uri.clone(),
            accounts_host: settings
                .accounts_url
                .host_str()
                .unwrap_or("the accounts server")
                .to_string(),
        }
    }

    /// Exchanges a grant code (`grant_type=authorization_code`) for the first pair.
    pub(crate) async fn exchange_code(
        &self,
        code: &SecretString,
        setup_hint: &str,
    ) -> Result<TokenSet, ConnectorError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose_secret()),
            ("code", code.expose_secret()),
        ];
        if let Some(r) = &self.redirect_uri {
            form.push(("redirect_uri", r));
        }
        let tokens = self.request(&form, setup_hint).await?;
        if tokens.refresh_token.is_none() {
            return Err(ConnectorError::Auth {
                endpoint: EP,
                status: 200,
                message: "Zoho returned no refresh token for this code: generate it with access_type=offline (Self Client codes always are)".into(),
            });
        }
        Ok(tokens)
    }

    async fn request(
        &self,
        form: &[(&str, &str)],
        setup_hint: &str,
    ) -> Result<TokenSet, ConnectorError> {
        let url = self.token_url.as_str();
        // An unlisted bucket: the token endpoint has its own limits, unrelated to API credits.
        let resp = self
            .http
            .send(EP, "accounts", |c| c.post(url).form(form))
            .await
            .map_err(|e| match e {
                ConnectorError::Auth {
                    endpoint,
                    status,
                    message,
                } => ConnectorError::Auth {
                    endpoint,
                    status,
                    message: format!("{message} ({setup_hint})"),
                },
                other => other,
            })?;
        let body: TokenResponse = resp.json(EP)?;
        if let Some(error) = body.error.as_deref() {
            return Err(self.token_error(error, body.error_description.as_deref(), setup_hint));
        }
        let access = body
            .access_token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                ConnectorError::decode(EP, "neither access_token nor error in the answer")
            })?;
        let lifetime = body
            .expires_in
            .as_ref()
            .and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_i64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_LIFETIME_SECS);
        Ok(TokenSet {
            access_token: SecretString::from(access),
            refresh_token: body
                .refresh_token
                .filter(|t| !t.trim().is_empty())
                .map(SecretString::from),
            expires_at: Some(Utc::now() + chrono::Duration::seconds(lifetime)),
            api_domain: body.api_domain.filter(|d| !d.trim().is_empty()),
        })
    }

    fn token_error(
        &self,
        error: &str,
        description: Option<&str>,
        setup_hint: &str,
    ) -> ConnectorError {
        let detail = description.map(|d| format!(": {d}")).unwrap_or_default();
        match error.trim() {
            "invalid_code" => ConnectorError::Auth {
                endpoint: EP,
                status: 200,
                message: format!(
                    "Zoho answered invalid_code{detail}: the grant code expired or was already used, or the refresh token was revoked; generate a new grant code and {setup_hint}"
                ),
            },
            "invalid_client" | "invalid_client_secret" => ConnectorError::Auth {
                endpoint: EP,
                status: 200,
                message: format!(
                    "Zoho answered {error}{detail}: check client_id and client_secret, and that data_centre matches the account (tokens were requested from {})",
                    self.accounts_host
                ),
            },
            e if e.eq_ignore_ascii_case("access denied") || e.eq_ignore_ascii_case("access_denied") => {
                tracing::warn!(
                    "Zoho refused to mint another access token (at most 10 per refresh token in 10 minutes){detail}"
                );
                ConnectorError::RateLimited {
                    endpoint: "oauth/v2/token: Zoho mints at most 10 access tokens per refresh token in 10 minutes; the stored access token is reused while valid and the refresh is retried later",
                    retry_after: Some(Duration::from_secs(600)),
                }
            }
            other => ConnectorError::Auth {
                endpoint: EP,
                status: 200,
                message: format!("Zoho refused the token request: {other}{detail}"),
            },
        }
    }
}

/// The `Refresher` the OAuth session calls: `grant_type=refresh_token`.
pub(crate) struct ZohoRefresher {
    pub(crate) accounts: std::sync::Arc<Accounts>,
    pub(crate) setup_hint: String,
}

#[okno_connector::async_trait]
impl Refresher for ZohoRefresher {
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, ConnectorError> {
        let a = &self.accounts;
        let form: [(&str, &str); 4] = [
            ("grant_type", "refresh_token"),
            ("client_id", &a.client_id),
            ("client_secret", a.client_secret.expose_secret()),
            ("refresh_token", refresh_token.expose_secret()),
        ];
        a.request(&form, &self.setup_hint).await
    }
}
