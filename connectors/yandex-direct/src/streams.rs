//! The `campaigns` and `spend` streams: accounts, campaigns and daily spend pages.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use okno_connector::chrono_tz::Tz;
use okno_connector::spend::{self, SpendCursor};
use okno_connector::{
    AdAccount, Campaign, ConnectorError, Currency, Cursor, Page, PageRequest, Record,
};
use serde_json::value::RawValue;
use tokio::sync::OnceCell;

use crate::api::Api;
use crate::model::{CampaignItem, Client};
use crate::report::{self, RowContext};

/// The zone Direct gives new campaigns, used for an account without any campaign.
pub(crate) const DEFAULT_TIME_ZONE: &str = "Europe/Moscow";
/// Campaign fields the `campaigns` stream reads.
const CAMPAIGN_FIELDS: &[&str] = &["Id", "Name", "Type", "State", "Status", "TimeZone"];
/// What a spend pass needs of the campaigns: ids for `Changes.check`, zones for the days.
const PASS_FIELDS: &[&str] = &["Id", "TimeZone"];

pub(crate) struct Streams {
    pub(crate) api: Api,
    /// The token's own login, looked up once when no `client_logins` are configured.
    own_login: OnceCell<String>,
}

type Campaigns = Vec<(CampaignItem, Box<RawValue>)>;

impl Streams {
    pub(crate) fn new(api: Api) -> Streams {
        Streams {
            api,
            own_login: OnceCell::new(),
        }
    }

