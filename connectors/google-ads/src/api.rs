//! `POST {base}/{version}/customers/{id}/googleAds:searchStream`: authorised requests, the
//! reading of the streamed batches, and what Google's error bodies mean for the engine.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use okno_connector::chrono_tz::America::Los_Angeles;
use okno_connector::http::HttpResponse;
use okno_connector::reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use okno_connector::{ConnectorError, ExposeSecret, HttpClient, SecretString, Verdict};
use serde_json::value::RawValue;

use crate::auth::Tokens;
use crate::config::Settings;
use crate::model::{Batch, Failure};

/// The budget every searchStream request spends from.
pub(crate) const API_BUCKET: &str = "api";

/// A `RESOURCE_EXHAUSTED` whose `retryDelay` is at most this long is waited out inside the
/// request (it is a short rate window, such as requests per account); a longer one, or one
/// without a delay, is the daily operations quota and ends the run as [`ConnectorError::Quota`].
pub(crate) const SHORT_QUOTA_WAIT: Duration = Duration::from_secs(5 * 60);

pub(crate) struct Api {
    http: HttpClient,
    settings: Settings,
    tokens: Tokens,
    clock: crate::Clock,
    instance: String,
}

/// `Authorization: Bearer <token>`, marked sensitive so it is never logged.
fn bearer(token: &SecretString) -> HeaderValue {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .unwrap_or_else(|_| HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

fn secret_header(value: &SecretString) -> HeaderValue {
    let mut v = HeaderValue::from_str(value.expose_secret().trim())
        .unwrap_or_else(|_| HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

/// Google's daily quotas restart at midnight Pacific Time: the next such midnight after `now`.
pub(crate) fn next_pacific_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&Los_Angeles).date_naive();
    let mut day = local.checked_add_days(Days::new(1)).unwrap_or(local);
    // A midnight that does not exist locally cannot happen in this zone (DST moves 02:00),
    // but stay total: step a day further until one resolves.
    for _ in 0..3 {
        if let Some(t) = Los_Angeles
            .from_local_datetime(&day.and_time(NaiveTime::MIN))
            .earliest()
        {
            return t.with_timezone(&Utc);
        }
        day = day.succ_opt().unwrap_or(day);
    }
    now + chrono::Duration::days(1)
}

/// What a non-2xx answer means, decided from the `GoogleAdsFailure` in its body before the
/// SDK's status rules. 5xx without a recognised code is left to the SDK (retried).
pub(crate) fn classify(
    resp: &HttpResponse,
    endpoint: &'static str,
    now: DateTime<Utc>,
    login_customer_id: Option<&str>,
) -> Option<Verdict> {
    if resp.status.is_success() {
        return None;
    }
    let status = resp.status.as_u16();
    let failure = Failure::parse(&resp.body)?;
    Some(verdict(&failure, status, endpoint, now, login_customer_id))
}

fn verdict(
    f: &Failure,
    status: u16,
    endpoint: &'static str,
    now: DateTime<Utc>,
    login_customer_id: Option<&str>,
) -> Verdict {
    let described = f.describe();
    if f.has("quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED")
        || f.has(
            "quotaError",
            "EXCESSIVE_SHORT_TERM_QUERY_RESOURCE_CONSUMPTION",
        )
    {
        return Verdict::Retry {
            wait: f.retry_delay,
            why: described,
            throttled: true,
        };
    }
    if f.has("quotaError", "RESOURCE_EXHAUSTED") {
        return match f.retry_delay {
            Some(d) if d <= SHORT_QUOTA_WAIT => Verdict::Retry {
                wait: Some(d),
                why: described,
                throttled: true,
            },
            Some(d) => Verdict::Fail(ConnectorError::Quota {
                endpoint,
                until: now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1)),
                message: described,
            }),
            None => Verdict::Fail(ConnectorError::Quota {
                endpoint,
                until: next_pacific_midnight(now),
                message: format!(
                    "{described}; no retryDelay given, so waiting for the daily reset at midnight Pacific Time"
                ),
            }),
        };
    }
    if f.has(
        "quotaError",
        "EXCESSIVE_LONG_TERM_QUERY_RESOURCE_CONSUMPTION",
    ) {
        let wait = f.retry_delay.unwrap_or(Duration::from_secs(3600));
        return Verdict::Fail(ConnectorError::Quota {
            endpoint,
            until: now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1)),
            message: format!("{described}; Google throttles this query pattern for its heavy use over the last 24 hours"),
        });
    }
    if f.has_kind("authenticationError") || status == 401 {
        return Verdict::Fail(ConnectorError::Auth {
            endpoint,
            status: 401,
            message: described,
        });
    }
    if f.has_kind("authorizationError") || status == 403 {
        let hint = if f.has("authorizationError", "DEVELOPER_TOKEN_NOT_APPROVED") {
            "the developer token is approved for test accounts only: apply for Basic or Standard access in the manager account's API Center".to_string()
        } else if f.has("authorizationError", "DEVELOPER_TOKEN_PROHIBITED") {
            "this developer token may not be used with the Google Cloud project of client_id: use the OAuth client of the project the token was first used with".to_string()
        } else if f.has("authorizationError", "USER_PERMISSION_DENIED") {
            match login_customer_id {
                None => "the Google user of the refresh token has no access to this account: if the account is reached through a manager account, set `login_customer_id` to that manager's id".to_string(),
                Some(id) => format!("the Google user of the refresh token has no access to this account through manager {id}: check `login_customer_id` and the user's access in Google Ads"),
            }
        } else if f.has("authorizationError", "CUSTOMER_NOT_ENABLED") {
            "the account is not enabled (cancelled, suspended or never set up): remove it from customer_ids".to_string()
        } else if f.has("authorizationError", "DEVELOPER_TOKEN_NOT_ON_ALLOWLIST") {
            "the developer token is not allowed to use this feature".to_string()
        } else {
            "check that the refresh token's Google user can open the account in Google Ads"
                .to_string()
        };
        return Verdict::Fail(ConnectorError::Auth {
            endpoint,
            status,
            message: format!("{described} — {hint}"),
        });
    }
    if f.has_kind("internalError") || status >= 500 {
        return Verdict::Retry {
            wait: None,
            why: format!("HTTP {status} {described}"),
            throttled: false,
        };
    }
    let hint = if f.has("requestError", "UNSUPPORTED_VERSION") || status == 404 {
        " — the API version may be sunset: set `api_version` to a current one"
    } else if f.has_kind("queryError") {
        " — the query was rejected; this is a bug in okno or a field Google renamed in this API version"
    } else {
        ""
    };
    Verdict::Fail(ConnectorError::Permanent {
        endpoint,
        status,
        message: format!("{described}{hint}"),
    })
}

