//! Tokens: minted with the client-credentials grant (or the agency variant), kept in the store,
//! refreshed with the refresh token, and minted again only when there is none.
//!
//! VK Ads allows at most **5 tokens per API client and user** at a time (HTTP 403 on the sixth
//! mint; unused tokens disappear after a month). So a token is never minted per request or per
//! run: it lives in okno's token store through the SDK's [`OAuthSession`], shared by every
//! process of the instance, and refreshing one does not create another (the access token
//! changes, the old value stops working). A new one is minted only when the store holds none,
//! or when VK refuses the stored refresh token (deleted after a month unused, or by
//! `token/delete.json`). A mint that hits the limit is an auth error telling the operator how to
//! free the slots; with `delete_tokens_at_limit = true` the connector calls
//! `POST /api/v2/oauth2/token/delete.json` itself (the documented way to free them, which
//! deletes **every** token of the user for this client) and mints once more.

use std::sync::Arc;

use chrono::Utc;
use okno_connector::oauth::SessionOptions;
use okno_connector::reqwest::header::{HeaderValue, CONTENT_TYPE};
use okno_connector::{
    async_trait, ConnectorError, ExposeSecret, HttpClient, OAuthSession, Refresher, SecretString,
    TokenSet, TokenVault,
};

use crate::limits::Limits;
use crate::model::{TokenResponse, VendorError};
use crate::normalize::{integer, scalar_text};

const TOKEN_EP: &str = "oauth2/token";
const DELETE_EP: &str = "oauth2/token/delete";

/// `Authorization: Bearer <token>`, marked sensitive so it is never logged.
pub(crate) fn bearer(token: &SecretString) -> HeaderValue {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .unwrap_or_else(|_| HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

/// Form encoding of the few token parameters.
fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish()
}

/// Why a token request failed, before it becomes an operator-facing error.
enum TokenFailure {
    /// VK refused the grant (4xx): status and what the body says.
    Refused { status: u16, body: VendorError },
    /// Anything else (throttling, network, quota): passed on as it is.
    Other(ConnectorError),
}

/// `POST /api/v2/oauth2/token.json` and `token/delete.json` of one API client.
pub(crate) struct TokenEndpoint {
    pub(crate) http: HttpClient,
    pub(crate) token_url: String,
    pub(crate) delete_url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) agency_client_name: Option<String>,
    pub(crate) delete_at_limit: bool,
    pub(crate) limits: Arc<Limits>,
    pub(crate) instance: String,
}

impl TokenEndpoint {
    async fn post(
        &self,
        endpoint: &'static str,
        url: &str,
        body: String,
    ) -> Result<Vec<u8>, TokenFailure> {
        self.limits.check(endpoint).map_err(TokenFailure::Other)?;
        let result = self
            .http
            .send_classified(
                endpoint,
                crate::api::BUCKET,
                |c| {
                    c.post(url)
                        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(body.clone())
                },
                |resp| {
                    if let Some(v) = self.limits.classify(resp, endpoint) {
                        return Some(v);
                    }
                    let status = resp.status.as_u16();
                    // Refusals are decided below, with the parsed body.
                    ((400..500).contains(&status) && status != 408 && status != 429).then(|| {
                        okno_connector::Verdict::Fail(ConnectorError::Permanent {
                            endpoint,
                            status,
                            message: String::from_utf8_lossy(&resp.body).into_owned(),
                        })
                    })
                },
            )
            .await;
        match result {
            Ok(resp) => {
                self.limits.observe(&resp.headers);
                Ok(resp.body)
            }
            Err(ConnectorError::Permanent {
                status, message, ..
            }) => Err(TokenFailure::Refused {
                status,
                body: VendorError::parse(message.as_bytes()),
            }),
            Err(e) => Err(TokenFailure::Other(e)),
        }
    }

    fn grant_form(&self, grant: &str, refresh_token: Option<&str>) -> String {
        let secret = self.client_secret.expose_secret();
        let mut pairs = vec![
            ("grant_type", grant),
            ("client_id", self.client_id.as_str()),
            ("client_secret", secret),
        ];
        if let Some(rt) = refresh_token {
            pairs.push(("refresh_token", rt));
        }
        if grant == "agency_client_credentials" {
            if let Some(name) = self.agency_client_name.as_deref() {
                pairs.push(("agency_client_name", name));
            }
        }
        form(&pairs)
    }

