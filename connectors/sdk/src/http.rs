//! The shared HTTP client: the only way a connector talks to its vendor.
//!
//! It owns, once for every connector: per-instance request budgets (`governor`, driven by tokio's
//! clock so tests can pause time), bounded retries with jittered exponential backoff on 408, 429,
//! 5xx and connection errors, `Retry-After` (seconds or HTTP date), request timeouts, and a tracing
//! span per request naming vendor, instance and endpoint — never the URL, which may carry a token.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::connector::RateBucket;
use crate::error::ConnectorError;

/// How many times a request is tried and how long to wait between tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this fails the request instead of holding the run hostage;
    /// the run fails as rate-limited and the next scheduled run resumes from the cursor.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(15 * 60),
        }
    }
}

/// Per-instance HTTP settings, resolved from the connector's defaults and `[[connector]]` config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Requests per minute per bucket. A bucket missing here is unlimited.
    pub rate_limits: BTreeMap<String, u32>,
    pub user_agent: String,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            rate_limits: BTreeMap::new(),
            user_agent: concat!("okno/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

impl HttpOptions {
    /// Options with the connector's default budgets.
    pub fn with_buckets(buckets: &[RateBucket]) -> Self {
        HttpOptions {
            rate_limits: buckets
                .iter()
                .map(|b| (b.name.to_string(), b.per_minute))
                .collect(),
            ..HttpOptions::default()
        }
    }
}

/// governor's clock on tokio time, so a paused test runtime also pauses rate limiting.
#[derive(Debug, Clone)]
struct TokioClock {
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// Counters of what the client did, for `okno status`, metrics and tests.
#[derive(Debug, Default)]
pub struct HttpStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub budget_waits: AtomicU64,
}

/// A response whose status was not an error: 2xx and 3xx (304 Not Modified is an answer too).
#[derive(Debug)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Decodes the body as JSON; a truncated or malformed body is a [`ConnectorError::Decode`].
    pub fn json<T: DeserializeOwned>(&self, endpoint: &'static str) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|e| ConnectorError::decode(endpoint, e))
    }
}

/// The HTTP client of one connector instance.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    vendor: &'static str,
    instance: Arc<str>,
    retry: RetryPolicy,
    limiters: Arc<BTreeMap<String, Limiter>>,
    clock: TokioClock,
    stats: Arc<HttpStats>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("vendor", &self.vendor)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

/// What a connector makes of a response its vendor words in the body (Meta's throttling codes
/// in a 400, Yandex Direct's errors in a 200, Google Ads' `RESOURCE_EXHAUSTED`), decided before
/// the generic status rules. `None` leaves the response to those rules.
#[derive(Debug)]
pub enum Verdict {
    /// Try again (within the retry policy) after `wait`, or after the usual backoff.
    Retry {
        wait: Option<Duration>,
        why: String,
        /// A final failure is reported as rate limiting rather than as a transient error.
        throttled: bool,
    },
    /// Stop with this error.
    Fail(ConnectorError),
}

/// Why an attempt failed and whether another may help.
enum Attempt {
    Retry {
        wait: Option<Duration>,
        why: String,
        /// The vendor answered 429: a final failure is reported as rate limiting.
        throttled: bool,
    },
    Fail(ConnectorError),
}

