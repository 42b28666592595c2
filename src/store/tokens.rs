//! The store as the OAuth token store of every connector instance (`oauth_token`).
//!
//! Saves are durable (flushed before they return), because the vendor may already have
//! invalidated the refresh token they replace. Claims are not: a claim lost in a crash only
//! frees the refresh for the next process, which is what a crash should do anyway.

use chrono::Utc;
use okno_connector::oauth::{Save, StoredTokens, TokenSet, TokenStore};
use okno_connector::{ConnectorError, ExposeSecret, SecretString};

use super::{pg_q, sqlite_q, Pool, Store, StoreError, TokenRow};

pub(super) struct StoreTokens(pub(super) Store);

fn failed(e: StoreError) -> ConnectorError {
    // The store is down or locked: the run fails and the next one tries again.
    ConnectorError::Transient {
        endpoint: "oauth token store",
        attempts: 1,
        message: e.to_string(),
    }
}

#[okno_connector::async_trait]
impl TokenStore for StoreTokens {
    async fn load(&self, instance: &str) -> Result<Option<StoredTokens>, ConnectorError> {
        let row = match &self.0.pool {
            Pool::Sqlite(p) => sqlite_q::load_token(p, instance).await,
            Pool::Postgres(p) => pg_q::load_token(p, instance).await,
        }
        .map_err(|e| failed(e.into()))?;
        Ok(row.map(|r| StoredTokens {
            tokens: TokenSet {
                access_token: SecretString::from(r.access_token),
                refresh_token: r.refresh_token.map(SecretString::from),
                expires_at: r.expires_at,
                api_domain: r.api_domain,
            },
            version: r.version,
        }))
    }

    async fn claim_refresh(
        &self,
        instance: &str,
        version: i64,
        holder: &str,
        until: chrono::DateTime<Utc>,
    ) -> Result<bool, ConnectorError> {
        let now = Utc::now();
        match &self.0.pool {
            Pool::Sqlite(p) => {
                sqlite_q::claim_token_refresh(p, instance, version, holder, now, until).await
            }
            Pool::Postgres(p) => {
                pg_q::claim_token_refresh(p, instance, version, holder, now, until).await
            }
        }
        .map_err(|e| failed(e.into()))
    }

    async fn save(
        &self,
        instance: &str,
        mode: Save<'_>,
        tokens: &TokenSet,
    ) -> Result<Option<i64>, ConnectorError> {
        if self.0.faults.token_save_fails() {
            return Err(failed(StoreError::Injected));
        }
        let row = TokenRow {
            access_token: tokens.access_token.expose_secret().to_string(),
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|t| t.expose_secret().to_string()),
            expires_at: tokens.expires_at,
            api_domain: tokens.api_domain.clone(),
            version: 0,
        };
        let now = Utc::now();
        match &self.0.pool {
            Pool::Sqlite(p) => sqlite_q::save_token(p, instance, mode, &row, now).await,
            Pool::Postgres(p) => pg_q::save_token(p, instance, mode, &row, now).await,
        }
        .map_err(|e| failed(e.into()))
    }

    async fn release_claim(&self, instance: &str, holder: &str) -> Result<(), ConnectorError> {
        match &self.0.pool {
            Pool::Sqlite(p) => sqlite_q::release_token_claim(p, instance, holder).await,
            Pool::Postgres(p) => pg_q::release_token_claim(p, instance, holder).await,
        }
        .map_err(|e| failed(e.into()))
    }
}