    fn parse_tokens(&self, body: &[u8]) -> Result<TokenSet, ConnectorError> {
        let t: TokenResponse =
            serde_json::from_slice(body).map_err(|e| ConnectorError::decode(TOKEN_EP, e))?;
        if let Some(tt) = t.token_type.as_deref() {
            if !tt.eq_ignore_ascii_case("bearer") {
                return Err(ConnectorError::decode(
                    TOKEN_EP,
                    format!("token_type {tt:?} is not bearer"),
                ));
            }
        }
        let access = t
            .access_token
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| ConnectorError::decode(TOKEN_EP, "no access_token in the answer"))?;
        let expires_in = integer(t.expires_in.as_deref(), "expires_in", TOKEN_EP)?;
        if let Some(left) = t.tokens_left.as_deref().and_then(scalar_text) {
            tracing::info!(instance = %self.instance, tokens_left = %left, "VK Ads token issued");
        }
        Ok(TokenSet {
            access_token: SecretString::from(access),
            refresh_token: t
                .refresh_token
                .filter(|r| !r.trim().is_empty())
                .map(SecretString::from),
            expires_at: expires_in
                .filter(|s| *s > 0)
                .map(|s| Utc::now() + chrono::Duration::seconds(s)),
            api_domain: None,
        })
    }

    fn grant(&self) -> &'static str {
        if self.agency_client_name.is_some() {
            "agency_client_credentials"
        } else {
            "client_credentials"
        }
    }

    /// Mints a new token (client credentials or the agency variant).
    pub(crate) async fn mint(&self) -> Result<TokenSet, ConnectorError> {
        let grant = self.grant();
        match self
            .post(TOKEN_EP, &self.token_url, self.grant_form(grant, None))
            .await
        {
            Ok(body) => self.parse_tokens(&body),
            Err(TokenFailure::Refused { status: 403, body }) if self.delete_at_limit => {
                tracing::warn!(
                    instance = %self.instance,
                    vendor = ?body.describe(),
                    "VK Ads refused a new token (token limit); deleting this client's tokens of the user as configured"
                );
                self.delete_tokens().await?;
                match self
                    .post(TOKEN_EP, &self.token_url, self.grant_form(grant, None))
                    .await
                {
                    Ok(body) => self.parse_tokens(&body),
                    Err(f) => Err(self.mint_error(f)),
                }
            }
            Err(f) => Err(self.mint_error(f)),
        }
    }

    /// `POST /api/v2/oauth2/token/delete.json`: every token of the user for this client.
    async fn delete_tokens(&self) -> Result<(), ConnectorError> {
        let secret = self.client_secret.expose_secret();
        let mut pairs = vec![
            ("client_id", self.client_id.as_str()),
            ("client_secret", secret),
        ];
        if let Some(name) = self.agency_client_name.as_deref() {
            pairs.push(("username", name));
        }
        match self.post(DELETE_EP, &self.delete_url, form(&pairs)).await {
            Ok(_) => Ok(()),
            Err(TokenFailure::Refused { status, body }) => Err(ConnectorError::Auth {
                endpoint: DELETE_EP,
                status,
                message: format!(
                    "VK Ads refused to delete the client's tokens: {}",
                    body.describe().unwrap_or_else(|| format!("HTTP {status}"))
                ),
            }),
            Err(TokenFailure::Other(e)) => Err(e),
        }
    }

    fn mint_error(&self, f: TokenFailure) -> ConnectorError {
        let (status, body) = match f {
            TokenFailure::Other(e) => return e,
            TokenFailure::Refused { status, body } => (status, body),
        };
        let said = body.describe().unwrap_or_else(|| format!("HTTP {status}"));
        let who = match &self.agency_client_name {
            Some(name) => format!(" and agency client {name}"),
            None => String::new(),
        };
        let message = if status == 403 || body.code_is("token_limit_exceeded") {
            let user = match &self.agency_client_name {
                Some(name) => format!("&username={name}"),
                None => String::new(),
            };
            format!(
                "VK Ads allows at most 5 live tokens per API client and user, and client {}{who} has used them up ({said}). \
                 okno keeps its one token in the store; the others were minted by other programs or by earlier setups. \
                 Free them with `POST https://ads.vk.com/api/v2/oauth2/token/delete.json` and the form \
                 `client_id={}&client_secret=<secret>{user}` (this logs out every program using this client), \
                 or set `delete_tokens_at_limit = true` to let okno do it",
                self.client_id, self.client_id
            )
        } else if body.code_is("invalid_client") {
            format!(
                "VK Ads refused client_id {} / client_secret ({said}): check both in VK Ads > Settings > API access; a blocked client needs VK support",
                self.client_id
            )
        } else {
            format!(
                "VK Ads refused a new token for client {}{who}: {said}",
                self.client_id
            )
        };
        ConnectorError::Auth {
            endpoint: TOKEN_EP,
            status,
            message,
        }
    }

    /// Refreshes with `refresh_token`; if VK no longer knows it, mints a new token instead.
    async fn refresh_or_mint(
        &self,
        refresh_token: &SecretString,
    ) -> Result<TokenSet, ConnectorError> {
        let form = self.grant_form("refresh_token", Some(refresh_token.expose_secret()));
        match self.post(TOKEN_EP, &self.token_url, form).await {
            Ok(body) => self.parse_tokens(&body),
            Err(TokenFailure::Refused { status, body }) if !body.code_is("invalid_client") => {
                tracing::warn!(
                    instance = %self.instance,
                    status,
                    vendor = ?body.describe(),
                    "VK Ads refused the stored refresh token; minting a new token"
                );
                self.mint().await
            }
            Err(f) => Err(self.mint_error(f)),
        }
    }
}