    /// The `Client-Login` header for an account: agency clients only.
    fn client_login<'a>(&self, account: &'a str) -> Option<&'a str> {
        (!self.api.settings.client_logins.is_empty()).then_some(account)
    }

    /// The accounts to pull: the configured client logins, or the token's own login.
    pub(crate) async fn accounts(&self) -> Result<Vec<String>, ConnectorError> {
        if !self.api.settings.client_logins.is_empty() {
            return Ok(self.api.settings.client_logins.clone());
        }
        let login = self
            .own_login
            .get_or_try_init(|| async {
                let raw = self.api.client(None).await?;
                let client: Client = serde_json::from_str(raw.get())
                    .map_err(|e| ConnectorError::decode("clients.get", e))?;
                Ok::<_, ConnectorError>(client.login)
            })
            .await?;
        Ok(vec![login.clone()])
    }

    /// The account record (currency, zone, name) and its campaigns with `fields`.
    async fn account(
        &self,
        login: &str,
        fields: &[&str],
    ) -> Result<(AdAccount, Campaigns), ConnectorError> {
        let header = self.client_login(login);
        let raw = self.api.client(header).await?;
        let client: Client = serde_json::from_str(raw.get())
            .map_err(|e| ConnectorError::decode("clients.get", e))?;
        let currency = currency(login, client.currency.as_deref())?;
        let campaigns = self.api.campaigns(header, fields).await?;
        let time_zone = self.zone(login, &campaigns)?;
        let account = AdAccount {
            account_id: login.to_string(),
            name: client
                .client_info
                .filter(|n| !n.trim().is_empty())
                .or_else(|| Some(client.login.clone())),
            currency,
            time_zone: time_zone.name().to_string(),
            raw,
        };
        Ok((account, campaigns))
    }

    /// The account's zone: the `time_zone` setting, else the zone most of its campaigns use.
    fn zone(&self, login: &str, campaigns: &Campaigns) -> Result<Tz, ConnectorError> {
        if let Some(tz) = self.api.settings.time_zone {
            return Ok(tz);
        }
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for (c, _) in campaigns {
            if let Some(z) = c
                .time_zone
                .as_deref()
                .map(str::trim)
                .filter(|z| !z.is_empty())
            {
                *counts.entry(z).or_default() += 1;
            }
        }
        // Most campaigns win; ties go to the first name in order, so the choice is stable.
        let chosen = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(z, _)| *z);
        if counts.len() > 1 {
            tracing::warn!(
                account = login,
                zones = ?counts,
                chosen = ?chosen,
                "campaigns of one Direct account use different time zones; set `time_zone` to choose the account's days"
            );
        }
        let name = chosen.unwrap_or(DEFAULT_TIME_ZONE);
        name.parse::<Tz>().map_err(|_| {
            ConnectorError::decode(
                "campaigns.get",
                format!(
                    "campaign TimeZone {name:?} of account {login} is not an IANA zone; set `time_zone` in the settings"
                ),
            )
        })
    }

    /// One page per account: the account and every campaign; the cursor is cleared at the end.
    pub(crate) async fn campaigns_page(
        &self,
        req: &PageRequest<'_>,
    ) -> Result<Page, ConnectorError> {
        let accounts = self.accounts().await?;
        let index = req
            .cursor
            .and_then(|c| c.0.get("account"))
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as usize;
        let Some(login) = accounts.get(index) else {
            return Ok(Page {
                records: Vec::new(),
                next: None,
                has_more: false,
            });
        };
        let (account, campaigns) = self.account(login, CAMPAIGN_FIELDS).await?;
        let mut records = Vec::with_capacity(campaigns.len() + 1);
        records.push(Record::AdAccount(account));
        for (item, raw) in campaigns {
            records.push(Record::Campaign(Campaign {
                account_id: login.clone(),
                campaign_id: item.id.to_string(),
                name: item
                    .name
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| item.id.to_string()),
                status: item.state,
                channel: self.api.settings.channel.clone(),
                // Direct keeps tracking parameters on ads (Href, TrackingParams), not campaigns.
                utm_campaign: None,
                raw,
            }));
        }
        let last = index + 1 >= accounts.len();
        Ok(Page {
            records,
            next: (!last).then(|| Cursor(serde_json::json!({ "account": index + 1 }))),
            has_more: !last,
        })
    }

    /// One complete slice of one account per page (see `okno_connector::spend`).
    pub(crate) async fn spend_page(&self, req: &PageRequest<'_>) -> Result<Page, ConnectorError> {
        let window = self.api.settings.window;
        let mut plan = SpendCursor::from_cursor(req.cursor)?;
        let mut records = Vec::new();
        if plan.needs_pass() {
            let accounts = self.accounts().await?;
            let Some(login) = plan.next_account(&accounts).map(str::to_string) else {
                plan.finish();
                return Ok(Page {
                    records,
                    next: Some(plan.to_cursor()),
                    has_more: false,
                });
            };
            let now = (self.api.now)();
            let header = self.client_login(&login);
            let (account, campaigns) = self.account(&login, PASS_FIELDS).await?;
            let tz: Tz = spend::time_zone(&account.time_zone, "account")?;
            let today = spend::today_in(&tz, now);
            let start = spend::start_day(req.start, &tz);
            let earliest = match plan.marks.get(&login).cloned() {
                None => {
                    // First pass: remember the server's time to ask for corrections from.
                    let mark = self.api.server_timestamp(header).await?;
                    plan.marks.insert(login.clone(), mark);
                    None
                }
                Some(mark) => {
                    let ids: Vec<i64> = campaigns.iter().map(|(c, _)| c.id).collect();
                    let (earliest, next) = self.api.corrected_since(header, &ids, &mark).await?;
                    plan.marks.insert(login.clone(), next);
                    if let Some(day) = earliest {
                        tracing::info!(account = %login, from = %day, "Direct corrected statistics; re-pulling from the border date");
                    }
                    earliest.map(|d| d.max(start)).filter(|d| *d <= today)
                }
            };
            let started = pass_start(plan.marks.get(&pass_key(&login)), now);
            plan.marks.insert(
                pass_key(&login),
                started.to_rfc3339_opts(SecondsFormat::Micros, true),
            );
            plan.begin(&login, today, start, &window, account.currency, earliest);
            records.push(Record::AdAccount(account));
        }
        let slice = plan.slice(&window).ok_or_else(|| {
            ConnectorError::Invalid("the spend cursor has no pass planned".into())
        })?;
        let started = plan
            .marks
            .get(&pass_key(&slice.account))
            .cloned()
            .unwrap_or_default();
        let name = report_name(
            &slice.account,
            slice.from,
            slice.to,
            self.api.settings.include_vat,
            &started,
        );
        let header = self.client_login(&slice.account);
        let report = self.api.report(header, &name, slice.from, slice.to).await?;
        let rows = report::parse(
            &report.tsv,
            &RowContext {
                account: &slice.account,
                currency: slice.currency,
                vat_included: self.api.settings.include_vat,
                from: slice.from,
                to: slice.to,
            },
        )?;
        tracing::debug!(
            account = %slice.account,
            from = %slice.from,
            to = %slice.to,
            rows = rows.len(),
            polls = report.polls,
            "spend slice"
        );
        records.reserve(rows.len() + 1);
        records.extend(rows.into_iter().map(Record::AdSpend));
        records.push(Record::SpendWindow(slice.window()));
        let has_more = plan.advance(&slice);
        Ok(Page {
            records,
            next: Some(plan.to_cursor()),
            has_more,
        })
    }

    /// `okno validate --online`: one `Clients.get`.
    pub(crate) async fn check(&self) -> Result<String, ConnectorError> {
        let first = self.api.settings.client_logins.first().map(String::as_str);
        let raw = self.api.client(first).await?;
        let client: Client = serde_json::from_str(raw.get())
            .map_err(|e| ConnectorError::decode("clients.get", e))?;
        let others = self.api.settings.client_logins.len().saturating_sub(1);
        Ok(format!(
            "Yandex Direct account {} ({}){}",
            client.login,
            client.currency.as_deref().unwrap_or("no currency"),
            if others > 0 {
                format!(" and {others} more client login(s) configured")
            } else {
                String::new()
            }
        ))
    }
}