impl Api {
    pub(crate) fn new(
        http: HttpClient,
        settings: Settings,
        tokens: Tokens,
        clock: crate::Clock,
        instance: &str,
    ) -> Api {
        Api {
            http,
            settings,
            tokens,
            clock,
            instance: instance.to_string(),
        }
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Runs one GAQL query against `customer` and returns the whole streamed answer. A 401 gets
    /// one new access token and one more try.
    pub(crate) async fn search_stream(
        &self,
        endpoint: &'static str,
        customer: &str,
        query: &str,
    ) -> Result<HttpResponse, ConnectorError> {
        let url = format!(
            "{}/{}/customers/{customer}/googleAds:searchStream",
            self.settings.api_base, self.settings.api_version
        );
        let body = serde_json::to_vec(&serde_json::json!({ "query": query }))
            .map_err(|e| ConnectorError::decode(endpoint, e))?;
        let developer_token = secret_header(&self.settings.developer_token);
        let login = self
            .settings
            .login_customer_id
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok());
        let token = self.tokens.access_token().await?;
        let send = |token: &SecretString| {
            let auth = bearer(token);
            let login = login.clone();
            let developer_token = developer_token.clone();
            let body = body.clone();
            let url = url.clone();
            let clock = self.clock.clone();
            let login_id = self.settings.login_customer_id.clone();
            async move {
                self.http
                    .send_classified(
                        endpoint,
                        API_BUCKET,
                        |c| {
                            let mut r = c
                                .post(&url)
                                .header(AUTHORIZATION, auth.clone())
                                .header("developer-token", developer_token.clone())
                                .header(CONTENT_TYPE, "application/json")
                                .body(body.clone());
                            if let Some(l) = &login {
                                r = r.header("login-customer-id", l.clone());
                            }
                            r
                        },
                        |resp| classify(resp, endpoint, clock(), login_id.as_deref()),
                    )
                    .await
            }
        };
        match send(&token).await {
            Err(ConnectorError::Auth { status: 401, .. }) => {
                tracing::info!(instance = %self.instance, endpoint, "Google refused the access token; getting a new one and retrying once");
                let fresh = self.tokens.after_rejection(&token).await?;
                send(&fresh).await.map_err(|e| match e {
                    ConnectorError::Auth {
                        endpoint,
                        status: 401,
                        message,
                    } => ConnectorError::Auth {
                        endpoint,
                        status: 401,
                        message: format!(
                            "{message} — a freshly issued access token was refused too: check that the refresh token's user still has access and `developer_token` is right"
                        ),
                    },
                    other => other,
                })
            }
            other => other,
        }
    }
}

/// Calls `each` with every result row of a streamed answer, in order. A failure element inside
/// a 200 answer (the stream broke after it started) becomes the error it describes; a quota
/// there cannot be waited out inside the request, so it ends the run as what it is.
pub(crate) fn for_each_row<'a>(
    endpoint: &'static str,
    body: &'a [u8],
    now: DateTime<Utc>,
    mut each: impl FnMut(&'a RawValue) -> Result<(), ConnectorError>,
) -> Result<(), ConnectorError> {
    let batches: Vec<Batch<'a>> = serde_json::from_slice(body).map_err(|e| {
        ConnectorError::decode(
            endpoint,
            format!("the searchStream answer is not a JSON array of batches: {e}"),
        )
    })?;
    for batch in batches {
        if let Some(err) = batch.error {
            let failure = Failure::from_raw_status(err).unwrap_or_default();
            return Err(match verdict(&failure, 500, endpoint, now, None) {
                Verdict::Fail(e) => e,
                Verdict::Retry {
                    wait,
                    why,
                    throttled,
                } => {
                    if throttled {
                        ConnectorError::RateLimited {
                            endpoint,
                            retry_after: wait,
                        }
                    } else {
                        ConnectorError::Transient {
                            endpoint,
                            attempts: 1,
                            message: format!("the stream broke off: {why}"),
                        }
                    }
                }
            });
        }
        for row in batch.results {
            each(row)?;
        }
    }
    Ok(())
}