/// The refresher the SDK's session calls under its cross-process claim.
struct RefreshVia(Arc<TokenEndpoint>);

#[async_trait]
impl Refresher for RefreshVia {
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, ConnectorError> {
        self.0.refresh_or_mint(refresh_token).await
    }
}

/// The access token of one instance.
pub(crate) struct Tokens {
    session: OAuthSession,
    endpoint: Arc<TokenEndpoint>,
    /// One mint at a time in this process.
    mint_lock: tokio::sync::Mutex<()>,
}

impl Tokens {
    pub(crate) fn new(endpoint: TokenEndpoint, vault: TokenVault) -> Self {
        let endpoint = Arc::new(endpoint);
        let instance = endpoint.instance.clone();
        let session = OAuthSession::new(
            &instance,
            "okno mints one with the client credentials on the next sync",
            vault,
            Box::new(RefreshVia(endpoint.clone())),
            SessionOptions::default(),
        );
        Tokens {
            session,
            endpoint,
            mint_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// A valid access token: the stored one, refreshed if needed, minted if there is none.
    pub(crate) async fn token(&self) -> Result<SecretString, ConnectorError> {
        match self.session.access_token().await {
            // The session's own "nothing stored / nothing to refresh with": mint.
            Err(ConnectorError::Auth {
                endpoint: "oauth", ..
            }) => self.mint_once().await,
            other => other,
        }
    }

    /// A new token after VK refused `rejected` (expired early or deleted).
    pub(crate) async fn after_rejection(
        &self,
        rejected: &SecretString,
    ) -> Result<SecretString, ConnectorError> {
        match self.session.after_rejection(rejected).await {
            Err(ConnectorError::Auth {
                endpoint: "oauth", ..
            }) => self.mint_once().await,
            other => other,
        }
    }

    async fn mint_once(&self) -> Result<SecretString, ConnectorError> {
        let _guard = self.mint_lock.lock().await;
        // Another task of this process may have minted while this one waited.
        if let Ok(t) = self.session.access_token().await {
            return Ok(t);
        }
        let tokens = self.endpoint.mint().await?;
        let access = tokens.access_token.clone();
        self.session.store_initial(tokens).await?;
        tracing::info!(instance = %self.endpoint.instance, "VK Ads token minted and stored");
        Ok(access)
    }
}