/// The ISO 4217 currency Direct bills the account in.
fn currency(login: &str, code: Option<&str>) -> Result<Currency, ConnectorError> {
    match code.map(str::trim) {
        Some("YND_FIXED") => Err(ConnectorError::Invalid(format!(
            "Direct account {login} is billed in Yandex units (YND_FIXED), not in a currency; okno records spend only as money in an ISO 4217 currency, so switch the account to a real currency in Direct"
        ))),
        Some(c) => c.parse::<Currency>().map_err(|e| {
            ConnectorError::decode("clients.get", format!("account {login}: {e}"))
        }),
        None => Err(ConnectorError::decode(
            "clients.get",
            format!("account {login} has no Currency"),
        )),
    }
}

fn pass_key(login: &str) -> String {
    format!("{login}/pass_started")
}

/// The pass start time, strictly later than the previous pass's, so report names never repeat.
fn pass_start(previous: Option<&String>, now: DateTime<Utc>) -> DateTime<Utc> {
    let previous = previous
        .and_then(|p| DateTime::parse_from_rfc3339(p).ok())
        .map(|p| p.with_timezone(&Utc));
    match previous {
        Some(p) if p >= now => p + chrono::TimeDelta::microseconds(1),
        _ => now,
    }
}

/// A report name unique to the account, the dates, the VAT choice and the pass: Direct serves
/// a finished report by name from its cache, so a re-pull under an old name would bring stale
/// figures.
pub fn report_name(
    account: &str,
    from: NaiveDate,
    to: NaiveDate,
    include_vat: bool,
    pass_started: &str,
) -> String {
    let stamp: String = pass_started
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!(
        "okno_{account}_{}_{}_vat{}_{stamp}",
        from.format("%Y%m%d"),
        to.format("%Y%m%d"),
        if include_vat { "Y" } else { "N" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_starts_never_repeat() {
        let now = DateTime::parse_from_rfc3339("2025-03-10T15:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let prev = now.to_rfc3339_opts(SecondsFormat::Micros, true);
        assert_eq!(
            pass_start(Some(&prev), now),
            now + chrono::TimeDelta::microseconds(1)
        );
        assert_eq!(pass_start(None, now), now);
    }

    #[test]
    fn yandex_units_are_not_a_currency() {
        let err = currency("shop", Some("YND_FIXED")).unwrap_err();
        assert!(err.to_string().contains("YND_FIXED"), "{err}");
        assert_eq!(currency("shop", Some("KZT")).unwrap().as_str(), "KZT");
    }
}