impl HttpClient {
    /// Fails only when the TLS backend cannot initialise.
    pub fn new(
        vendor: &'static str,
        instance: &str,
        options: &HttpOptions,
    ) -> Result<Self, ConnectorError> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(15)))
            .user_agent(options.user_agent.clone())
            .build()
            .map_err(|e| {
                ConnectorError::Invalid(format!(
                    "cannot build the HTTP client: {}",
                    describe_reqwest(&e)
                ))
            })?;
        let clock = TokioClock {
            origin: tokio::time::Instant::now(),
        };
        let limiters = options
            .rate_limits
            .iter()
            .filter_map(|(name, per_minute)| {
                let per_minute = NonZeroU32::new(*per_minute)?;
                // Bursts of at most one second's worth: vendors that count per second (amoCRM: 7/s,
                // blocking accounts that keep exceeding it) never see more than their rate.
                let burst = NonZeroU32::new((per_minute.get() / 60).max(1)).unwrap_or(per_minute);
                let quota = Quota::per_minute(per_minute).allow_burst(burst);
                Some((
                    name.clone(),
                    RateLimiter::direct_with_clock(quota, clock.clone()),
                ))
            })
            .collect();
        Ok(HttpClient {
            client,
            vendor,
            instance: Arc::from(instance),
            retry: options.retry,
            limiters: Arc::new(limiters),
            clock,
            stats: Arc::new(HttpStats::default()),
        })
    }

    pub fn stats(&self) -> &HttpStats {
        &self.stats
    }

    /// Sends a request built by `build` (called once per attempt), spending from `bucket`'s
    /// budget before each attempt and retrying what is worth retrying.
    pub async fn send<F>(
        &self,
        endpoint: &'static str,
        bucket: &str,
        build: F,
    ) -> Result<HttpResponse, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        self.send_classified(endpoint, bucket, build, |_| None)
            .await
    }

    /// [`HttpClient::send`] for vendors that report errors and throttling in the body:
    /// `classify` sees every response first (2xx included) and may turn it into a retry or a
    /// failure; what it leaves (`None`) follows the generic rules.
    pub async fn send_classified<F, C>(
        &self,
        endpoint: &'static str,
        bucket: &str,
        build: F,
        classify: C,
    ) -> Result<HttpResponse, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        C: Fn(&HttpResponse) -> Option<Verdict>,
    {
        let policy = self.retry;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.wait_for_budget(bucket).await;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let span = tracing::debug_span!(
                "vendor_request",
                vendor = self.vendor,
                instance = %self.instance,
                endpoint,
                attempt
            );
            let outcome = self
                .attempt(endpoint, build(&self.client), &classify)
                .instrument(span)
                .await;
            let (wait, why, throttled) = match outcome {
                Ok(resp) => return Ok(resp),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry {
                    wait,
                    why,
                    throttled,
                }) => (wait, why, throttled),
            };
            if let Some(w) = wait {
                if w > policy.max_retry_after {
                    return Err(ConnectorError::RateLimited {
                        endpoint,
                        retry_after: Some(w),
                    });
                }
            }
            if attempt >= policy.max_attempts {
                return Err(if throttled {
                    ConnectorError::RateLimited {
                        endpoint,
                        retry_after: wait,
                    }
                } else {
                    ConnectorError::Transient {
                        endpoint,
                        attempts: attempt,
                        message: why,
                    }
                });
            }
            let delay = wait.unwrap_or_else(|| backoff(&policy, attempt));
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("okno_vendor_retries_total", "vendor" => self.vendor, "instance" => self.instance.to_string())
                .increment(1);
            tracing::warn!(
                vendor = self.vendor,
                instance = %self.instance,
                endpoint,
                attempt,
                delay_ms = delay.as_millis() as u64,
                "{why}; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn wait_for_budget(&self, bucket: &str) {
        let Some(limiter) = self.limiters.get(bucket) else {
            return;
        };
        let mut waited = false;
        while let Err(not_until) = limiter.check() {
            if !waited {
                self.stats.budget_waits.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("okno_vendor_budget_waits_total", "vendor" => self.vendor, "instance" => self.instance.to_string())
                    .increment(1);
                waited = true;
            }
            let wait = not_until
                .wait_time_from(self.clock.now())
                .max(Duration::from_millis(1));
            tokio::time::sleep(wait).await;
        }
    }

    /// Counts a response by status class (`2xx`...`5xx`, or `error` for no response).
    fn count_response(&self, status: u16) {
        let class = match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            500..=599 => "5xx",
            _ => "error",
        };
        metrics::counter!(
            "okno_vendor_requests_total",
            "vendor" => self.vendor,
            "instance" => self.instance.to_string(),
            "class" => class
        )
        .increment(1);
    }

    async fn attempt<C>(
        &self,
        endpoint: &'static str,
        req: reqwest::RequestBuilder,
        classify: &C,
    ) -> Result<HttpResponse, Attempt>
    where
        C: Fn(&HttpResponse) -> Option<Verdict>,
    {
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                self.count_response(0);
                return Err(Attempt::Retry {
                    wait: None,
                    why: format!("request failed: {}", describe_reqwest(&e)),
                    throttled: false,
                });
            }
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = match resp.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => {
                return Err(Attempt::Retry {
                    wait: None,
                    why: format!("reading the body failed: {}", describe_reqwest(&e)),
                    throttled: false,
                })
            }
        };
        tracing::debug!(status = status.as_u16(), bytes = body.len(), "response");
        self.count_response(status.as_u16());
        let resp = HttpResponse {
            status,
            headers,
            body,
        };
        match classify(&resp) {
            Some(Verdict::Fail(e)) => return Err(Attempt::Fail(e)),
            Some(Verdict::Retry {
                wait,
                why,
                throttled,
            }) => {
                if throttled {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                return Err(Attempt::Retry {
                    wait,
                    why,
                    throttled,
                });
            }
            None => {}
        }
        if status.is_success() || status.is_redirection() {
            return Ok(resp);
        }
        let HttpResponse { headers, body, .. } = resp;
        let message = error_excerpt(&body);
        match status.as_u16() {
            401 | 403 => Err(Attempt::Fail(ConnectorError::Auth {
                endpoint,
                status: status.as_u16(),
                message,
            })),
            429 => {
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("okno_vendor_rate_limited_total", "vendor" => self.vendor, "instance" => self.instance.to_string())
                    .increment(1);
                Err(Attempt::Retry {
                    wait: retry_after(&headers)
                        .or_else(|| rate_limit_reset(&headers, chrono::Utc::now())),
                    why: format!("HTTP 429 {message}"),
                    throttled: true,
                })
            }
            408 | 500..=599 => Err(Attempt::Retry {
                wait: retry_after(&headers),
                why: format!("HTTP {} {message}", status.as_u16()),
                throttled: false,
            }),
            code => Err(Attempt::Fail(ConnectorError::Permanent {
                endpoint,
                status: code,
                message,
            })),
        }
    }
}

