//! # okno
//!
//! One long-running service that pulls a marketing department's tools (help desk, CRM, task
//! tracker, ad accounts) into one store and computes what their data means together.
//!
//! Data flow: **sources → normalised records → one store → figures → exports and HTTP**.
//!
//! ```text
//!  connectors/* (one crate per vendor, contract in connectors/sdk)
//!        │  one page of Records + the cursor that follows it
//!        ▼
//!  sync     the engine: cron schedule, page loop, shutdown between pages, sync_run history
//!        │  page + cursor in ONE transaction
//!        ▼
//!  store    SQLite (embedded default) or PostgreSQL, idempotent upserts, migrations
//!        ▲
//!        │  deliveries stored before they are acknowledged, processed by a worker
//!  webhooks POST /hooks/{instance}, /healthz, /readyz, /metrics (axum, in `okno run`)
//! ```
//!
//! Where to start reading: [`registry`] (every connector kind), [`config`] (what ops write),
//! [`sync::sync_stream`] (the page loop), [`store::Store::commit_page`] (the transaction),
//! [`webhooks`] (the HTTP surface and the inbox), [`figures`] (attribution and ROI over the
//! store), [`fx`] (conversion at the rate of the day), [`import`] (CSV spend, rates and budget
//! lines), [`budget_check`] (the daemon's budget alerts), [`export`] (nightly report files for
//! finance).
//! The binary's CLI lives in `src/main.rs` and [`cli`].

pub mod alloc;
pub mod budget_check;
pub mod cli;
pub mod config;
pub mod export;
pub mod figures;
pub mod fx;
pub mod import;
pub mod registry;
pub mod single;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod webhooks;
