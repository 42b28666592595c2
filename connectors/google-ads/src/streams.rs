//! The three streams, one page per call. Each page costs one searchStream request per query
//! it needs (account look-ups included), whatever the number of rows.

use chrono::{Days, NaiveDate};
use okno_connector::spend::{self, SpendCursor};
use okno_connector::{AdAccount, ConnectorError, Cursor, Page, PageRequest, Record};

use crate::api::for_each_row;
use crate::config::CLICK_VIEW_MAX_DAYS_BACK;
use crate::{normalize, GoogleAds};

pub(crate) const ACCOUNT_QUERY: &str = "SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone FROM customer";
pub(crate) const CAMPAIGNS_QUERY: &str = "SELECT campaign.id, campaign.name, campaign.status, campaign.tracking_url_template, campaign.final_url_suffix FROM campaign";

pub(crate) fn spend_query(from: NaiveDate, to: NaiveDate) -> String {
    format!(
        "SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.impressions, \
         metrics.clicks, metrics.conversions FROM campaign WHERE segments.date BETWEEN '{from}' AND '{to}'"
    )
}

pub(crate) fn clicks_query(day: NaiveDate) -> String {
    format!(
        "SELECT click_view.gclid, campaign.id, segments.date FROM click_view WHERE segments.date = '{day}'"
    )
}

fn days_before(day: NaiveDate, n: u32) -> NaiveDate {
    day.checked_sub_days(Days::new(u64::from(n))).unwrap_or(day)
}

impl GoogleAds {
    /// The account's currency, time zone and name.
    pub(crate) async fn account(&self, customer: &str) -> Result<AdAccount, ConnectorError> {
        const EP: &str = "searchStream/customer";
        let resp = self.api.search_stream(EP, customer, ACCOUNT_QUERY).await?;
        let mut account = None;
        for_each_row(EP, &resp.body, self.api.now(), |row| {
            if account.is_none() {
                account = Some(normalize::account(EP, customer, row)?);
            }
            Ok(())
        })?;
        account.ok_or_else(|| {
            ConnectorError::decode(
                EP,
                format!("the customer query of {customer} returned no row"),
            )
        })
    }

    pub(crate) async fn campaigns_page(
        &self,
        cursor: Option<&Cursor>,
    ) -> Result<Page, ConnectorError> {
        const EP: &str = "searchStream/campaign";
        let ids = &self.api.settings().customer_ids;
        let index = match cursor {
            None => 0,
            Some(Cursor(v)) => v
                .get("next")
                .and_then(|n| n.as_u64())
                .map(|n| n as usize)
                .filter(|n| *n < ids.len())
                .unwrap_or(0),
        };
        let Some(customer) = ids.get(index) else {
            return Ok(Page {
                records: Vec::new(),
                next: None,
                has_more: false,
            });
        };
        let account = self.account(customer).await?;
        let account_id = account.account_id.clone();
        let mut records = vec![Record::AdAccount(account)];
        let resp = self
            .api
            .search_stream(EP, customer, crate::streams::CAMPAIGNS_QUERY)
            .await?;
        let channel = self.api.settings().channel.as_str();
        for_each_row(EP, &resp.body, self.api.now(), |row| {
            records.push(Record::Campaign(normalize::campaign(
                EP,
                &account_id,
                channel,
                row,
            )?));
            Ok(())
        })?;
        let has_more = index + 1 < ids.len();
        Ok(Page {
            records,
            next: has_more.then(|| Cursor(serde_json::json!({ "next": index + 1 }))),
            has_more,
        })
    }

