//! # Trello connector
//!
//! - **API**: Trello REST API v1 (`https://api.trello.com/1/...`).
//! - **Auth**: an API key (public, identifies the Power-Up) and a user token (the secret), sent
//!   on every request as `Authorization: OAuth oauth_consumer_key="<key>", oauth_token="<token>"`
//!   rather than as the `key=…&token=…` query parameters of Trello's examples, so neither ends up
//!   in a URL (proxies and access logs keep URLs). The SDK client never logs URLs either. The one
//!   exception is listing the token's webhooks (`GET /1/tokens/{token}/webhooks`, only during
//!   `okno webhooks register`), whose path is the token itself.
//! - **Rate limits**: 100 requests per 10 s per token and 300 per 10 s per API key across all its
//!   tokens; a 429 names the limit in its body (`API_TOKEN_LIMIT_EXCEEDED`,
//!   `API_KEY_LIMIT_EXCEEDED`) and carries no `Retry-After`, so the SDK's jittered backoff
//!   retries it; more than 200 429s per key make Trello refuse the rest of the 10 s window. Every
//!   request spends from one bucket, `token`: 540 per minute. The SDK's budget allows a burst of
//!   a second's worth on top of its rate, so 9 per second with a burst of 9 is at most 99 in any
//!   10 s, under the token's 100 (600 per minute would allow 110). The key's limit is shared by
//!   every token of the key: instances that share an API key should lower `token` in
//!   `[connector.rate_limit]` so that together they stay under 27 per second (1620 per minute,
//!   burst included). The SDK spends one bucket per request, so the key is not budgeted apart.
//! - **Streams** (both read whole every run, one page per configured board; the cursor
//!   `{"board": i, "ref": "<board>"}` only says which board comes next inside a run):
//!   - `cards`: for each board, `GET /1/boards/{b}?fields=name,shortLink`, its lists
//!     (`/lists?filter=all`, archived lists included, for names and categories), every card
//!     (`/cards?filter=all&limit=1000`, archived cards included, going back with
//!     `before=<oldest card id>` while pages are full) and the board's whole card history
//!     (`/actions?filter=createCard,copyCard,convertToCardFromCheckItem,emailCard,
//!     moveCardToBoard,updateCard:idList,deleteCard&limit=1000`, newest first, paged with
//!     `before=<oldest action id of the page>` until a short page). The history gives each
//!     card's reporter, start and done times, and the board's deletions. **Cost**: 3 requests
//!     per board plus one per 1000 cards and one per 1000 history actions, every run: a board
//!     with 2,000 cards and 15,000 moves costs 20 requests (about 2 s of the token's budget).
//!     Deletions and start/done times come from the same walk, which is why there is no separate
//!     `actions` stream: tasks are written whole, so every task row needs its times anyway, and
//!     a second stream would walk the same history again.
//!   - `members`: `GET /1/boards/{b}/members` → identities. Trello does not expose other
//!     members' e-mail addresses, so `email` is always empty and people are matched by hand.
//! - **Task mapping**: `task_id` = card id, `key` = `shortLink`, `title` = `name`, `project` =
//!   board id, `project_name` = board name, `task_type` none, `labels` = label names (a label
//!   without a name by its colour), `assignee_id` = the **first** of `idMembers` (the others stay
//!   in `raw`), `reporter_id` = who made the earliest creation action (`createCard`, `copyCard`,
//!   `convertToCardFromCheckItem`, `emailCard`), `status` = list name, `status_category` from
//!   `lists` (by list id or name, any case) or else the list's name: names containing done,
//!   complete, closed, archive, готово, выполнено, завершен, сделано or архив are done; doing,
//!   in progress, progress, review, в работе, в процессе or на проверке in progress; anything
//!   else to do. Archived cards (`closed: true`) are kept with their list's category.
//!   `created_at` = the time in the card id (its first 8 hex digits are Unix seconds),
//!   `updated_at` = `dateLastActivity`, `started_at` = the first time the card entered an
//!   in-progress list, `done_at` = the last time it entered a done list (`None` unless the card
//!   is in a done list now). Entering a list means being created, copied or moved to the board
//!   in it, or moved into it (`updateCard` with `listAfter`); lists are categorised as they are
//!   mapped now (a list the board no longer has goes by the name the action recorded).
//!   `campaign` and `estimate` are left empty: custom fields are not read. `raw` is the card
//!   exactly as received.
//! - **Deletions**: each `deleteCard` action of a board's history becomes a
//!   [`okno_connector::Deleted`] dated by the action, every run (the store keeps the earliest).
//! - **Webhooks** (with `app_secret` and `callback_url`): `okno webhooks register <instance>`
//!   creates one webhook per board (`POST /1/webhooks`), skipping boards whose webhook for that
//!   exact URL already exists under the token. Deliveries are verified with `X-Trello-Webhook`
//!   and mostly name a card to fetch again (`GET /1/cards/{id}` plus that card's own history);
//!   see the `webhook` module. **The daemon's router must answer `HEAD /hooks/{instance}` with
//!   200**: Trello checks the URL that way before creating a webhook.
//!
//! ## What the public sources leave open, and how this code copes
//!
//! - The header form of the credentials is shown by the authorization guide's "Passing token
//!   and key in API requests" section as quoted in third-party scripts, and used by client
//!   libraries (TrelloDotNet's `SendCredentialsMode.Header`); the section's own text was not at
//!   hand. If Trello ever refused it, every request would answer 401.
//! - Whether `/boards/{id}/cards` caps its answer without `limit`, and whether `before` orders
//!   by id: cards are asked for 1000 at a time and the next request goes before the smallest id
//!   seen; a page adding no new card ends the walk, so a server ignoring `before` or `limit`
//!   cannot loop.
//! - The order of actions (documented newest first): the history keeps only earliest and latest
//!   times, so order does not matter; paging goes before the smallest action id seen.
//! - Action payloads: `listAfter`/`list`/`card.idList` follow real captured payloads; actions
//!   without a type, date or card are skipped (and counted in a warning).
//! - Cards whose history lies on another board (moved between boards) only see the moves made
//!   on the board being read; webhook refetches read the card's own history, which follows it.
//!   A card moved to a board okno does not read leaves its board's list of cards: its row keeps
//!   the last state polling saw (a webhook refetch shows it under its new board, if the token
//!   can see that board).
//! - Label shapes: real answers give `labels` as objects and `idLabels` as ids, Trello's
//!   OpenAPI example the other way round; both parse, and id strings carry no name.
//! - The status of `API_TOO_MANY_CARDS_REQUESTED` (reported as 400 and as 403): either way it
//!   is a permanent error, never an authentication one.

