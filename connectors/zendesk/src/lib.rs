//! # Zendesk Support connector
//!
//! - **API**: Zendesk Support REST API v2 (`https://{subdomain}.zendesk.com/api/v2`).
//! - **Auth**: API token as basic auth (`{email}/token:{api_token}`), or an OAuth access token as
//!   `Authorization: Bearer`. Incremental exports need an admin.
//! - **Rate limits**: incremental exports allow 10 requests per minute (bucket `incremental`);
//!   other endpoints follow the plan's limit, 200 per minute on the smallest plan (bucket `api`).
//!   429 answers carry `Retry-After`, which the SDK client honours.
//! - **Streams**:
//!   - `tickets`: `GET /api/v2/incremental/tickets/cursor.json`, first with `start_time` (unix
//!     seconds, from `start_date`), then `cursor=<after_cursor>` until `end_of_stream`. The last
//!     `after_cursor` is kept, so the next run continues where this one ended. Ticket metrics are
//!     sideloaded (`include=metric_sets`) so reply and resolution times follow every ticket change.
//!     Deleted tickets arrive with status `deleted` and are marked, not erased.
//!   - `users`: `GET /api/v2/incremental/users/cursor.json`, the same cursor protocol; becomes
//!     identities (agents, admins and requesters), matched to people by e-mail.
//!   - `groups`: `GET /api/v2/groups` with cursor pagination (`page[size]=100`, `page[after]`);
//!     small, so it is read whole every run.
//!   - `ticket_metrics` (not pulled unless listed in `streams`): `GET /api/v2/ticket_metrics`,
//!     cursor-paginated, read whole every run: a reconciliation of the sideloaded metrics. It
//!     spends the account-wide API budget in proportion to the number of tickets.
//! - **Quirks**: the cursor export's `start_time` must be at least a minute in the past; the
//!   time-based export can return the same page forever when over 1,000 tickets share a second,
//!   which is why only the cursor exports are used.
//! - **Webhooks** (with `webhook_signing_secret`): verified by `X-Zendesk-Webhook-Signature`
//!   over timestamp + body within a replay window; a delivery names a ticket or user, which is
//!   fetched again by id (`tickets/show_many`, `users/show_many`). See [`webhook`].

mod api;
mod config;
#[cfg(feature = "mock")]
pub mod mock;
mod model;
mod normalize;
mod webhook;

use std::sync::Arc;

use okno_connector::{
    async_trait, BuildContext, Connector, ConnectorError, ConnectorKind, HttpClient, Page,
    PageRequest, RateBucket, SettingsError, StreamSpec,
};

pub use config::Settings;

/// The registry entry for `kind = "zendesk"`.
pub const KIND: ConnectorKind = ConnectorKind {
    kind: "zendesk",
    summary: "Zendesk Support: tickets (with reply and resolution times), users and groups",
    streams: &[
        StreamSpec {
            name: "tickets",
            doc: "incremental cursor export of tickets with sideloaded metric sets; resumes from after_cursor",
            default: true,
        },
        StreamSpec {
            name: "users",
            doc: "incremental cursor export of users (agents, admins, requesters); resumes from after_cursor",
            default: true,
        },
        StreamSpec {
            name: "groups",
            doc: "all groups, cursor-paginated, read whole every run",
            default: true,
        },
        StreamSpec {
            name: "ticket_metrics",
            doc: "all ticket metrics, cursor-paginated, read whole every run (reconciliation)",
            // Re-reads every ticket\'s metrics through the plan-wide API budget; the tickets
            // stream already carries them. Opt in for a periodic reconciliation.
            default: false,
        },
    ],
    settings: config::SETTINGS,
    rate_buckets: &[
        RateBucket {
            name: "incremental",
            per_minute: 10,
            doc: "incremental exports (tickets, users): 10 requests per minute, 30 with the High Volume add-on",
        },
        RateBucket {
            name: "api",
            per_minute: 100,
            doc: "other endpoints (groups, ticket metrics): half the smallest plan's 200 per minute, leaving room for the account's other integrations",
        },
    ],
    build,
};

fn build(ctx: BuildContext) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    let settings = config::Settings::parse(&ctx.settings, ctx.base_url.as_ref())?;
    let http = HttpClient::new("zendesk", &ctx.instance, &ctx.http)
        .map_err(|e| vec![SettingsError::new("", e.to_string())])?;
    let webhooks = (!settings.webhook_secrets.is_empty()).then(|| webhook::Webhooks {
        secrets: settings.webhook_secrets.clone(),
        max_age: chrono::Duration::seconds(i64::from(settings.webhook_max_age_secs)),
    });
    Ok(Arc::new(Zendesk {
        api: api::Api::new(http, settings),
        webhooks,
    }))
}

/// One Zendesk account.
pub struct Zendesk {
    api: api::Api,
    webhooks: Option<webhook::Webhooks>,
}

#[async_trait]
impl Connector for Zendesk {
    async fn fetch_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        match req.stream {
            "tickets" => self.api.tickets_page(req.cursor, req.start).await,
            "users" => self.api.users_page(req.cursor, req.start).await,
            "groups" => self.api.groups_page(req.cursor).await,
            "ticket_metrics" => self.api.ticket_metrics_page(req.cursor).await,
            other => Err(ConnectorError::Invalid(format!(
                "zendesk has no stream {other:?}"
            ))),
        }
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        self.api.whoami().await
    }

    async fn fetch_ids(&self, stream: &str, ids: &[String]) -> Result<Page, ConnectorError> {
        match stream {
            "tickets" | "users" => self.api.show_many(stream, ids).await,
            other => Err(ConnectorError::Invalid(format!(
                "zendesk cannot fetch {other} by id"
            ))),
        }
    }

    fn webhooks(&self) -> Option<&dyn okno_connector::webhook::WebhookHandler> {
        self.webhooks
            .as_ref()
            .map(|w| w as &dyn okno_connector::webhook::WebhookHandler)
    }
}