    /// Looks the account up and plans its pass; `None` when the run is over.
    async fn begin_pass(
        &self,
        plan: &mut SpendCursor,
        req: &PageRequest<'_>,
        window: &spend::Window,
        records: &mut Vec<Record>,
        clamp_days_back: Option<u32>,
    ) -> Result<bool, ConnectorError> {
        let ids = &self.api.settings().customer_ids;
        let Some(customer) = plan.next_account(ids).map(str::to_string) else {
            plan.finish();
            return Ok(false);
        };
        let info = self.account(&customer).await?;
        let tz = spend::time_zone(&info.time_zone, "searchStream/customer")?;
        let today = spend::today_in(&tz, self.api.now());
        let mut start = spend::start_day(req.start, &tz);
        if let Some(n) = clamp_days_back {
            start = start.max(days_before(today, n));
        }
        plan.begin(&customer, today, start, window, info.currency, None);
        records.push(Record::AdAccount(info));
        Ok(true)
    }

    pub(crate) async fn spend_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        const EP: &str = "searchStream/spend";
        let window = self.api.settings().spend_window;
        let mut plan = SpendCursor::from_cursor(req.cursor)?;
        let mut records = Vec::new();
        if plan.needs_pass()
            && !self
                .begin_pass(&mut plan, &req, &window, &mut records, None)
                .await?
        {
            return Ok(Page {
                records,
                next: Some(plan.to_cursor()),
                has_more: false,
            });
        }
        let slice = plan
            .slice(&window)
            .ok_or_else(|| ConnectorError::Invalid("the spend plan has no current pass".into()))?;
        let resp = self
            .api
            .search_stream(EP, &slice.account, &spend_query(slice.from, slice.to))
            .await?;
        let mut outside = 0usize;
        for_each_row(EP, &resp.body, self.api.now(), |row| {
            let s = normalize::spend(EP, &slice.account, slice.currency, row)?;
            if s.date < slice.from || s.date > slice.to {
                outside += 1;
            } else {
                records.push(Record::AdSpend(s));
            }
            Ok(())
        })?;
        if outside > 0 {
            tracing::warn!(
                account = %slice.account,
                from = %slice.from,
                to = %slice.to,
                outside,
                "Google returned spend rows outside the requested days; they were left out"
            );
        }
        records.push(Record::SpendWindow(slice.window()));
        let has_more = plan.advance(&slice);
        Ok(Page {
            records,
            next: Some(plan.to_cursor()),
            has_more,
        })
    }

    pub(crate) async fn clicks_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        const EP: &str = "searchStream/click_view";
        let window = self.api.settings().click_window;
        let mut plan = SpendCursor::from_cursor(req.cursor)?;
        let mut records = Vec::new();
        if plan.needs_pass()
            && !self
                .begin_pass(
                    &mut plan,
                    &req,
                    &window,
                    &mut records,
                    Some(CLICK_VIEW_MAX_DAYS_BACK),
                )
                .await?
        {
            return Ok(Page {
                records,
                next: Some(plan.to_cursor()),
                has_more: false,
            });
        }
        // Days older than click_view serves are skipped, also in a pass planned long ago.
        let utc_today = self.api.now().date_naive();
        if let Some(pass) = plan.current.as_mut() {
            // The UTC day may be one ahead of the account's: one more day of margin there.
            let earliest = days_before(pass.to, CLICK_VIEW_MAX_DAYS_BACK)
                .max(days_before(utc_today, CLICK_VIEW_MAX_DAYS_BACK + 1));
            if pass.next < earliest {
                pass.next = earliest.min(pass.to);
            }
        }
        let slice = plan
            .slice(&window)
            .ok_or_else(|| ConnectorError::Invalid("the clicks plan has no current pass".into()))?;
        let mut seen = std::collections::HashSet::new();
        for day in slice.days() {
            let resp = self
                .api
                .search_stream(EP, &slice.account, &clicks_query(day))
                .await?;
            for_each_row(EP, &resp.body, self.api.now(), |row| {
                if let Some(click) = normalize::click(EP, &slice.account, row)? {
                    if seen.insert(click.click_id.clone()) {
                        records.push(Record::ClickId(click));
                    }
                }
                Ok(())
            })?;
        }
        let has_more = plan.advance(&slice);
        Ok(Page {
            records,
            next: Some(plan.to_cursor()),
            has_more,
        })
    }
}
