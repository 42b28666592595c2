//! Endpoints and pagination. Each function fetches exactly one page.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use okno_connector::reqwest::header::{HeaderValue, AUTHORIZATION};
use okno_connector::{ConnectorError, Cursor, ExposeSecret, HttpClient, Page, Record};
use serde::de::DeserializeOwned;
use serde_json::json;
use serde_json::value::RawValue;

use crate::config::{Auth, Settings};
use crate::model::{self, ExportPage, ListPage};
use crate::normalize;

const LIST_PAGE_SIZE: u32 = 100;

pub(crate) struct Api {
    http: HttpClient,
    settings: Settings,
    authorization: HeaderValue,
}

impl Api {
    pub(crate) fn new(http: HttpClient, settings: Settings) -> Self {
        let authorization = authorization(&settings.auth);
        Api {
            http,
            settings,
            authorization,
        }
    }

    fn url(&self, path: &str) -> String {
        let base = self.settings.base_url.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }

    async fn get(
        &self,
        endpoint: &'static str,
        bucket: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<u8>, ConnectorError> {
        let url = self.url(path);
        let resp = self
            .http
            .send(endpoint, bucket, |c| {
                c.get(&url)
                    .query(query)
                    .header(AUTHORIZATION, self.authorization.clone())
            })
            .await?;
        Ok(resp.body)
    }

    pub(crate) async fn tickets_page(
        &self,
        cursor: Option<&Cursor>,
        start: DateTime<Utc>,
    ) -> Result<Page, ConnectorError> {
        const EP: &str = "incremental/tickets";
        let mut query = export_query(cursor, start, self.settings.per_page, EP)?;
        query.push(("include", "metric_sets".to_string()));
        let body = self
            .get(
                EP,
                "incremental",
                "/api/v2/incremental/tickets/cursor.json",
                &query,
            )
            .await?;
        let page: ExportPage = decode(EP, &body)?;
        let mut records = Vec::with_capacity(page.items.len() + page.metric_sets.len());
        for raw in &page.items {
            let t: model::Ticket = decode_item(EP, raw)?;
            records.push(Record::Ticket(normalize::ticket(t, raw)));
        }
        for raw in &page.metric_sets {
            let m: model::TicketMetric = decode_item(EP, raw)?;
            records.push(Record::TicketMetrics(normalize::metrics(m, raw)));
        }
        export_page(EP, records, page.after_cursor, page.end_of_stream, cursor)
    }

    pub(crate) async fn users_page(
        &self,
        cursor: Option<&Cursor>,
        start: DateTime<Utc>,
    ) -> Result<Page, ConnectorError> {
        const EP: &str = "incremental/users";
        let query = export_query(cursor, start, self.settings.per_page, EP)?;
        let body = self
            .get(
                EP,
                "incremental",
                "/api/v2/incremental/users/cursor.json",
                &query,
            )
            .await?;
        let page: ExportPage = decode(EP, &body)?;
        let mut records = Vec::with_capacity(page.items.len());
        for raw in &page.items {
            let u: model::User = decode_item(EP, raw)?;
            records.push(Record::Identity(normalize::identity(u, raw)));
        }
        export_page(EP, records, page.after_cursor, page.end_of_stream, cursor)
    }

    pub(crate) async fn groups_page(
        &self,
        cursor: Option<&Cursor>,
    ) -> Result<Page, ConnectorError> {
        const EP: &str = "groups";
        self.list_page(EP, "/api/v2/groups.json", cursor, |raw| {
            let g: model::Group = decode_item(EP, raw)?;
            Ok(Record::Group(normalize::group(g, raw)))
        })
        .await
    }

    pub(crate) async fn ticket_metrics_page(
        &self,
        cursor: Option<&Cursor>,
    ) -> Result<Page, ConnectorError> {
        const EP: &str = "ticket_metrics";
        self.list_page(EP, "/api/v2/ticket_metrics.json", cursor, |raw| {
            let m: model::TicketMetric = decode_item(EP, raw)?;
            Ok(Record::TicketMetrics(normalize::metrics(m, raw)))
        })
        .await
    }

    /// A cursor-paginated list read whole every run: the cursor only carries the position inside
    /// the current run, and is cleared after the last page.
    async fn list_page(
        &self,
        endpoint: &'static str,
        path: &str,
        cursor: Option<&Cursor>,
        map: impl Fn(&RawValue) -> Result<Record, ConnectorError>,
    ) -> Result<Page, ConnectorError> {
        let mut query = vec![("page[size]", LIST_PAGE_SIZE.to_string())];
        if let Some(after) = cursor_field(cursor, "page_after", endpoint)? {
            query.push(("page[after]", after));
        }
        let body = self.get(endpoint, "api", path, &query).await?;
        let page: ListPage = decode(endpoint, &body)?;
        let records = page
            .items
            .iter()
            .map(|raw| map(raw))
            .collect::<Result<Vec<_>, _>>()?;
        let next = match (page.meta.has_more, page.meta.after_cursor) {
            (true, Some(after)) => Some(after),
            (true, None) => {
                return Err(ConnectorError::decode(
                    endpoint,
                    "meta.has_more is true but meta.after_cursor is missing",
                ))
            }
            (false, _) => None,
        };
        Ok(Page {
            records,
            has_more: next.is_some(),
            next: next.map(|a| Cursor(json!({ "page_after": a }))),
        })
    }

    /// Tickets or users by id (`show_many`, at most 100 ids per request). Ids Zendesk no longer
    /// has are simply absent from the answer.
    pub(crate) async fn show_many(
        &self,
        stream: &str,
        ids: &[String],
    ) -> Result<Page, ConnectorError> {
        const EP: &str = "show_many";
        let mut records = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(100) {
            let path = if stream == "users" {
                "/api/v2/users/show_many.json"
            } else {
                "/api/v2/tickets/show_many.json"
            };
            let body = self
                .get(EP, "api", path, &[("ids", chunk.join(","))])
                .await?;
            let page: model::ShowMany = decode(EP, &body)?;
            for raw in &page.items {
                records.push(if stream == "users" {
                    Record::Identity(normalize::identity(decode_item(EP, raw)?, raw))
                } else {
                    Record::Ticket(normalize::ticket(decode_item(EP, raw)?, raw))
                });
            }
        }
        Ok(Page {
            records,
            next: None,
            has_more: false,
        })
    }

    pub(crate) async fn whoami(&self) -> Result<String, ConnectorError> {
        const EP: &str = "users/me";
        let body = self.get(EP, "api", "/api/v2/users/me.json", &[]).await?;
        let me: model::Me = decode(EP, &body)?;
        match me.user.id {
            // Zendesk answers an unauthenticated `me` with an anonymous user instead of a 401.
            None => Err(ConnectorError::Auth {
                endpoint: EP,
                status: 200,
                message: "Zendesk treated the request as anonymous".into(),
            }),
            Some(id) => Ok(format!(
                "authenticated as {} (user {id}, role {})",
                me.user.name.unwrap_or_default(),
                me.user.role.unwrap_or_else(|| "unknown".into())
            )),
        }
    }
}

fn authorization(auth: &Auth) -> HeaderValue {
    use base64::Engine;
    let text = match auth {
        Auth::ApiToken { email, token } => {
            let pair = format!("{email}/token:{}", token.expose_secret());
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        }
        Auth::Bearer(token) => format!("Bearer {}", token.expose_secret()),
    };
    // Secrets with control characters cannot be sent; an empty header then fails as a 401.
    let mut value = HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

/// Query of an incremental export: resume from the stored cursor, or start at `start`.
fn export_query(
    cursor: Option<&Cursor>,
    start: DateTime<Utc>,
    per_page: u32,
    endpoint: &'static str,
) -> Result<Vec<(&'static str, String)>, ConnectorError> {
    let mut query = vec![("per_page", per_page.to_string())];
    match cursor_field(cursor, "after_cursor", endpoint)? {
        Some(c) => query.push(("cursor", c)),
        None => {
            // Zendesk refuses a start_time less than a minute old.
            let latest = Utc::now() - ChronoDuration::seconds(61);
            query.push(("start_time", start.min(latest).timestamp().to_string()));
        }
    }
    Ok(query)
}

fn export_page(
    endpoint: &'static str,
    records: Vec<Record>,
    after_cursor: Option<String>,
    end_of_stream: bool,
    previous: Option<&Cursor>,
) -> Result<Page, ConnectorError> {
    let next = match after_cursor {
        Some(c) => Some(Cursor(json!({ "after_cursor": c }))),
        // Asking again without a new position would fetch the same page forever.
        None if !end_of_stream => {
            return Err(ConnectorError::decode(
                endpoint,
                "end_of_stream is false but after_cursor is missing",
            ))
        }
        // Keep the old position when Zendesk gives no new one, so the next run does not restart.
        None => previous.cloned(),
    };
    Ok(Page {
        records,
        next,
        has_more: !end_of_stream,
    })
}

fn cursor_field(
    cursor: Option<&Cursor>,
    field: &str,
    endpoint: &'static str,
) -> Result<Option<String>, ConnectorError> {
    let Some(Cursor(value)) = cursor else {
        return Ok(None);
    };
    match value.get(field).and_then(|v| v.as_str()) {
        Some(s) => Ok(Some(s.to_string())),
        None => Err(ConnectorError::Invalid(format!(
            "{endpoint}: stored cursor {value} has no {field:?}; run `okno sync <instance> --stream <stream> --full` to start over"
        ))),
    }
}

fn decode<'a, T: serde::Deserialize<'a>>(
    endpoint: &'static str,
    body: &'a [u8],
) -> Result<T, ConnectorError> {
    serde_json::from_slice(body).map_err(|e| ConnectorError::decode(endpoint, e))
}

fn decode_item<T: DeserializeOwned>(
    endpoint: &'static str,
    raw: &RawValue,
) -> Result<T, ConnectorError> {
    serde_json::from_str(raw.get()).map_err(|e| {
        let excerpt: String = raw.get().chars().take(120).collect();
        ConnectorError::decode(endpoint, format!("{e} in object {excerpt}…"))
    })
}
