//! OAuth 2.0 access tokens that survive crashes, restarts and concurrent users.
//!
//! Vendors such as amoCRM rotate the refresh token on every refresh (the old one stops working
//! once the new pair is used), and vendors such as Zoho limit how many access tokens may be
//! minted. So tokens live in the store, not in memory: one row per instance, read by every
//! process that syncs or processes webhooks for it, and refreshed by one of them at a time.
//!
//! The refresh protocol ([`OAuthSession::access_token`]):
//! 1. a token that is still valid (in memory, else in the store) is used as it is;
//! 2. otherwise the session *claims* the refresh in the store: the claim names the row's
//!    `version`, so it fails if anyone refreshed in between, and expires on its own, so a process
//!    that died holding it blocks nobody for long;
//! 3. the vendor is asked for a new pair with the stored refresh token;
//! 4. the new pair is written durably (flushed to disk) and the version bumped, **before the new
//!    access token is used for anything**.
//!
//! amoCRM invalidates the old refresh token the moment it issues a new one, so the pair between
//! 3 and 4 exists only in this process's memory. Nothing else happens in between: no parsing
//! beyond the token response, no other I/O. A store that fails the write (locked, restarting,
//! full) does not lose the pair: the save is retried, and if it still fails the pair is kept
//! *pending* in memory and saved first thing on the next call, without asking the vendor again.
//! The save is accepted while the row is still at the version the refresh started from, even
//! when the claim has expired meanwhile, because a competitor that refreshed from that version
//! only got "revoked" from the vendor. What remains is a kill of the process inside that
//! window of one durable write; for accounts where even that is unacceptable, amoCRM's
//! long-lived tokens need no refresh at all.
//!
//! Processes that lose the claim wait for the winner's row instead of refreshing themselves, so
//! concurrent refreshes result in exactly one vendor call.
//!
//! The daemon implements [`TokenStore`] over its database; connectors receive a [`TokenVault`]
//! in their [`crate::BuildContext`], which the daemon attaches to the store after opening it
//! (connectors are built before the store is opened, and `okno validate` never opens it).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::error::ConnectorError;

/// A token pair as the vendor issued it.
#[derive(Clone)]
pub struct TokenSet {
    pub access_token: SecretString,
    /// `None` when the vendor did not send one (Zoho refreshes): the stored one is kept.
    pub refresh_token: Option<SecretString>,
    /// When the access token stops working; `None` for tokens without a lifetime.
    pub expires_at: Option<DateTime<Utc>>,
    /// Vendor facts that came with the token and decide where to call (Zoho's `api_domain`).
    pub api_domain: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_at", &self.expires_at)
            .field("api_domain", &self.api_domain)
            .finish_non_exhaustive()
    }
}

/// The stored row of one instance.
#[derive(Clone, Debug)]
pub struct StoredTokens {
    pub tokens: TokenSet,
    /// Bumped by every save; a refresh claim names the version it refreshes.
    pub version: i64,
}

/// Where token pairs are kept. Implemented by the daemon's store; [`memory::MemoryTokenStore`]
/// serves tests.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + 'static {
    async fn load(&self, instance: &str) -> Result<Option<StoredTokens>, ConnectorError>;

    /// Takes the right to refresh `instance` from `version` until `until`. Fails (returns
    /// `false`) if the row moved past `version` or another live claim holds it.
    async fn claim_refresh(
        &self,
        instance: &str,
        version: i64,
        holder: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, ConnectorError>;

    /// Stores a new pair durably (flushed before it returns) and releases any claim. A pair
    /// without a refresh token keeps the stored one. Returns the new version; `Ok(None)` if a
    /// refresh's row moved on meanwhile (see [`Save`]).
    async fn save(
        &self,
        instance: &str,
        mode: Save<'_>,
        tokens: &TokenSet,
    ) -> Result<Option<i64>, ConnectorError>;

    /// Gives a claim up after a failed refresh, so the next attempt need not wait for it.
    async fn release_claim(&self, instance: &str, holder: &str) -> Result<(), ConnectorError>;
}

/// Which saves [`TokenStore::save`] accepts.
#[derive(Debug, Clone, Copy)]
pub enum Save<'a> {
    /// A pair from an authorisation code (`okno auth`): replaces the row whatever it holds.
    Authorize,
    /// A refreshed pair: accepted while `holder` holds the claim or the row is still at
    /// `from_version`.
    Refresh { holder: &'a str, from_version: i64 },
    /// A pair from the configuration (a refresh token in settings): stored only where the store
    /// holds none. Two processes starting at once may both seed; the later must not put the
    /// configured token back over a pair the earlier one already refreshed. `None` when a pair
    /// was there.
    Seed,
}

