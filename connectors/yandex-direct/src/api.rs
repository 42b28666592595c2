//! Requests to the Direct API v5: the JSON services (Clients, Campaigns, Changes), the Reports
//! service's online/offline flow, error bodies and the `Units` header.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use okno_connector::http::HttpResponse;
use okno_connector::{ConnectorError, ExposeSecret, HttpClient, Verdict};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::config::Settings;
use crate::model::{
    CampaignItem, CampaignsResult, CheckResult, ClientsResult, Envelope, ErrorEnvelope,
    TimestampResult,
};

/// The one request budget (see `KIND.rate_buckets`).
pub(crate) const BUCKET: &str = "api";
/// Campaigns per `Campaigns.get` page (the service's maximum `Limit`).
pub(crate) const CAMPAIGN_PAGE: u64 = 10_000;
/// Campaign ids per `Changes.check` request (documented range 1..3000).
const CHECK_CHUNK: usize = 3_000;
/// The longest an offline report may take before the run fails (the cursor stays).
pub(crate) const MAX_REPORT_WAIT: Duration = Duration::from_secs(20 * 60);
/// The wait between polls when a 201/202 carries no usable `retryIn`.
const DEFAULT_RETRY_IN: Duration = Duration::from_secs(10);
/// One poll never waits longer than this, whatever `retryIn` says.
const MAX_RETRY_IN: Duration = Duration::from_secs(5 * 60);
/// The wait before re-sending a report the queue limit (error 9000) refused.
pub(crate) const QUEUE_WAIT: Duration = Duration::from_secs(30);
/// The wait when too many requests run at once for the advertiser (errors 506 and 56).
const CONCURRENCY_WAIT: Duration = Duration::from_secs(10);
/// How long a spent points balance (error 152) is assumed to take to refill enough.
pub(crate) const POINTS_REFILL: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Report columns, in request order.
pub(crate) const REPORT_FIELDS: [&str; 6] = [
    "Date",
    "CampaignId",
    "CampaignName",
    "Impressions",
    "Clicks",
    "Cost",
];

pub(crate) type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// `Units: spent/remaining/daily limit` of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    pub spent: u64,
    pub remaining: u64,
    pub limit: u64,
}

/// Parses the `Units` response header (`10/20828/64000`).
pub fn parse_units(value: &str) -> Option<Units> {
    let mut parts = value.trim().split('/').map(|p| p.trim().parse::<u64>());
    let spent = parts.next()?.ok()?;
    let remaining = parts.next()?.ok()?;
    let limit = parts.next()?.ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some(Units {
        spent,
        remaining,
        limit,
    })
}

pub(crate) struct Api {
    http: HttpClient,
    pub(crate) settings: Settings,
    instance: String,
    pub(crate) now: Clock,
}

/// The outcome of one report request.
pub(crate) struct Report {
    pub(crate) tsv: String,
    /// Requests sent for it (1 when built online).
    pub(crate) polls: u32,
}

impl Api {
    pub(crate) fn new(http: HttpClient, settings: Settings, instance: &str, now: Clock) -> Api {
        Api {
            http,
            settings,
            instance: instance.to_string(),
            now,
        }
    }

    fn url(&self, service: &str) -> String {
        format!(
            "{}/json/v5/{service}",
            self.settings.base_url.as_str().trim_end_matches('/')
        )
    }

