//! # okno-connector: the contract between okno and every vendor
//!
//! A connector turns *(stream, cursor)* into **one page** of normalised [`Record`]s and the cursor
//! that follows it. Everything else — the page loop, scheduling, the transaction that stores a page
//! together with its cursor, shutdown, telemetry — belongs to the engine in the `okno` crate and is
//! written once. A connector never touches the store and never retries by hand.
//!
//! Where to start reading:
//! - [`connector`]: the [`Connector`] trait, [`Page`], [`StreamSpec`] and the [`ConnectorKind`]
//!   descriptor the daemon's registry lists.
//! - [`record`]: the normalised record types every vendor maps into.
//! - [`http`]: [`HttpClient`], the only way a connector talks to a vendor (rate limits, retries with
//!   jittered backoff honouring `Retry-After`, timeouts, tracing spans).
//! - [`error`]: [`ConnectorError`], classified by what the engine should do next.
//! - [`money`]: decimal [`Money`] with an ISO 4217 [`Currency`].
//! - [`oauth`]: OAuth 2.0 sessions whose tokens live in the store ([`OAuthSession`]), refreshed
//!   by one process at a time and stored durably before use.
//! - [`spend`]: the look-back plan every ad-platform connector pulls spend by ([`spend::SpendCursor`]).
//! - [`webhook`]: verifying and parsing pushed deliveries ([`webhook::WebhookHandler`]).
//! - `testkit` (feature `testkit`): fixtures and mock-server helpers for connector tests.

pub mod connector;
pub mod error;
pub mod http;
pub mod money;
pub mod oauth;
pub mod record;
pub mod settings;
pub mod signature;
pub mod spend;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod webhook;

pub use connector::{
    BuildContext, Connector, ConnectorKind, Cursor, Page, PageRequest, RateBucket, SettingSpec,
    StreamSpec,
};
pub use error::{ConnectorError, SettingsError};
pub use http::{HttpClient, HttpOptions, HttpResponse, RetryPolicy, Verdict};
pub use money::{Currency, Money, MoneyError};
pub use oauth::{OAuthSession, Refresher, TokenSet, TokenStore, TokenVault};
pub use record::{
    AdAccount, AdSpend, Campaign, ClickId, ClickKind, Deleted, DeletedKind, FxRate, Group,
    Identity, Lead, LeadEntity, Marks, Record, SpendWindow, Stage, StageCategory, StatusCategory,
    Task, Ticket, TicketMetrics,
};
pub use secrecy::{ExposeSecret, SecretString};

/// Re-exported so connector crates use the same versions as the SDK.
pub use async_trait::async_trait;
pub use chrono;
pub use chrono_tz;
pub use reqwest;
pub use rust_decimal;
pub use serde_json;