/// A late-bound handle to the token store, shared by every connector of one configuration.
#[derive(Clone, Default)]
pub struct TokenVault(Arc<OnceLock<Arc<dyn TokenStore>>>);

impl TokenVault {
    pub fn new() -> Self {
        Self::default()
    }

    /// A vault already attached to `store` (tests, tools).
    pub fn with_store(store: Arc<dyn TokenStore>) -> Self {
        let v = Self::default();
        v.attach(store);
        v
    }

    /// Attaches the store; later calls are ignored (one configuration, one store).
    pub fn attach(&self, store: Arc<dyn TokenStore>) {
        let _ = self.0.set(store);
    }

    pub fn get(&self) -> Result<&Arc<dyn TokenStore>, ConnectorError> {
        self.0.get().ok_or_else(|| {
            ConnectorError::Invalid(
                "OAuth tokens are kept in the store, which is not open here".into(),
            )
        })
    }
}

impl std::fmt::Debug for TokenVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVault")
            .field("attached", &self.0.get().is_some())
            .finish()
    }
}

/// How one vendor turns a refresh token into a new pair.
#[async_trait::async_trait]
pub trait Refresher: Send + Sync + 'static {
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, ConnectorError>;
}

/// Timing of a session; the defaults suit every vendor so far.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    /// A token this close to its expiry is refreshed rather than used.
    pub margin: Duration,
    /// How long a refresh claim lasts; longer than the token request's own timeout.
    pub claim_ttl: Duration,
    /// How often a process that lost the claim looks for the winner's new pair.
    pub poll: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            margin: Duration::from_secs(120),
            claim_ttl: Duration::from_secs(90),
            poll: Duration::from_millis(250),
        }
    }
}

/// The access token of one connector instance.
pub struct OAuthSession {
    instance: String,
    /// Says which command stores the first pair, for the error when there is none.
    setup_hint: String,
    vault: TokenVault,
    refresher: Box<dyn Refresher>,
    options: SessionOptions,
    holder: String,
    /// The last pair seen; the mutex also makes one task per process do the refreshing.
    cache: tokio::sync::Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    current: Option<StoredTokens>,
    /// A refreshed pair the store refused to take yet, and the version it was refreshed from.
    pending: Option<(TokenSet, i64)>,
}