/// Exponential backoff with "equal jitter": half fixed, half random, capped.
fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy
        .initial_backoff
        .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16));
    let capped = exp.min(policy.max_backoff);
    let half = capped / 2;
    let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter)
}

/// Parses `Retry-After` as delta-seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_millis((secs * 1000.0) as u64));
        }
        return None;
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// When a throttled client may try again by `X-RateLimit-Reset`, for vendors that send it
/// without `Retry-After`: a date-time (Jira: `2025-03-05T10:02Z`), Unix seconds, or seconds
/// from now (small numbers).
pub fn rate_limit_reset(
    headers: &HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let v = headers.get("x-ratelimit-reset")?.to_str().ok()?.trim();
    if let Ok(n) = v.parse::<i64>() {
        // Anything past 2001 as Unix seconds is an instant; smaller numbers are a delay.
        let secs = if n > 1_000_000_000 {
            n - now.timestamp()
        } else {
            n
        };
        return Some(Duration::from_secs(secs.max(0) as u64));
    }
    let at = chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .or_else(|| chrono::DateTime::parse_from_str(v, "%Y-%m-%dT%H:%M%#z").ok())
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(v.trim_end_matches('Z'), "%Y-%m-%dT%H:%M")
                .ok()
                .map(|n| n.and_utc().fixed_offset())
        })?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// The start of an error body, for messages: enough to see the vendor's reason, never a dump.
pub fn error_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// reqwest's error without the URL (which may carry a token in its query).
fn describe_reqwest(e: &reqwest::Error) -> String {
    // Only the kind and the causes: reqwest's own Display includes the URL.
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "broken body"
    } else {
        "transport error"
    };
    let mut msg = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {

    #[test]
    fn rate_limit_reset_reads_dates_unix_seconds_and_delays() {
        let now = chrono::DateTime::parse_from_rfc3339("2025-03-05T10:00:30Z")
            .expect("date")
            .with_timezone(&chrono::Utc);
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-ratelimit-reset", v.parse().expect("header"));
            rate_limit_reset(&h, now)
        };
        // Jira's minute-precision form, RFC 3339, the past, Unix seconds, a delay, garbage.
        assert_eq!(with("2025-03-05T10:02Z"), Some(Duration::from_secs(90)));
        assert_eq!(with("2025-03-05T10:01:00Z"), Some(Duration::from_secs(30)));
        assert_eq!(with("2025-03-05T09:00Z"), Some(Duration::ZERO));
        assert_eq!(
            with(&(now.timestamp() + 12).to_string()),
            Some(Duration::from_secs(12))
        );
        assert_eq!(with("7"), Some(Duration::from_secs(7)));
        assert_eq!(with("soon"), None);
    }

    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("30"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(30)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a past date means now"
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let wait = retry_after(&h).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let first = backoff(&p, 1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = backoff(&p, 3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = backoff(&p, 30);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_secs(1));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_budget_paces_requests_on_tokio_time() {
        let mut options = HttpOptions::default();
        options.rate_limits.insert("exports".into(), 6); // one every 10 s, burst 1
        let client = HttpClient::new("test", "t", &options).unwrap();
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            client.wait_for_budget("exports").await;
        }
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(20) && waited < Duration::from_secs(21),
            "{waited:?}"
        );
        assert_eq!(client.stats().budget_waits.load(Ordering::Relaxed), 2);
        // A bucket without a budget never waits.
        let before = tokio::time::Instant::now();
        client.wait_for_budget("other").await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_classifier_turns_body_worded_throttling_into_retries_and_errors() {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        // A vendor that throttles with HTTP 400 and a code in the body, twice, then answers.
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(400).set_body_string(r#"{"error":{"code":17}}"#))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"ok":true}"#))
            .mount(&server)
            .await;
        let mut options = HttpOptions::default();
        options.retry.initial_backoff = Duration::from_millis(1);
        options.retry.max_backoff = Duration::from_millis(2);
        let client = HttpClient::new("test", "t", &options).unwrap();
        let url = server.uri();
        let classify = |r: &HttpResponse| {
            (r.status == 400 && r.body.windows(10).any(|w| w == b"\"code\":17}")).then(|| {
                Verdict::Retry {
                    wait: None,
                    why: "user request limit".into(),
                    throttled: true,
                }
            })
        };
        let resp = client
            .send_classified("x", "b", |c| c.get(&url), classify)
            .await
            .unwrap();
        assert_eq!(resp.body, br#"{"ok":true}"#);
        assert_eq!(client.stats().retries.load(Ordering::Relaxed), 2);
        assert_eq!(client.stats().rate_limited.load(Ordering::Relaxed), 2);
        // A 200 the classifier rejects fails without a retry.
        let err = client
            .send_classified(
                "x",
                "b",
                |c| c.get(&url),
                |_| {
                    Some(Verdict::Fail(ConnectorError::Invalid(
                        "error in a 200".into(),
                    )))
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.class(), "invalid");
        assert_eq!(client.stats().retries.load(Ordering::Relaxed), 2);
    }
}
