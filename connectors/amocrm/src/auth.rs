//! Credentials: a long-lived token, or OAuth 2.0 tokens kept in the store.
//!
//! amoCRM's refresh token is single-use: once exchanged, the old one answers
//! `{"hint": "Token has been revoked", ...}` and no grace period is documented. The SDK's
//! [`OAuthSession`] serialises refreshes across tasks and processes and stores the new pair
//! before it is used; this module only knows how to talk to the token endpoint.

use chrono::Utc;
use okno_connector::oauth::SessionOptions;
use okno_connector::reqwest::header::{HeaderValue, CONTENT_TYPE};
use okno_connector::{
    async_trait, ConnectorError, ExposeSecret, HttpClient, OAuthSession, Refresher, SecretString,
    TokenSet, TokenVault,
};
use serde::Serialize;
use url::Url;

use crate::model::TokenResponse;

pub(crate) const TOKEN_ENDPOINT: &str = "oauth2/access_token";

/// How requests are authorised.
pub(crate) enum Auth {
    LongLived(SecretString),
    // Boxed: a session is much larger than a token.
    OAuth(Box<OAuthSession>),
}

impl Auth {
    /// The token to send now.
    pub(crate) async fn token(&self) -> Result<SecretString, ConnectorError> {
        match self {
            Auth::LongLived(t) => Ok(t.clone()),
            Auth::OAuth(session) => session.access_token().await,
        }
    }
}

/// `Authorization: Bearer <token>`, marked sensitive so it is never logged.
pub(crate) fn bearer(token: &SecretString) -> HeaderValue {
    // A token with control characters cannot be sent; an empty header then fails as a 401.
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .unwrap_or_else(|_| HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

/// amoCRM's token endpoint (`POST {base}/oauth2/access_token`, JSON body).
pub(crate) struct TokenEndpoint {
    pub(crate) http: HttpClient,
    pub(crate) url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) redirect_uri: String,
    pub(crate) instance: String,
}

#[derive(Serialize)]
struct Grant<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    redirect_uri: &'a str,
}

impl TokenEndpoint {
    pub(crate) fn new(
        http: HttpClient,
        base: &Url,
        client_id: String,
        client_secret: SecretString,
        redirect_uri: String,
        instance: &str,
    ) -> Self {
        TokenEndpoint {
            http,
            url: format!("{}/{TOKEN_ENDPOINT}", base.as_str().trim_end_matches('/')),
            client_id,
            client_secret,
            redirect_uri,
            instance: instance.to_string(),
        }
    }

    /// Builds the session that keeps this instance's tokens.
    pub(crate) fn session(self, vault: TokenVault) -> OAuthSession {
        let hint = format!(
            "run `okno auth amocrm {} --code CODE` with an authorisation code of the integration",
            self.instance
        );
        let instance = self.instance.clone();
        OAuthSession::new(
            &instance,
            hint,
            vault,
            Box::new(self),
            SessionOptions::default(),
        )
    }

    /// Exchanges an authorisation code (valid 20 minutes) for the first pair.
    pub(crate) async fn exchange_code(&self, code: &str) -> Result<TokenSet, ConnectorError> {
        self.request(Grant {
            client_id: &self.client_id,
            client_secret: self.client_secret.expose_secret(),
            grant_type: "authorization_code",
            code: Some(code.trim()),
            refresh_token: None,
            redirect_uri: &self.redirect_uri,
        })
        .await
    }

    async fn request(&self, grant: Grant<'_>) -> Result<TokenSet, ConnectorError> {
        const EP: &str = "oauth2/access_token";
        let body = serde_json::to_vec(&grant).map_err(|e| ConnectorError::decode(EP, e))?;
        let kind = grant.grant_type;
        let result = self
            .http
            .send(EP, crate::api::BUCKET, |c| {
                c.post(&self.url)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await;
        let resp = match result {
            Ok(r) => r,
            Err(e) => return Err(self.token_error(e, kind)),
        };
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
        Ok(TokenSet {
            access_token: SecretString::from(t.access_token),
            refresh_token: t
                .refresh_token
                .filter(|r| !r.trim().is_empty())
                .map(SecretString::from),
            expires_at: t
                .expires_in
                .filter(|&s| s > 0)
                .map(|s| Utc::now() + chrono::Duration::seconds(s)),
            api_domain: None,
        })
    }

    /// Turns a refused token request into what the operator must do.
    fn token_error(&self, e: ConnectorError, grant: &str) -> ConnectorError {
        const EP: &str = "oauth2/access_token";
        if let Some(blocked) = crate::api::blocked(&e) {
            return blocked;
        }
        let (status, message) = match &e {
            ConnectorError::Auth {
                status, message, ..
            } => (*status, message.as_str()),
            ConnectorError::Permanent {
                status, message, ..
            } => (*status, message.as_str()),
            _ => return e,
        };
        if !(status == 400 || status == 401 || status == 403) {
            return e;
        }
        let revoked = message.contains("Token has been revoked");
        let what = match (grant, revoked) {
            ("refresh_token", true) => {
                "the refresh token was already used or revoked (amoCRM: Token has been revoked)"
                    .to_string()
            }
            ("refresh_token", false) => format!("amoCRM refused the refresh token: {message}"),
            (_, _) => format!(
                "amoCRM refused the authorisation code (codes are valid 20 minutes and single-use; \
                 client_id, client_secret and redirect_uri must match the integration): {message}"
            ),
        };
        ConnectorError::Auth {
            endpoint: EP,
            status,
            message: format!(
                "{what}; re-authorise with `okno auth amocrm {} --code CODE`",
                self.instance
            ),
        }
    }
}

#[async_trait]
impl Refresher for TokenEndpoint {
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, ConnectorError> {
        self.request(Grant {
            client_id: &self.client_id,
            client_secret: self.client_secret.expose_secret(),
            grant_type: "refresh_token",
            code: None,
            refresh_token: Some(refresh_token.expose_secret()),
            redirect_uri: &self.redirect_uri,
        })
        .await
    }
}