impl std::fmt::Debug for OAuthSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthSession")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl OAuthSession {
    pub fn new(
        instance: &str,
        setup_hint: impl Into<String>,
        vault: TokenVault,
        refresher: Box<dyn Refresher>,
        options: SessionOptions,
    ) -> Self {
        OAuthSession {
            instance: instance.to_string(),
            setup_hint: setup_hint.into(),
            vault,
            refresher,
            options,
            holder: format!(
                "{}:{}:{:016x}",
                hostname(),
                std::process::id(),
                rand::random::<u64>()
            ),
            cache: tokio::sync::Mutex::new(Cache::default()),
        }
    }

    /// The stored pair's extra facts (e.g. Zoho's `api_domain`), loading them if needed.
    pub async fn api_domain(&self) -> Result<Option<String>, ConnectorError> {
        let mut cache = self.cache.lock().await;
        if cache.current.is_none() {
            cache.current = self.vault.get()?.load(&self.instance).await?;
        }
        Ok(cache
            .current
            .as_ref()
            .and_then(|c| c.tokens.api_domain.clone()))
    }

    /// A valid access token, refreshed if needed.
    pub async fn access_token(&self) -> Result<SecretString, ConnectorError> {
        self.token(None).await
    }

    /// A new access token after the vendor refused `rejected` (revoked or expired early). If
    /// another task or process already replaced it, that token is returned without a refresh.
    pub async fn after_rejection(
        &self,
        rejected: &SecretString,
    ) -> Result<SecretString, ConnectorError> {
        self.token(Some(rejected)).await
    }

    /// Stores a pair obtained outside the refresh loop (`okno auth`: an authorisation code).
    pub async fn store_initial(&self, tokens: TokenSet) -> Result<(), ConnectorError> {
        let mut cache = self.cache.lock().await;
        let store = self.vault.get()?;
        let version = store
            .save(&self.instance, Save::Authorize, &tokens)
            .await?
            .unwrap_or(0);
        cache.pending = None;
        cache.current = Some(StoredTokens { tokens, version });
        Ok(())
    }

    async fn token(&self, rejected: Option<&SecretString>) -> Result<SecretString, ConnectorError> {
        let mut cache = self.cache.lock().await;
        let usable = |s: &StoredTokens| {
            let fresh = s
                .tokens
                .expires_at
                .is_none_or(|at| at > Utc::now() + self.options.margin);
            let refused = rejected
                .is_some_and(|r| r.expose_secret() == s.tokens.access_token.expose_secret());
            fresh && !refused
        };
        let store = self.vault.get()?;
        if let Some((tokens, from_version)) = cache.pending.take() {
            let stored = self.save_refreshed(store, tokens, from_version).await;
            match stored {
                Ok(Some(s)) => cache.current = Some(s),
                Ok(None) => {}
                Err((e, tokens)) => {
                    cache.pending = Some((tokens, from_version));
                    return Err(e);
                }
            }
        }
        if let Some(c) = cache.current.as_ref().filter(|c| usable(c)) {
            return Ok(c.tokens.access_token.clone());
        }
        let deadline = tokio::time::Instant::now() + self.options.claim_ttl * 2;
        loop {
            let Some(current) = store.load(&self.instance).await? else {
                return Err(ConnectorError::Auth {
                    endpoint: "oauth",
                    status: 401,
                    message: format!(
                        "no OAuth tokens stored for {}: {}",
                        self.instance, self.setup_hint
                    ),
                });
            };
            if usable(&current) {
                let token = current.tokens.access_token.clone();
                cache.current = Some(current);
                return Ok(token);
            }
            let until = Utc::now()
                + chrono::Duration::from_std(self.options.claim_ttl)
                    .unwrap_or(chrono::Duration::seconds(90));
            if store
                .claim_refresh(&self.instance, current.version, &self.holder, until)
                .await?
            {
                let fresh = match self.refresh(&current).await {
                    Ok(t) => t,
                    Err(e) => {
                        // The claim is ours; giving it back lets the next attempt start at once.
                        let _ = store.release_claim(&self.instance, &self.holder).await;
                        return Err(e);
                    }
                };
                match self.save_refreshed(store, fresh, current.version).await {
                    Ok(Some(stored)) => {
                        let token = stored.tokens.access_token.clone();
                        cache.current = Some(stored);
                        return Ok(token);
                    }
                    // Someone stored a newer pair meanwhile: use theirs.
                    Ok(None) => continue,
                    Err((e, tokens)) => {
                        cache.pending = Some((tokens, current.version));
                        return Err(e);
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ConnectorError::Transient {
                    endpoint: "oauth",
                    attempts: 1,
                    message: "another process has been refreshing the token for too long".into(),
                });
            }
            tokio::time::sleep(self.options.poll).await;
        }
    }

    /// Asks the vendor for a new pair; nothing else happens between its answer and the save.
    async fn refresh(&self, current: &StoredTokens) -> Result<TokenSet, ConnectorError> {
        let Some(refresh_token) = current.tokens.refresh_token.as_ref() else {
            return Err(ConnectorError::Auth {
                endpoint: "oauth",
                status: 401,
                message: format!(
                    "the stored token of {} has expired and there is no refresh token: {}",
                    self.instance, self.setup_hint
                ),
            });
        };
        let mut fresh = self.refresher.refresh(refresh_token).await?;
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = current.tokens.refresh_token.clone();
        }
        if fresh.api_domain.is_none() {
            fresh.api_domain = current.tokens.api_domain.clone();
        }
        Ok(fresh)
    }

    /// Saves a refreshed pair, retrying a failing store a few times. On failure the pair is
    /// handed back so the caller can keep it pending; `Ok(None)` means the row moved on.
    async fn save_refreshed(
        &self,
        store: &Arc<dyn TokenStore>,
        tokens: TokenSet,
        from_version: i64,
    ) -> Result<Option<StoredTokens>, (ConnectorError, TokenSet)> {
        let mode = Save::Refresh {
            holder: &self.holder,
            from_version,
        };
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match store.save(&self.instance, mode, &tokens).await {
                Ok(Some(version)) => {
                    tracing::info!(instance = %self.instance, version, "OAuth tokens refreshed and stored");
                    return Ok(Some(StoredTokens { tokens, version }));
                }
                Ok(None) => return Ok(None),
                Err(e) if attempt >= SAVE_ATTEMPTS => {
                    tracing::error!(
                        instance = %self.instance,
                        error = %e,
                        "cannot store the refreshed OAuth tokens; keeping them to store on the next call"
                    );
                    return Err((e, tokens));
                }
                Err(e) => {
                    tracing::warn!(instance = %self.instance, attempt, error = %e, "storing refreshed OAuth tokens failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
            }
        }
    }
}