mod api;
mod config;
mod model;
mod normalize;
mod webhook;

use std::sync::Arc;

use okno_connector::{
    async_trait, BuildContext, Connector, ConnectorError, ConnectorKind, HttpClient, Page,
    PageRequest, RateBucket, SettingsError, StreamSpec,
};

pub use config::Settings;

/// The registry entry for `kind = "trello"`.
pub const KIND: ConnectorKind = ConnectorKind {
    kind: "trello",
    summary: "Trello: cards as tasks (list-mapped status, start and done times), deletions, board members",
    streams: &[
        StreamSpec {
            name: "cards",
            doc: "every card of each board (archived included) with start/done times from the board's history, plus deleteCard deletions; read whole every run, one page per board",
            default: true,
        },
        StreamSpec {
            name: "members",
            doc: "board members as identities (Trello hides their e-mail); read whole every run, one page per board",
            default: true,
        },
    ],
    settings: config::SETTINGS,
    rate_buckets: &[RateBucket {
        name: "token",
        per_minute: 540,
        doc: "every request: Trello allows 100 per 10 s per token (540/min plus the SDK's one-second burst stays under it); the API key's 300 per 10 s is shared by all its tokens, so lower this when instances share a key",
    }],
    build,
};

fn build(ctx: BuildContext) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    let settings = config::Settings::parse(&ctx.settings, ctx.base_url.as_ref())?;
    let http = HttpClient::new("trello", &ctx.instance, &ctx.http)
        .map_err(|e| vec![SettingsError::new("", e.to_string())])?;
    let webhooks = settings
        .webhooks
        .clone()
        .map(|settings| webhook::Webhooks { settings });
    let api = api::Api::new(http, settings, &ctx.instance)
        .map_err(|e| vec![SettingsError::new("token", e.to_string())])?;
    Ok(Arc::new(Trello { api, webhooks }))
}

/// One Trello token and its boards.
pub struct Trello {
    api: api::Api,
    webhooks: Option<webhook::Webhooks>,
}

#[async_trait]
impl Connector for Trello {
    async fn fetch_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        match req.stream {
            "cards" => self.api.cards_page(req.cursor).await,
            "members" => self.api.members_page(req.cursor).await,
            other => Err(ConnectorError::Invalid(format!(
                "trello has no stream {other:?}"
            ))),
        }
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        self.api.check().await
    }

    async fn fetch_ids(&self, stream: &str, ids: &[String]) -> Result<Page, ConnectorError> {
        match stream {
            "cards" => self.api.cards_by_id(ids).await,
            other => Err(ConnectorError::Invalid(format!(
                "trello cannot fetch {other} by id"
            ))),
        }
    }

    fn webhooks(&self) -> Option<&dyn okno_connector::webhook::WebhookHandler> {
        self.webhooks
            .as_ref()
            .map(|w| w as &dyn okno_connector::webhook::WebhookHandler)
    }

    async fn register_webhooks(&self) -> Result<Vec<String>, ConnectorError> {
        self.api.register_webhooks().await
    }
}
