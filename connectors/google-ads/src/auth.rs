//! OAuth 2.0 for the Google Ads API: the refresh-token grant at Google's token endpoint, through
//! the SDK's [`OAuthSession`] so access tokens (valid about an hour) are shared by every
//! process of the instance and a refresh happens once across them.
//!
//! The refresh token comes from the settings (Google issues it once, at consent time, and does
//! not normally rotate it on refresh). On first use the store has no row for the instance, so
//! the settings' refresh token is stored as an already expired pair, which the session then
//! refreshes. If Google ever sends a new `refresh_token` with a refresh, the session stores it
//! and uses it from then on. Should the stored token be refused (`invalid_grant`) while the
//! settings hold a different one, the settings' token is tried once: that is how an operator
//! who re-consented and put the new token in the settings recovers without touching the store.

use chrono::{DateTime, Utc};
use okno_connector::oauth::{Save, SessionOptions};
use okno_connector::{
    async_trait, ConnectorError, ExposeSecret, HttpClient, OAuthSession, Refresher, SecretString,
    TokenSet, TokenVault,
};
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::config::Settings;

/// The budget the token endpoint spends from.
pub(crate) const OAUTH_BUCKET: &str = "oauth";
const EP: &str = "oauth2/token";

/// Google's answer to a refresh (`expires_in` in seconds; `refresh_token` only if rotated).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// Google's OAuth error body: `{"error": "invalid_grant", "error_description": "..."}`.
#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The token endpoint, as the session's [`Refresher`].
pub(crate) struct TokenEndpoint {
    http: HttpClient,
    url: String,
    client_id: String,
    client_secret: SecretString,
    /// The refresh token in the settings, tried when a different stored one is refused.
    configured: SecretString,
    clock: crate::Clock,
}

impl TokenEndpoint {
    async fn grant(&self, refresh_token: &SecretString) -> Result<TokenSet, ConnectorError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("refresh_token", refresh_token.expose_secret()),
        ];
        let resp = self
            .http
            .send(EP, OAUTH_BUCKET, |c| c.post(&self.url).form(&form))
            .await
            .map_err(token_error)?;
        let t: TokenResponse = resp.json(EP)?;
        if let Some(tt) = t.token_type.as_deref() {
            if !tt.eq_ignore_ascii_case("bearer") {
                return Err(ConnectorError::decode(
                    EP,
                    format!("token_type {tt:?} is not Bearer"),
                ));
            }
        }
        if t.access_token.trim().is_empty() {
            return Err(ConnectorError::decode(EP, "empty access_token"));
        }
        let now: DateTime<Utc> = (self.clock)();
        Ok(TokenSet {
            access_token: SecretString::from(t.access_token),
            refresh_token: t
                .refresh_token
                .filter(|r| !r.trim().is_empty())
                .map(SecretString::from),
            expires_at: t
                .expires_in
                .filter(|s| *s > 0)
                .map(|s| now + chrono::Duration::seconds(s)),
            api_domain: None,
        })
    }
}

/// Whether the token endpoint refused the grant itself (revoked, expired, wrong client).
fn is_invalid_grant(e: &ConnectorError) -> bool {
    matches!(e, ConnectorError::Auth { message, .. } if message.contains("invalid_grant"))
}

/// Turns a refused token request into what the operator must do.
fn token_error(e: ConnectorError) -> ConnectorError {
    let (status, message) = match &e {
        ConnectorError::Auth {
            status, message, ..
        }
        | ConnectorError::Permanent {
            status, message, ..
        } => (*status, message.clone()),
        _ => return e,
    };
    let parsed: Option<TokenError> = serde_json::from_str(&message).ok();
    let (code, description) = match &parsed {
        Some(t) => (
            t.error.as_str(),
            t.error_description.as_deref().unwrap_or(""),
        ),
        None => ("", message.as_str()),
    };
    let what = match code {
        "invalid_grant" => format!(
            "invalid_grant: Google refused the refresh token ({description}); it was revoked, expired \
             (tokens of apps in testing expire after 7 days) or issued to another client. Issue a new \
             refresh token for client_id with scope https://www.googleapis.com/auth/adwords and set it \
             as `refresh_token`"
        ),
        "invalid_client" | "unauthorized_client" => format!(
            "{code}: Google refused the OAuth client ({description}); check client_id and client_secret"
        ),
        _ => format!("the token endpoint refused the refresh: {message}"),
    };
    ConnectorError::Auth {
        endpoint: EP,
        status,
        message: what,
    }
}

#[async_trait]
impl Refresher for TokenEndpoint {
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, ConnectorError> {
        match self.grant(refresh_token).await {
            Err(e)
                if is_invalid_grant(&e)
                    && refresh_token.expose_secret() != self.configured.expose_secret() =>
            {
                tracing::info!(
                    "the stored Google refresh token was refused; trying the one in the settings"
                );
                let mut fresh = self.grant(&self.configured).await?;
                if fresh.refresh_token.is_none() {
                    // The session would otherwise keep the refused token.
                    fresh.refresh_token = Some(self.configured.clone());
                }
                Ok(fresh)
            }
            other => other,
        }
    }
}

/// The access tokens of one instance.
pub(crate) struct Tokens {
    session: OAuthSession,
    vault: TokenVault,
    instance: String,
    configured: SecretString,
    seeded: OnceCell<()>,
}

impl Tokens {
    pub(crate) fn new(
        http: HttpClient,
        settings: &Settings,
        vault: TokenVault,
        instance: &str,
        clock: crate::Clock,
    ) -> Tokens {
        let endpoint = TokenEndpoint {
            http,
            url: settings.token_url.clone(),
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            configured: settings.refresh_token.clone(),
            clock,
        };
        let hint = "set `refresh_token` in the instance's settings to a refresh token for scope \
                    https://www.googleapis.com/auth/adwords";
        Tokens {
            session: OAuthSession::new(
                instance,
                hint,
                vault.clone(),
                Box::new(endpoint),
                SessionOptions::default(),
            ),
            vault,
            instance: instance.to_string(),
            configured: settings.refresh_token.clone(),
            seeded: OnceCell::new(),
        }
    }

    /// Stores the settings' refresh token as an expired pair when the store has none yet.
    async fn seed(&self) -> Result<(), ConnectorError> {
        self.seeded
            .get_or_try_init(|| async {
                let store = self.vault.get()?;
                if store.load(&self.instance).await?.is_none() {
                    let seed = TokenSet {
                        access_token: SecretString::from(String::new()),
                        refresh_token: Some(self.configured.clone()),
                        expires_at: Some(DateTime::<Utc>::UNIX_EPOCH),
                        api_domain: None,
                    };
                    // Insert-if-absent: another process may have seeded and refreshed meanwhile.
                    if store.save(&self.instance, Save::Seed, &seed).await?.is_some() {
                        tracing::info!(instance = %self.instance, "stored the configured Google refresh token");
                    }
                }
                Ok::<(), ConnectorError>(())
            })
            .await
            .map(|_| ())
    }

    /// A valid access token.
    pub(crate) async fn access_token(&self) -> Result<SecretString, ConnectorError> {
        self.seed().await?;
        self.session.access_token().await
    }

    /// A new access token after Google refused `rejected`.
    pub(crate) async fn after_rejection(
        &self,
        rejected: &SecretString,
    ) -> Result<SecretString, ConnectorError> {
        self.seed().await?;
        self.session.after_rejection(rejected).await
    }
}
