//! Endpoints, paging, the per-board cursor and the board cache.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use okno_connector::http::HttpResponse;
use okno_connector::reqwest::header::{HeaderValue, AUTHORIZATION};
use okno_connector::reqwest::{Client, RequestBuilder};
use okno_connector::{ConnectorError, Cursor, ExposeSecret, HttpClient, Page, Record};
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::config::{is_object_id, BoardRef, Settings};
use crate::model;
use crate::normalize::{self, BoardContext, History};

/// The one request budget: Trello allows 100 requests per 10 s per token (see the crate docs
/// for why the default is 540 per minute).
pub(crate) const BUCKET: &str = "token";
/// Cards and actions per request: Trello's maximum `limit`.
pub(crate) const PAGE_LIMIT: usize = 1000;
/// How long a board's name and lists are reused by webhook refetches.
const CACHE_TTL: Duration = Duration::from_secs(10 * 60);

struct Cached {
    at: Instant,
    board: Arc<BoardContext>,
}

/// Where history comes from: a whole board, or one card (webhook refetches).
#[derive(Clone, Copy)]
enum HistoryOf<'a> {
    Board(&'a str),
    Card(&'a str),
}

pub(crate) struct Api {
    http: HttpClient,
    base: Url,
    /// `OAuth oauth_consumer_key="…", oauth_token="…"`, marked sensitive.
    auth: HeaderValue,
    pub(crate) settings: Settings,
    /// Board context by board id, for webhook refetches.
    boards: Mutex<HashMap<String, Cached>>,
    instance: String,
}

impl Api {
    pub(crate) fn new(
        http: HttpClient,
        settings: Settings,
        instance: &str,
    ) -> Result<Self, ConnectorError> {
        let header = format!(
            "OAuth oauth_consumer_key=\"{}\", oauth_token=\"{}\"",
            settings.api_key,
            settings.token.expose_secret()
        );
        let mut auth = HeaderValue::from_str(&header).map_err(|_| {
            ConnectorError::Invalid(
                "api_key or token contains characters that cannot be sent in a header".into(),
            )
        })?;
        auth.set_sensitive(true);
        Ok(Api {
            http,
            base: settings.base_url.clone(),
            auth,
            settings,
            boards: Mutex::new(HashMap::new()),
            instance: instance.to_string(),
        })
    }

    /// `base` with these path segments appended, each percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn send<F>(
        &self,
        endpoint: &'static str,
        build: F,
    ) -> Result<HttpResponse, ConnectorError>
    where
        F: Fn(&Client) -> RequestBuilder,
    {
        let auth = self.auth.clone();
        self.http
            .send(endpoint, BUCKET, |c| {
                build(c).header(AUTHORIZATION, auth.clone())
            })
            .await
            .map_err(explain)
    }

    async fn get(
        &self,
        endpoint: &'static str,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<HttpResponse, ConnectorError> {
        let url = self.url(segments);
        self.send(endpoint, |c| c.get(url.clone()).query(query))
            .await
    }

    // -----------------------------------------------------------------------------------------
    // boards

    /// A board's id, name and lists, fetched now; refreshes the cache.
    async fn board(&self, board: &str) -> Result<Arc<BoardContext>, ConnectorError> {
        const EP: &str = "boards";
        let resp = self
            .get(
                EP,
                &["1", "boards", board],
                &[("fields", "name,shortLink".into())],
            )
            .await
            .map_err(|e| board_missing(e, board))?;
        let info: model::Board = decode(EP, &resp.body)?;
        const LISTS: &str = "boards/lists";
        let resp = self
            .get(
                LISTS,
                &["1", "boards", &info.id, "lists"],
                &[
                    ("filter", "all".into()),
                    ("fields", "name,closed,pos".into()),
                ],
            )
            .await?;
        let lists: Vec<model::List> = decode(LISTS, &resp.body)?;
        let ctx = Arc::new(BoardContext::new(info, lists, &self.settings.lists));
        self.boards.lock().await.insert(
            ctx.id.clone(),
            Cached {
                at: Instant::now(),
                board: ctx.clone(),
            },
        );
        Ok(ctx)
    }

    /// A board's context from a cache of at most [`CACHE_TTL`].
    async fn cached_board(&self, board_id: &str) -> Result<Arc<BoardContext>, ConnectorError> {
        if let Some(c) = self
            .boards
            .lock()
            .await
            .get(board_id)
            .filter(|c| c.at.elapsed() < CACHE_TTL)
        {
            return Ok(c.board.clone());
        }
        self.board(board_id).await
    }

    /// Every card of a board, archived ones included, `PAGE_LIMIT` at a time going back by id.
    async fn board_cards(&self, board_id: &str) -> Result<Vec<Box<RawValue>>, ConnectorError> {
        const EP: &str = "boards/cards";
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut before: Option<String> = None;
        loop {
            let mut query = vec![
                ("filter", "all".to_string()),
                ("limit", PAGE_LIMIT.to_string()),
            ];
            if let Some(b) = &before {
                query.push(("before", b.clone()));
            }
            let resp = self
                .get(EP, &["1", "boards", board_id, "cards"], &query)
                .await?;
            let items: Vec<Box<RawValue>> = decode(EP, &resp.body)?;
            let n = items.len();
            let mut oldest: Option<String> = None;
            let mut added = 0;
            for raw in items {
                let card: model::Card = decode_item(EP, &raw)?;
                if oldest.as_ref().is_none_or(|o| card.id < *o) {
                    oldest = Some(card.id.clone());
                }
                if seen.insert(card.id) {
                    out.push(raw);
                    added += 1;
                }
            }
            // A short page is the last; a page of nothing new means `before` is not honoured.
            if n < PAGE_LIMIT || added == 0 {
                return Ok(out);
            }
            before = oldest;
        }
    }

    /// A board's or a card's history: every creation, arrival, list move and deletion, newest
    /// first, `PAGE_LIMIT` at a time with `before` = the oldest action id of the page before.
    async fn history(
        &self,
        of: HistoryOf<'_>,
        board: &BoardContext,
    ) -> Result<History, ConnectorError> {
        let (endpoint, segments): (&'static str, [&str; 4]) = match of {
            HistoryOf::Board(id) => ("boards/actions", ["1", "boards", id, "actions"]),
            HistoryOf::Card(id) => ("cards/actions", ["1", "cards", id, "actions"]),
        };
        let mut history = History::default();
        let mut seen = HashSet::new();
        let mut before: Option<String> = None;
        loop {
            let mut query = vec![
                ("filter", normalize::HISTORY_FILTER.to_string()),
                ("fields", "id,type,date,data,idMemberCreator".to_string()),
                ("limit", PAGE_LIMIT.to_string()),
            ];
            if let Some(b) = &before {
                query.push(("before", b.clone()));
            }
            let resp = self.get(endpoint, &segments, &query).await?;
            let items: Vec<Box<RawValue>> = decode(endpoint, &resp.body)?;
            let n = items.len();
            let mut oldest: Option<String> = None;
            let mut added = 0;
            for raw in &items {
                let action: model::Action = decode_item(endpoint, raw)?;
                let Some(id) = action.id.clone() else {
                    history.skipped += 1;
                    continue;
                };
                if oldest.as_ref().is_none_or(|o| id < *o) {
                    oldest = Some(id.clone());
                }
                if seen.insert(id) {
                    history.observe(&action, board, &self.settings.lists);
                    added += 1;
                }
            }
            if n < PAGE_LIMIT || added == 0 || oldest.is_none() {
                break;
            }
            before = oldest;
        }
        if history.skipped > 0 {
            tracing::warn!(
                instance = %self.instance,
                board = %board.id,
                skipped = history.skipped,
                "some Trello actions had no date, type or card and were not used for start and done times"
            );
        }
        Ok(history)
    }

    // -----------------------------------------------------------------------------------------
    // streams

    /// One board's cards as tasks, plus deletions from its history. Read whole every run.
    pub(crate) async fn cards_page(&self, cursor: Option<&Cursor>) -> Result<Page, ConnectorError> {
        let boards = &self.settings.boards;
        let i = board_index(cursor, boards, "cards", &self.instance);
        let board = self.board(boards[i].as_str()).await?;
        let cards = self.board_cards(&board.id).await?;
        let history = self.history(HistoryOf::Board(&board.id), &board).await?;
        let mut records = Vec::with_capacity(cards.len() + history.deleted.len());
        let mut present = HashSet::with_capacity(cards.len());
        for raw in &cards {
            let card: model::Card = decode_item("boards/cards", raw)?;
            present.insert(card.id.clone());
            let h = history.cards.get(&card.id);
            let task = normalize::task(card, raw, &board, &self.settings.lists, h)
                .map_err(|m| ConnectorError::decode("boards/cards", m))?;
            records.push(Record::Task(Box::new(task)));
        }
        let mut deleted = HashSet::new();
        for (id, at) in history.deleted {
            // A card cannot be both on the board and deleted; trust the board if it says so.
            if !present.contains(&id) && deleted.insert(id.clone()) {
                records.push(Record::Deleted(normalize::deleted(id, at)));
            }
        }
        Ok(next_board(i, boards, records))
    }

    /// One board's members as identities.
    pub(crate) async fn members_page(
        &self,
        cursor: Option<&Cursor>,
    ) -> Result<Page, ConnectorError> {
        const EP: &str = "boards/members";
        let boards = &self.settings.boards;
        let i = board_index(cursor, boards, "members", &self.instance);
        let board = boards[i].as_str();
        let resp = self
            .get(
                EP,
                &["1", "boards", board, "members"],
                &[("fields", "fullName,username".into())],
            )
            .await
            .map_err(|e| board_missing(e, board))?;
        let items: Vec<Box<RawValue>> = decode(EP, &resp.body)?;
        let records = items
            .iter()
            .map(|raw| {
                let m: model::Member = decode_item(EP, raw)?;
                Ok(Record::Identity(normalize::identity(m, raw)))
            })
            .collect::<Result<Vec<_>, ConnectorError>>()?;
        Ok(next_board(i, boards, records))
    }

    /// Cards by id, for webhooks: each card, its board's lists (cached) and its own history.
    /// A card Trello no longer has (404) is left out.
    pub(crate) async fn cards_by_id(&self, ids: &[String]) -> Result<Page, ConnectorError> {
        const EP: &str = "cards/by_id";
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            let id = id.trim();
            if !is_object_id(id) {
                return Err(ConnectorError::Invalid(format!(
                    "{id:?} is not a Trello card id"
                )));
            }
            let resp = match self.get(EP, &["1", "cards", id], &[]).await {
                Ok(r) => r,
                Err(ConnectorError::Permanent { status: 404, .. }) => continue,
                Err(e) => return Err(e),
            };
            let raw: Box<RawValue> = decode(EP, &resp.body)?;
            let card: model::Card = decode_item(EP, &raw)?;
            let Some(board_id) = card.id_board.clone() else {
                return Err(ConnectorError::decode(
                    EP,
                    format!("card {id} has no idBoard"),
                ));
            };
            let board = self.cached_board(&board_id).await?;
            let history = self.history(HistoryOf::Card(&card.id), &board).await?;
            let h = history.cards.get(&card.id);
            let task = normalize::task(card, &raw, &board, &self.settings.lists, h)
                .map_err(|m| ConnectorError::decode(EP, m))?;
            records.push(Record::Task(Box::new(task)));
        }
        Ok(Page {
            records,
            next: None,
            has_more: false,
        })
    }

    pub(crate) async fn check(&self) -> Result<String, ConnectorError> {
        const EP: &str = "members/me";
        let resp = self
            .get(
                EP,
                &["1", "members", "me"],
                &[("fields", "fullName,username".into())],
            )
            .await?;
        let me: model::Member = decode(EP, &resp.body)?;
        Ok(format!(
            "Trello member {} (@{}); {} board(s) configured",
            me.full_name.as_deref().unwrap_or("(no name)"),
            me.username.as_deref().unwrap_or("?"),
            self.settings.boards.len()
        ))
    }

    // -----------------------------------------------------------------------------------------
    // webhooks

    /// One webhook per configured board for `callback_url`, skipping boards that already have
    /// one for that exact URL under this token.
    pub(crate) async fn register_webhooks(&self) -> Result<Vec<String>, ConnectorError> {
        let Some(hooks) = &self.settings.webhooks else {
            return Err(ConnectorError::Invalid(format!(
                "{}: set `app_secret` and `callback_url` in the instance's settings to use webhooks",
                self.instance
            )));
        };
        let callback = hooks.callback_url.as_str();
        // Board ids first: webhooks are keyed by id, and the settings may hold short links.
        let mut boards = Vec::with_capacity(self.settings.boards.len());
        for b in &self.settings.boards {
            const EP: &str = "boards";
            let resp = self
                .get(
                    EP,
                    &["1", "boards", b.as_str()],
                    &[("fields", "name".into())],
                )
                .await
                .map_err(|e| board_missing(e, b.as_str()))?;
            boards.push(decode::<model::Board>(EP, &resp.body)?);
        }
        const LIST: &str = "tokens/webhooks";
        let token = self.settings.token.expose_secret().to_string();
        let resp = self
            .get(LIST, &["1", "tokens", &token, "webhooks"], &[])
            .await?;
        let existing: Vec<model::Webhook> = decode(LIST, &resp.body)?;

        let mut lines = Vec::with_capacity(boards.len());
        for board in boards {
            let label = match board.name.as_deref() {
                Some(n) => format!("board {} ({n})", board.id),
                None => format!("board {}", board.id),
            };
            let found = existing.iter().find(|w| {
                w.id_model.as_deref() == Some(board.id.as_str())
                    && w.callback_url.as_deref() == Some(callback)
            });
            if let Some(w) = found {
                let state = if w.active == Some(false) {
                    " but inactive (Trello disables webhooks after repeated failed deliveries; delete it in Trello and run this again)"
                } else {
                    ""
                };
                lines.push(format!(
                    "{label}: already registered as webhook {}{state}",
                    w.id.as_deref().unwrap_or("?")
                ));
                continue;
            }
            const CREATE: &str = "webhooks/create";
            let url = self.url(&["1", "webhooks"]);
            let body = json!({
                "callbackURL": callback,
                "idModel": board.id,
                "description": format!("okno {}: {}", self.instance, board.name.as_deref().unwrap_or(&board.id)),
            });
            match self.send(CREATE, |c| c.post(url.clone()).json(&body)).await {
                Ok(resp) => {
                    let w: model::Webhook = decode(CREATE, &resp.body)?;
                    lines.push(format!(
                        "{label}: registered webhook {}",
                        w.id.as_deref().unwrap_or("?")
                    ));
                }
                Err(ConnectorError::Permanent {
                    status: 400,
                    message,
                    ..
                }) if message.contains("already exists") => {
                    lines.push(format!("{label}: already registered"));
                }
                Err(ConnectorError::Permanent {
                    endpoint,
                    status: 400,
                    message,
                }) if message.contains("did not return 200") => {
                    return Err(ConnectorError::Permanent {
                        endpoint,
                        status: 400,
                        message: format!(
                            "{message} (Trello checks the callback URL with a HEAD request before creating a webhook: okno must be running and reachable at {callback} and answer HEAD with 200)"
                        ),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(lines)
    }
}

/// Adds what the operator should check to errors Trello explains badly.
fn explain(e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Auth {
            endpoint,
            status,
            message,
        } if message.contains("API_TOO_MANY_CARDS_REQUESTED") => ConnectorError::Permanent {
            endpoint,
            status,
            message: format!("{message} (the board is too large for one answer)"),
        },
        ConnectorError::Auth {
            endpoint,
            status: 401,
            message,
        } => ConnectorError::Auth {
            endpoint,
            status: 401,
            message: format!(
                "{message} (check api_key and token: Trello answers 'invalid key' or 'invalid token', and a revoked or expired token must be replaced)"
            ),
        },
        other => other,
    }
}

/// A 404 (or Trello's 400 "invalid id") for a configured board says which board.
fn board_missing(e: ConnectorError, board: &str) -> ConnectorError {
    match e {
        ConnectorError::Permanent {
            endpoint,
            status: status @ (400 | 404),
            message,
        } => ConnectorError::Permanent {
            endpoint,
            status,
            message: format!(
                "{message} (board {board:?} does not exist or the token's member cannot see it; check `boards`)"
            ),
        },
        ConnectorError::Auth {
            endpoint,
            status: 403,
            message,
        } => ConnectorError::Auth {
            endpoint,
            status: 403,
            message: format!(
                "{message} (the token's member has no access to board {board:?})"
            ),
        },
        other => other,
    }
}

fn decode<'a, T: serde::Deserialize<'a>>(
    endpoint: &'static str,
    body: &'a [u8],
) -> Result<T, ConnectorError> {
    serde_json::from_slice(body).map_err(|e| ConnectorError::decode(endpoint, e))
}

fn decode_item<'a, T: serde::Deserialize<'a>>(
    endpoint: &'static str,
    raw: &'a RawValue,
) -> Result<T, ConnectorError> {
    serde_json::from_str(raw.get()).map_err(|e| {
        let excerpt: String = raw.get().chars().take(120).collect();
        ConnectorError::decode(endpoint, format!("{e} in object {excerpt}…"))
    })
}

// ---------------------------------------------------------------------------------------------
// cursor

/// The board a per-board stream reads next. Stored as `{"board": <index>, "ref": <board>}`; a
/// cursor that no longer fits the settings (boards changed) starts over at the first board,
/// which loses nothing: these streams are read whole every run.
pub(crate) fn board_index(
    cursor: Option<&Cursor>,
    boards: &[BoardRef],
    stream: &str,
    instance: &str,
) -> usize {
    let Some(Cursor(v)) = cursor else {
        return 0;
    };
    let index = v
        .get("board")
        .and_then(|b| b.as_u64())
        .and_then(|b| usize::try_from(b).ok());
    let reference = v.get("ref").and_then(|r| r.as_str());
    match (index, reference) {
        (Some(i), Some(r)) if boards.get(i).is_some_and(|b| b.as_str() == r) => i,
        _ => {
            tracing::warn!(instance, stream, cursor = %v, "the stored cursor does not match the configured boards; starting from the first board");
            0
        }
    }
}

/// The page for board `i`: the next board's cursor, or none after the last board.
fn next_board(i: usize, boards: &[BoardRef], records: Vec<Record>) -> Page {
    match boards.get(i + 1) {
        Some(b) => Page {
            records,
            next: Some(Cursor(json!({ "board": i + 1, "ref": b.as_str() }))),
            has_more: true,
        },
        None => Page {
            records,
            next: None,
            has_more: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boards() -> Vec<BoardRef> {
        vec![BoardRef("aaaa1111".into()), BoardRef("bbbb2222".into())]
    }

    #[test]
    fn cursors_walk_the_boards_and_restart_when_the_boards_change() {
        let b = boards();
        assert_eq!(board_index(None, &b, "cards", "t"), 0);
        let page = next_board(0, &b, Vec::new());
        assert!(page.has_more);
        let c = page.next.unwrap();
        assert_eq!(board_index(Some(&c), &b, "cards", "t"), 1);
        let last = next_board(1, &b, Vec::new());
        assert!(!last.has_more && last.next.is_none());
        // The second board was replaced: start over.
        let changed = vec![BoardRef("aaaa1111".into()), BoardRef("cccc3333".into())];
        assert_eq!(board_index(Some(&c), &changed, "cards", "t"), 0);
        assert_eq!(
            board_index(
                Some(&Cursor(json!({"board": 9, "ref": "x"}))),
                &b,
                "cards",
                "t"
            ),
            0
        );
        assert_eq!(
            board_index(Some(&Cursor(json!("junk"))), &b, "cards", "t"),
            0
        );
    }
}