/// Attempts to store a refreshed pair before it is kept pending (about 1.5 s of waiting).
const SAVE_ATTEMPTS: u32 = 4;

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// An in-memory [`TokenStore`] for tests and single-process tools.
pub mod memory {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Row {
        tokens: Option<TokenSet>,
        version: i64,
        claim: Option<(String, DateTime<Utc>)>,
    }

    /// Keeps rows in a map; `fail_saves(n)` makes the next `n` saves fail, like a store that
    /// is down between the vendor's answer and the durable write.
    #[derive(Default)]
    pub struct MemoryTokenStore {
        rows: Mutex<HashMap<String, Row>>,
        failing_saves: std::sync::atomic::AtomicU32,
    }

    impl MemoryTokenStore {
        pub fn fail_saves(&self, n: u32) {
            self.failing_saves
                .store(n, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[async_trait::async_trait]
    impl TokenStore for MemoryTokenStore {
        async fn load(&self, instance: &str) -> Result<Option<StoredTokens>, ConnectorError> {
            let rows = self.rows.lock().map_err(|_| poisoned())?;
            Ok(rows.get(instance).and_then(|r| {
                r.tokens.clone().map(|tokens| StoredTokens {
                    tokens,
                    version: r.version,
                })
            }))
        }

        async fn claim_refresh(
            &self,
            instance: &str,
            version: i64,
            holder: &str,
            until: DateTime<Utc>,
        ) -> Result<bool, ConnectorError> {
            let mut rows = self.rows.lock().map_err(|_| poisoned())?;
            let row = rows.entry(instance.to_string()).or_default();
            let free = row.claim.as_ref().is_none_or(|(_, u)| *u <= Utc::now());
            if row.version == version && free {
                row.claim = Some((holder.to_string(), until));
                return Ok(true);
            }
            Ok(false)
        }

        async fn save(
            &self,
            instance: &str,
            mode: Save<'_>,
            tokens: &TokenSet,
        ) -> Result<Option<i64>, ConnectorError> {
            let failing = self.failing_saves.fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| n.checked_sub(1),
            );
            if failing.is_ok() {
                return Err(ConnectorError::Transient {
                    endpoint: "oauth",
                    attempts: 1,
                    message: "injected crash before the tokens were stored".into(),
                });
            }
            let mut rows = self.rows.lock().map_err(|_| poisoned())?;
            let row = rows.entry(instance.to_string()).or_default();
            if matches!(mode, Save::Seed) && row.tokens.is_some() {
                return Ok(None);
            }
            if let Save::Refresh {
                holder,
                from_version,
            } = mode
            {
                let holds = row.claim.as_ref().is_some_and(|(c, _)| c == holder);
                if !holds && row.version != from_version {
                    return Ok(None);
                }
            }
            let mut tokens = tokens.clone();
            if tokens.refresh_token.is_none() {
                tokens.refresh_token = row.tokens.as_ref().and_then(|t| t.refresh_token.clone());
            }
            row.tokens = Some(tokens);
            row.version += 1;
            row.claim = None;
            Ok(Some(row.version))
        }

        async fn release_claim(&self, instance: &str, holder: &str) -> Result<(), ConnectorError> {
            let mut rows = self.rows.lock().map_err(|_| poisoned())?;
            if let Some(row) = rows.get_mut(instance) {
                if row.claim.as_ref().is_some_and(|(c, _)| c == holder) {
                    row.claim = None;
                }
            }
            Ok(())
        }
    }

    fn poisoned() -> ConnectorError {
        ConnectorError::Invalid("token store lock poisoned".into())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::memory::MemoryTokenStore;
    use super::*;

    /// A vendor that rotates refresh tokens: `r<n>` is valid until `a<n+1>` is used.
    struct Rotating {
        calls: Arc<AtomicU32>,
    }

    #[async_trait::async_trait]
    impl Refresher for Rotating {
        async fn refresh(&self, rt: &SecretString) -> Result<TokenSet, ConnectorError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(TokenSet {
                access_token: SecretString::from(format!("a{n}-from-{}", rt.expose_secret())),
                refresh_token: Some(SecretString::from(format!("r{n}"))),
                expires_at: Some(Utc::now() + chrono::Duration::hours(24)),
                api_domain: None,
            })
        }
    }

    fn stale(access: &str, refresh: &str) -> TokenSet {
        TokenSet {
            access_token: SecretString::from(access.to_string()),
            refresh_token: Some(SecretString::from(refresh.to_string())),
            expires_at: Some(Utc::now() - chrono::Duration::minutes(1)),
            api_domain: Some("https://www.zohoapis.eu".into()),
        }
    }

    async fn expired(store: &Arc<MemoryTokenStore>) {
        store
            .save("crm", Save::Authorize, &stale("a0", "r0"))
            .await
            .expect("seed");
    }

    fn session(store: &Arc<MemoryTokenStore>, calls: &Arc<AtomicU32>) -> OAuthSession {
        let options = SessionOptions {
            poll: Duration::from_millis(5),
            ..Default::default()
        };
        OAuthSession::new(
            "crm",
            "run okno auth",
            TokenVault::with_store(store.clone()),
            Box::new(Rotating {
                calls: calls.clone(),
            }),
            options,
        )
    }

    #[tokio::test]
    async fn concurrent_sessions_refresh_once_and_share_the_pair() {
        let store = Arc::new(MemoryTokenStore::default());
        expired(&store).await;
        let calls = Arc::new(AtomicU32::new(0));
        // Four sessions stand for four processes; each is also used by two tasks.
        let sessions: Vec<Arc<OAuthSession>> =
            (0..4).map(|_| Arc::new(session(&store, &calls))).collect();
        let mut tasks = Vec::new();
        for s in sessions.iter().chain(sessions.iter()) {
            let s = s.clone();
            tasks.push(tokio::spawn(async move { s.access_token().await }));
        }
        let mut tokens = Vec::new();
        for t in tasks {
            tokens.push(
                t.await
                    .expect("join")
                    .expect("token")
                    .expose_secret()
                    .to_string(),
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "exactly one refresh");
        assert!(tokens.iter().all(|t| t == "a1-from-r0"), "{tokens:?}");
        let stored = store.load("crm").await.expect("load").expect("row");
        assert_eq!(
            stored.tokens.refresh_token.expect("rt").expose_secret(),
            "r1"
        );
        assert_eq!(
            stored.tokens.api_domain.as_deref(),
            Some("https://www.zohoapis.eu"),
            "facts of the first pair survive a refresh that does not repeat them"
        );
    }

    #[tokio::test]
    async fn a_refreshed_pair_the_store_refuses_is_never_dropped() {
        let store = Arc::new(MemoryTokenStore::default());
        expired(&store).await;
        let calls = Arc::new(AtomicU32::new(0));
        let s = session(&store, &calls);
        // A store that fails briefly is retried: one refresh, stored.
        store.fail_saves(2);
        let token = s.access_token().await.expect("saved on a retry");
        assert_eq!(token.expose_secret(), "a1-from-r0");
        let stored = store.load("crm").await.expect("load").expect("row");
        assert_eq!(
            stored.tokens.refresh_token.expect("rt").expose_secret(),
            "r1"
        );

        // A store that stays down: the call fails, the vendor's new pair (r1 is already dead
        // there) is kept pending and stored on the next call without a second refresh.
        let s = session(&store, &calls);
        store
            .save("crm", Save::Authorize, &stale("a1", "r1"))
            .await
            .expect("expire");
        store.fail_saves(SAVE_ATTEMPTS);
        let err = s.access_token().await.expect_err("the store is down");
        assert_eq!(err.class(), "transient");
        let stored = store.load("crm").await.expect("load").expect("row");
        assert_eq!(
            stored.tokens.refresh_token.expect("rt").expose_secret(),
            "r1"
        );
        let token = s.access_token().await.expect("pending pair stored");
        assert_eq!(token.expose_secret(), "a2-from-r1");
        let stored = store.load("crm").await.expect("load").expect("row");
        assert_eq!(
            stored.tokens.refresh_token.expect("rt").expose_secret(),
            "r2"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2, "one refresh per expiry");
    }

    #[tokio::test]
    async fn a_rejected_token_is_replaced_once() {
        let store = Arc::new(MemoryTokenStore::default());
        expired(&store).await;
        let calls = Arc::new(AtomicU32::new(0));
        let s = session(&store, &calls);
        let first = s.access_token().await.expect("token");
        let again = s.access_token().await.expect("cached");
        assert_eq!(first.expose_secret(), again.expose_secret());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let replaced = s.after_rejection(&first).await.expect("refreshed");
        assert_eq!(replaced.expose_secret(), "a2-from-r1");
        // A second task holding the same refused token gets the replacement, no third call.
        let shared = s.after_rejection(&first).await.expect("shared");
        assert_eq!(shared.expose_secret(), "a2-from-r1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn no_stored_pair_says_how_to_authorise() {
        let store = Arc::new(MemoryTokenStore::default());
        let calls = Arc::new(AtomicU32::new(0));
        let err = session(&store, &calls)
            .access_token()
            .await
            .expect_err("nothing stored");
        assert!(err.to_string().contains("run okno auth"), "{err}");
        assert_eq!(err.class(), "auth");
    }
}