    fn request(
        &self,
        c: &reqwest::Client,
        url: &str,
        client_login: Option<&str>,
        body: &str,
    ) -> reqwest::RequestBuilder {
        let mut req = c
            .post(url)
            .bearer_auth(self.settings.token.expose_secret())
            .header("Accept-Language", "en")
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body.to_string());
        if let Some(login) = client_login {
            req = req.header("Client-Login", login);
        }
        req
    }

    /// Reports the `Units` header as gauges (and at debug level).
    fn observe_units(&self, resp: &HttpResponse, endpoint: &'static str) {
        let Some(units) = resp
            .headers
            .get("Units")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_units)
        else {
            return;
        };
        tracing::debug!(
            instance = %self.instance,
            endpoint,
            spent = units.spent,
            remaining = units.remaining,
            limit = units.limit,
            "yandex direct points"
        );
        for (kind, value) in [
            ("spent", units.spent),
            ("remaining", units.remaining),
            ("limit", units.limit),
        ] {
            metrics::gauge!(
                "okno_vendor_units",
                "instance" => self.instance.clone(),
                "vendor" => crate::KIND_NAME,
                "kind" => kind
            )
            .set(value as f64);
        }
    }

    /// Turns Direct's error bodies into verdicts; 5xx and bodies without an error are left to
    /// the SDK's generic rules.
    fn classify(&self, endpoint: &'static str, resp: &HttpResponse) -> Option<Verdict> {
        self.observe_units(resp, endpoint);
        if resp.status.is_server_error() || !resp.body.starts_with(b"{") {
            return None;
        }
        // A report or a result never starts with `{"error"`; only parse what may be an error.
        let head = &resp.body[..resp.body.len().min(64)];
        if !head.windows(7).any(|w| w == b"\"error\"") {
            return None;
        }
        let err = serde_json::from_slice::<ErrorEnvelope>(&resp.body)
            .ok()?
            .error;
        let message = err.describe();
        let status = resp.status.as_u16();
        Some(match err.code() {
            Some(152) => Verdict::Fail(ConnectorError::Quota {
                endpoint,
                until: (self.now)() + POINTS_REFILL,
                message: format!(
                    "{message}; Direct points refill through the day, see the Units header"
                ),
            }),
            Some(53) | Some(54) | Some(58) | Some(513) => Verdict::Fail(ConnectorError::Auth {
                endpoint,
                status,
                message: format!(
                    "{message}; issue a new OAuth token with the direct:api scope for a user with access to the account"
                ),
            }),
            Some(9000) => Verdict::Retry {
                wait: Some(retry_in(resp).unwrap_or(QUEUE_WAIT)),
                why: format!("the offline report queue is full ({message})"),
                throttled: true,
            },
            Some(506) | Some(56) => Verdict::Retry {
                wait: Some(CONCURRENCY_WAIT),
                why: format!("too many requests for the advertiser ({message})"),
                throttled: true,
            },
            Some(52) | Some(1000) | Some(1001) | Some(1002) => Verdict::Retry {
                wait: None,
                why: format!("temporary Direct server error ({message})"),
                throttled: false,
            },
            _ => Verdict::Fail(ConnectorError::Permanent {
                endpoint,
                status,
                message,
            }),
        })
    }

    /// Calls a JSON service method and decodes its `result`.
    async fn call<T: DeserializeOwned>(
        &self,
        service: &'static str,
        endpoint: &'static str,
        client_login: Option<&str>,
        body: serde_json::Value,
    ) -> Result<T, ConnectorError> {
        let url = self.url(service);
        let body = body.to_string();
        let resp = self
            .http
            .send_classified(
                endpoint,
                BUCKET,
                |c| self.request(c, &url, client_login, &body),
                |r| self.classify(endpoint, r),
            )
            .await?;
        Ok(resp.json::<Envelope<T>>(endpoint)?.result)
    }

    /// `Clients.get`: the advertiser's own record (the `Client-Login` one for agencies).
    pub(crate) async fn client(
        &self,
        client_login: Option<&str>,
    ) -> Result<Box<serde_json::value::RawValue>, ConnectorError> {
        let result: ClientsResult = self
            .call(
                "clients",
                "clients.get",
                client_login,
                json!({"method": "get", "params": {"FieldNames": ["ClientId", "Login", "Currency", "ClientInfo"]}}),
            )
            .await?;
        result.clients.into_iter().next().ok_or_else(|| {
            ConnectorError::decode(
                "clients.get",
                format!(
                    "no client returned{}",
                    client_login
                        .map(|l| format!(" for Client-Login {l:?}"))
                        .unwrap_or_default()
                ),
            )
        })
    }

    /// `Campaigns.get`, every page (`Page.Offset` = the previous `LimitedBy` until it is absent).
    pub(crate) async fn campaigns(
        &self,
        client_login: Option<&str>,
        fields: &[&str],
    ) -> Result<Vec<(CampaignItem, Box<serde_json::value::RawValue>)>, ConnectorError> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            let page: CampaignsResult = self
                .call(
                    "campaigns",
                    "campaigns.get",
                    client_login,
                    json!({"method": "get", "params": {
                        "SelectionCriteria": {},
                        "FieldNames": fields,
                        "Page": {"Limit": CAMPAIGN_PAGE, "Offset": offset}
                    }}),
                )
                .await?;
            for raw in page.campaigns {
                let item: CampaignItem = serde_json::from_str(raw.get())
                    .map_err(|e| ConnectorError::decode("campaigns.get", e))?;
                out.push((item, raw));
            }
            match page.limited_by {
                None => return Ok(out),
                Some(next) if next > offset => offset = next,
                Some(next) => {
                    return Err(ConnectorError::decode(
                        "campaigns.get",
                        format!("LimitedBy {next} does not move past Offset {offset}"),
                    ))
                }
            }
        }
    }

    /// `Changes.checkDictionaries` without a timestamp: the server's current time, the first
    /// mark from which later `check` calls look for corrected statistics.
    pub(crate) async fn server_timestamp(
        &self,
        client_login: Option<&str>,
    ) -> Result<String, ConnectorError> {
        let r: TimestampResult = self
            .call(
                "changes",
                "changes.checkDictionaries",
                client_login,
                json!({"method": "checkDictionaries", "params": {}}),
            )
            .await?;
        Ok(r.timestamp)
    }

    /// `Changes.check` with `CampaignsStat` since `timestamp`: the earliest `BorderDate` (the
    /// first day whose statistics were corrected) and the timestamp to check from next time.
    pub(crate) async fn corrected_since(
        &self,
        client_login: Option<&str>,
        campaign_ids: &[i64],
        timestamp: &str,
    ) -> Result<(Option<NaiveDate>, String), ConnectorError> {
        if campaign_ids.is_empty() {
            return Ok((None, self.server_timestamp(client_login).await?));
        }
        let mut earliest: Option<NaiveDate> = None;
        let mut next_mark: Option<String> = None;
        for chunk in campaign_ids.chunks(CHECK_CHUNK) {
            let r: CheckResult = self
                .call(
                    "changes",
                    "changes.check",
                    client_login,
                    json!({"method": "check", "params": {
                        "CampaignIds": chunk,
                        "Timestamp": timestamp,
                        "FieldNames": ["CampaignsStat"]
                    }}),
                )
                .await?;
            for item in r.modified.unwrap_or_default().campaigns_stat {
                let day = NaiveDate::parse_from_str(item.border_date.trim(), "%Y-%m-%d").map_err(
                    |_| {
                        ConnectorError::decode(
                            "changes.check",
                            format!(
                                "BorderDate {:?} of campaign {} is not a date",
                                item.border_date, item.campaign_id
                            ),
                        )
                    },
                )?;
                earliest = Some(earliest.map_or(day, |e| e.min(day)));
            }
            let unprocessed = r.unprocessed.unwrap_or_default().campaign_ids;
            if !unprocessed.is_empty() {
                tracing::warn!(
                    instance = %self.instance,
                    campaigns = unprocessed.len(),
                    "Direct did not check some campaigns for corrected statistics; only the look-back window is re-pulled for them"
                );
            }
            // Several chunks: keep the earliest server time, so nothing falls between marks.
            next_mark = Some(match next_mark {
                Some(m) if m <= r.timestamp => m,
                _ => r.timestamp,
            });
        }
        let mark = match next_mark {
            Some(m) => m,
            None => timestamp.to_string(),
        };
        Ok((earliest, mark))
    }

    /// Requests a campaign-by-day report and follows the offline flow: 201 (queued) and 202
    /// (building) are answered by waiting `retryIn` and re-sending the identical request, until
    /// 200 brings the TSV or [`MAX_REPORT_WAIT`] has passed.
    pub(crate) async fn report(
        &self,
        client_login: Option<&str>,
        name: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Report, ConnectorError> {
        const ENDPOINT: &str = "reports";
        let url = self.url("reports");
        let body = json!({"params": {
            "SelectionCriteria": {
                "DateFrom": from.format("%Y-%m-%d").to_string(),
                "DateTo": to.format("%Y-%m-%d").to_string()
            },
            "FieldNames": REPORT_FIELDS,
            "ReportName": name,
            "ReportType": "CAMPAIGN_PERFORMANCE_REPORT",
            "DateRangeType": "CUSTOM_DATE",
            "Format": "TSV",
            "IncludeVAT": if self.settings.include_vat { "YES" } else { "NO" },
            "IncludeDiscount": "YES"
        }})
        .to_string();
        let build = |c: &reqwest::Client| {
            self.request(c, &url, client_login, &body)
                .header("processingMode", "auto")
                .header("returnMoneyInMicros", "true")
                .header("skipReportHeader", "true")
                .header("skipReportSummary", "true")
        };
        let started = tokio::time::Instant::now();
        let mut polls = 0u32;
        loop {
            polls += 1;
            let resp = self
                .http
                .send_classified(ENDPOINT, BUCKET, build, |r| self.classify(ENDPOINT, r))
                .await?;
            match resp.status.as_u16() {
                200 => {
                    let tsv = String::from_utf8(resp.body).map_err(|e| {
                        ConnectorError::decode(ENDPOINT, format!("the report is not UTF-8: {e}"))
                    })?;
                    return Ok(Report { tsv, polls });
                }
                status @ (201 | 202) => {
                    let wait = retry_in(&resp)
                        .unwrap_or(DEFAULT_RETRY_IN)
                        .clamp(Duration::from_secs(1), MAX_RETRY_IN);
                    let waited = started.elapsed();
                    if waited + wait > MAX_REPORT_WAIT {
                        return Err(ConnectorError::Transient {
                            endpoint: ENDPOINT,
                            attempts: polls,
                            message: format!(
                                "report {name:?} is still being built offline after {} s (HTTP {status}); the next run asks again",
                                waited.as_secs()
                            ),
                        });
                    }
                    tracing::debug!(
                        instance = %self.instance,
                        report = name,
                        status,
                        wait_s = wait.as_secs(),
                        queued = resp.headers.get("reportsInQueue").and_then(|v| v.to_str().ok()).unwrap_or(""),
                        "report not ready yet"
                    );
                    tokio::time::sleep(wait).await;
                }
                other => {
                    return Err(ConnectorError::decode(
                        ENDPOINT,
                        format!("unexpected HTTP {other} for a report request"),
                    ))
                }
            }
        }
    }
}

/// The `retryIn` response header (seconds).
fn retry_in(resp: &HttpResponse) -> Option<Duration> {
    let v = resp.headers.get("retryIn")?.to_str().ok()?.trim();
    let secs: f64 = v.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_millis((secs * 1000.0) as u64))
}

use okno_connector::reqwest;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_header_is_read_strictly() {
        assert_eq!(
            parse_units("10/20828/64000"),
            Some(Units {
                spent: 10,
                remaining: 20828,
                limit: 64000
            })
        );
        assert_eq!(
            parse_units(" 0 / 5 / 7 "),
            Some(Units {
                spent: 0,
                remaining: 5,
                limit: 7
            })
        );
        assert_eq!(parse_units("10/20828"), None);
        assert_eq!(parse_units("10/20828/64000/1"), None);
        assert_eq!(parse_units("a/b/c"), None);
    }
}
