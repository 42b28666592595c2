//! The report API: `GET /api/v1/reports/{name}` serves the same tables as `okno report <name>`,
//! as JSON (default) or CSV (`format=csv`), with the same parameters as query strings:
//!
//! - `roi`: `period` (required), `by` (campaign | channel | team | product | segment |
//!   region), `grain` (month | day | week | quarter | year);
//! - `attribution`: `unmatched=true` lists the unattributed leads instead of the buckets;
//! - every name of [`crate::figures::named::REPORTS`] (`anomalies`, `people`, `teams`,
//!   `roi_by_campaign`...): `period` (required).
//!
//! With `[server] api_token` set every request needs `Authorization: Bearer <token>` (401
//! otherwise). Bad parameters are 400 with `{"error": ...}`; a report that cannot be made from
//! the data (a missing exchange rate) is 422 saying what is missing; a store failure is 500 and
//! logged. Reports are computed at most two at a time, so a burst of dashboards cannot starve
//! the sync engine of the store.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::Semaphore;

use super::AppState;
use crate::figures::named;
use crate::figures::roi::{self, Period, RoiError};
use crate::figures::table::Table;

/// Reports computed at once; more wait their turn.
const CONCURRENT_REPORTS: usize = 2;

/// Routes under `/api/v1`, sharing the webhook listener's state.
pub fn routes() -> Router<AppState> {
    let permits = Arc::new(Semaphore::new(CONCURRENT_REPORTS));
    Router::new().route(
        "/api/v1/reports/{name}",
        get(move |state, name, query, headers| report(state, name, query, headers, permits)),
    )
}

/// Why a request got no report.
#[derive(Debug)]
enum ApiError {
    Unauthorized,
    NotFound(String),
    BadRequest(String),
    /// The data cannot give this report as asked (a missing rate); the message says what.
    Unprocessable(String),
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, message) = match self {
            ApiError::Unauthorized => return StatusCode::UNAUTHORIZED.into_response(),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "report API request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the report could not be computed; see the okno log".to_string(),
                )
            }
        };
        (code, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

impl From<RoiError> for ApiError {
    fn from(e: RoiError) -> ApiError {
        match e {
            RoiError::Store(e) => ApiError::Internal(e.to_string()),
            // A missing exchange or VAT rate: the data cannot give the report as asked.
            e => ApiError::Unprocessable(e.to_string()),
        }
    }
}

impl From<named::ReportError> for ApiError {
    fn from(e: named::ReportError) -> ApiError {
        match e {
            named::ReportError::Unknown(name) => ApiError::NotFound(format!("no report {name:?}")),
            e if e.is_store_failure() => ApiError::Internal(e.to_string()),
            e => ApiError::Unprocessable(e.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

/// The query string, with typed access that names the parameter in every error.
struct Params(HashMap<String, String>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn required(&self, key: &str, example: &str) -> Result<&str, ApiError> {
        self.get(key)
            .ok_or_else(|| ApiError::BadRequest(format!("{key} is required, e.g. {key}={example}")))
    }

    fn period(&self) -> Result<Period, ApiError> {
        Period::parse(self.required("period", "2026-10")?)
            .map_err(|e| ApiError::BadRequest(format!("period: {e}")))
    }

    /// One of `allowed`, or the default when absent.
    fn choice<'a>(&'a self, key: &str, allowed: &[&'a str]) -> Result<&'a str, ApiError> {
        match self.get(key) {
            None => Ok(allowed[0]),
            Some(v) if allowed.contains(&v) => Ok(v),
            Some(v) => Err(ApiError::BadRequest(format!(
                "{key}={v:?} is not one of {}",
                allowed.join(", ")
            ))),
        }
    }

    fn flag(&self, key: &str) -> Result<bool, ApiError> {
        Ok(self.choice(key, &["false", "true"])? == "true")
    }
}

async fn report(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    permits: Arc<Semaphore>,
) -> Result<Response, ApiError> {
    if !super::bearer_allows(&headers, app.server.api_token.as_ref()) {
        return Err(ApiError::Unauthorized);
    }
    let params = Params(query);
    let csv = params.choice("format", &["json", "csv"])? == "csv";
    let _permit = permits
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let table = table(&app, &name, &params).await?;
    Ok(if csv {
        let body = table.csv().map_err(|e| ApiError::Internal(e.to_string()))?;
        ([("content-type", "text/csv; charset=utf-8")], body).into_response()
    } else {
        Json(table.json()).into_response()
    })
}

/// The named report as asked for.
async fn table(app: &AppState, name: &str, params: &Params) -> Result<Table, ApiError> {
    let (store, config) = (&app.store, app.config.as_ref());
    match name {
        "roi" => {
            let period = params.period()?;
            let by_name = params.choice(
                "by",
                &[
                    "campaign", "channel", "team", "product", "segment", "region",
                ],
            )?;
            let by = match by_name {
                "channel" | "team" => roi::By::Channel,
                "product" => roi::By::Product,
                "segment" => roi::By::Segment,
                "region" => roi::By::Region,
                _ => roi::By::Campaign,
            };
            let grain =
                match params.choice("grain", &["month", "day", "week", "quarter", "year"])? {
                    "day" => roi::Grain::Day,
                    "week" => roi::Grain::Week,
                    "quarter" => roi::Grain::Quarter,
                    "year" => roi::Grain::Year,
                    _ => roi::Grain::Month,
                };
            if by_name == "team" && config.people.teams.is_empty() {
                return Err(ApiError::BadRequest(
                    "by=team needs [[team]] blocks in people.toml".into(),
                ));
            }
            let query = roi::Query { period, grain, by };
            let mut report = roi::roi_query(store, config, &query).await?;
            if by_name == "team" {
                report = report.by_team(&crate::config::people::channel_teams(&config.people));
            }
            Ok(report.table())
        }
        "attribution" => {
            let unmatched = params.flag("unmatched")?;
            let report = crate::figures::attribution_report(store, &config.attribution).await?;
            Ok(if unmatched {
                report.unmatched_table()
            } else {
                report.table()
            })
        }
        other if named::exists(other) => {
            let period = params.period()?;
            let as_of = match params.get("as_of") {
                Some(day) => chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
                    ApiError::BadRequest(format!("as_of={day:?} is not a day like 2026-11-10"))
                })?,
                None => crate::budget_check::today(config),
            };
            Ok(named::table(store, config, other, &period, as_of).await?)
        }
        other => Err(ApiError::NotFound(format!(
            "no report {other:?}; reports: roi, attribution, {}",
            named::names()
        ))),
    }
}
