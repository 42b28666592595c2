//! The advertising side: three ad accounts (Yandex Direct-, Google Ads- and VK Ads-like, all in
//! RUB and Moscow days), their campaigns, and each campaign's daily spend.
//!
//! The campaign plan is computed once from the settings: campaign `c` takes entry
//! `c mod 24` of [`AD_CAMPAIGNS`] (numbered after the first round) and draws its running days,
//! share of leads, cost per lead and per click from its own [`Rng`], seeded with `(seed, c)`.
//! Always-on campaigns run the whole window unless launched late or paused early (the first, a
//! brand campaign, always runs, so every day has a running campaign); seasonal ones run their
//! calendar season where it meets the window; some search campaigns run on weekdays only.
//!
//! Spend is what the leads cost: a running campaign's cost on a day is the leads it is expected
//! to bring that day (the `leads` setting spread over the days like lead creation times, shared
//! among the campaigns running that day by weight, of the 90% of leads that carry a campaign's
//! marks) times its cost per lead, ±35%. So cost per lead stays realistic whatever `leads` is,
//! and the leads of `crm.rs` land on the days and campaigns that paid for them. The row
//! of `(campaign, day)` is drawn from its own [`Rng`], never from its neighbours.
//!
//! The `spend` stream pages by account and 31-day slice, like the real ad connectors (see
//! `okno_connector::spend`): each page holds every row of one account's slice and ends with the
//! [`SpendWindow`] that covers it; an account's first page starts with its [`AdAccount`].

use chrono::{Datelike, Days, NaiveDate, Weekday};
use okno_connector::rust_decimal::Decimal;
use okno_connector::{AdAccount, AdSpend, Campaign, Currency, Record, SpendWindow};
use serde_json::json;

use crate::config::Settings;
use crate::raw::raw;
use crate::rng::Rng;
use crate::timeline::Timeline;
use crate::vocabulary::{
    AdAccountSpec, AdCampaignSpec, CampaignKind, Platform, AD_ACCOUNTS, AD_CAMPAIGNS, AD_CURRENCY,
    AD_TIME_ZONE,
};

/// Days one `spend` page covers at most.
pub(crate) const SLICE_DAYS: u64 = 31;
/// The last days before the anchor a platform may still restate: marked provisional.
pub(crate) const PROVISIONAL_DAYS: u64 = 3;
/// Leads that carry the marks of a running campaign, per mille; the rest are unattributed.
pub(crate) const ATTRIBUTED_PER_MILLE: u64 = 900;

const SALT_CAMPAIGN: u64 = 0x6361_6D70_6169_676E; // "campaign"
const SALT_SPEND: u64 = 0x0073_7065_6E64; // "spend"
/// Spend rows of campaign `c` are items `c * SPEND_STRIDE + day`: more than the longest window.
const SPEND_STRIDE: u64 = 4_096;

/// One campaign of the plan.
pub(crate) struct PlannedCampaign {
    pub(crate) spec: &'static AdCampaignSpec,
    pub(crate) account: &'static AdAccountSpec,
    pub(crate) campaign_id: String,
    pub(crate) name: String,
    pub(crate) utm_campaign: Option<String>,
    /// The first and last day it runs, as indexes from the window's first day (inclusive).
    pub(crate) first_day: u64,
    pub(crate) last_day: u64,
    /// Runs Monday to Friday only.
    pub(crate) weekdays_only: bool,
    /// Its share of the leads among the campaigns running on a day.
    pub(crate) weight: u64,
    pub(crate) cpl_kopecks: u64,
    pub(crate) cpc_kopecks: u64,
    pub(crate) ctr_per_mille: u64,
}

impl PlannedCampaign {
    /// Whether it runs (spends and brings leads) on day `day`, a weekend day or not.
    pub(crate) fn runs_on(&self, day: u64, weekend: bool) -> bool {
        (self.first_day..=self.last_day).contains(&day) && !(self.weekdays_only && weekend)
    }

    /// The platform's status at the anchor: running, or stopped after its last day.
    pub(crate) fn status(&self, days: u64) -> &'static str {
        let running = self.last_day + 1 >= days;
        match (self.account.platform, running) {
            (Platform::YandexDirect, true) => "ON",
            (Platform::YandexDirect, false) => "ENDED",
            (Platform::GoogleAds, true) => "ENABLED",
            (Platform::GoogleAds, false) => "PAUSED",
            (Platform::VkAds, true) => "active",
            (Platform::VkAds, false) => "blocked",
        }
    }
}

pub(crate) struct Ads {
    seed: u64,
    leads: u64,
    /// The window's first day (account days): `days` before the anchor date.
    pub(crate) first_date: NaiveDate,
    pub(crate) days: u64,
    pub(crate) campaigns: Vec<PlannedCampaign>,
    /// Per day: whether it is a Saturday or Sunday.
    weekend: Vec<bool>,
    /// Per day: the creation weight of the leads created that day, and the whole window's.
    day_weights: Vec<u64>,
    total_weight: u64,
    /// Per day: the summed weight of the campaigns running.
    running_weight: Vec<u64>,
    currency: Currency,
}

impl Ads {
    pub(crate) fn new(settings: &Settings, timeline: &Timeline) -> Ads {
        let days = settings.days;
        let first_date = settings
            .anchor_date
            .checked_sub_days(Days::new(days))
            .expect("anchors are late enough for any window");
        let weekend: Vec<bool> = (0..days)
            .map(|d| {
                matches!(
                    date_of(first_date, d).weekday(),
                    Weekday::Sat | Weekday::Sun
                )
            })
            .collect();
        let campaigns: Vec<PlannedCampaign> = (0..settings.campaigns)
            .map(|c| plan(settings.seed, c, first_date, days))
            .collect();
        let running_weight = (0..days)
            .map(|d| {
                campaigns
                    .iter()
                    .filter(|c| c.runs_on(d, weekend[d as usize]))
                    .map(|c| c.weight)
                    .sum()
            })
            .collect();
        let day_weights = timeline.day_weights();
        let total_weight = day_weights.iter().sum();
        Ads {
            seed: settings.seed,
            leads: settings.leads,
            first_date,
            days,
            campaigns,
            weekend,
            day_weights,
            total_weight,
            running_weight,
            currency: AD_CURRENCY.parse().expect("RUB is a currency"),
        }
    }

    /// Ad accounts and campaigns: the length of the `campaigns` stream.
    pub(crate) fn campaign_items(&self) -> u64 {
        AD_ACCOUNTS.len() as u64 + self.campaigns.len() as u64
    }

    /// Item `i` of the `campaigns` stream: the accounts, then the campaigns.
    pub(crate) fn campaign_item(&self, i: u64) -> Record {
        match i.checked_sub(AD_ACCOUNTS.len() as u64) {
            None => Record::AdAccount(self.account(i as usize)),
            Some(c) => Record::Campaign(self.campaign(&self.campaigns[c as usize])),
        }
    }

    fn slices(&self) -> u64 {
        self.days.div_ceil(SLICE_DAYS)
    }

    /// Pages of the `spend` stream: one per account and slice.
    pub(crate) fn spend_pages(&self) -> u64 {
        AD_ACCOUNTS.len() as u64 * self.slices()
    }

    /// Page `k` of the `spend` stream: slice `k mod slices` of account `k / slices`, its
    /// account first when it is the account's first slice, its window last.
    pub(crate) fn spend_page(&self, k: u64, out: &mut Vec<Record>) {
        let account = (k / self.slices()) as usize;
        let slice = k % self.slices();
        let spec = &AD_ACCOUNTS[account];
        if slice == 0 {
            out.push(Record::AdAccount(self.account(account)));
        }
        let from = slice * SLICE_DAYS;
        let to = (from + SLICE_DAYS).min(self.days) - 1;
        for day in from..=to {
            for (c, campaign) in self.campaigns.iter().enumerate() {
                if campaign.account.account_id == spec.account_id {
                    if let Some(row) = self.spend(c as u64, campaign, day) {
                        out.push(Record::AdSpend(row));
                    }
                }
            }
        }
        let last = self.days - 1;
        out.push(Record::SpendWindow(SpendWindow {
            account_id: spec.account_id.to_owned(),
            from: date_of(self.first_date, from),
            to: date_of(self.first_date, to),
            provisional_from: date_of(self.first_date, last.saturating_sub(PROVISIONAL_DAYS - 1)),
        }));
    }

    /// A campaign running on `day` (spend-day index), drawn by weight; `None` when none runs.
    pub(crate) fn pick(&self, day: u64, rng: &mut Rng) -> Option<&PlannedCampaign> {
        let weekend = self.weekend[day as usize];
        let mut roll = rng.below(self.running_weight[day as usize]);
        for c in self.campaigns.iter().filter(|c| c.runs_on(day, weekend)) {
            if roll < c.weight {
                return Some(c);
            }
            roll -= c.weight;
        }
        None
    }

    fn account(&self, a: usize) -> AdAccount {
        let spec = &AD_ACCOUNTS[a];
        let raw = raw(&match spec.platform {
            Platform::YandexDirect => json!({
                "Login": spec.account_id,
                "ClientInfo": spec.name,
                "Currency": AD_CURRENCY,
                "TimeZone": AD_TIME_ZONE,
            }),
            Platform::GoogleAds => json!({
                "customer": {
                    "resourceName": format!("customers/{}", spec.account_id),
                    "id": spec.account_id,
                    "descriptiveName": spec.name,
                    "currencyCode": AD_CURRENCY,
                    "timeZone": AD_TIME_ZONE,
                }
            }),
            Platform::VkAds => json!({
                "id": spec.account_id,
                "name": spec.name,
                "currency": AD_CURRENCY,
                "timezone": AD_TIME_ZONE,
            }),
        });
        AdAccount {
            account_id: spec.account_id.to_owned(),
            name: Some(spec.name.to_owned()),
            currency: self.currency,
            time_zone: AD_TIME_ZONE.to_owned(),
            raw,
        }
    }

    fn campaign(&self, c: &PlannedCampaign) -> Campaign {
        let status = c.status(self.days);
        let start = date_of(self.first_date, c.first_day).to_string();
        let raw = raw(&match c.account.platform {
            Platform::YandexDirect => json!({
                "Id": c.campaign_id.parse::<u64>().unwrap_or_default(),
                "Name": c.name,
                "State": status,
                "StartDate": start,
                "TrackingParams": c.utm_campaign.as_ref().map(|u| format!(
                    "utm_source=yandex&utm_medium=cpc&utm_campaign={u}")),
            }),
            Platform::GoogleAds => json!({
                "campaign": {
                    "resourceName": format!("customers/{}/campaigns/{}", c.account.account_id, c.campaign_id),
                    "id": c.campaign_id,
                    "name": c.name,
                    "status": status,
                    "startDate": start,
                    "trackingUrlTemplate": c.utm_campaign.as_ref().map(|u| format!(
                        "{{lpurl}}?utm_source=google&utm_medium=cpc&utm_campaign={u}")),
                }
            }),
            Platform::VkAds => json!({
                "id": c.campaign_id.parse::<u64>().unwrap_or_default(),
                "name": c.name,
                "status": status,
                "date_start": start,
                "utm": c.utm_campaign.as_ref().map(|u| format!(
                    "utm_source=vk&utm_medium=cpc&utm_campaign={u}")),
            }),
        });
        Campaign {
            account_id: c.account.account_id.to_owned(),
            campaign_id: c.campaign_id.clone(),
            name: c.name.clone(),
            status: Some(status.to_owned()),
            channel: c.account.channel.to_owned(),
            utm_campaign: c.utm_campaign.clone(),
            raw,
        }
    }

    /// What campaign `c` cost on `day`; `None` when it did not run.
    fn spend(&self, c: u64, campaign: &PlannedCampaign, day: u64) -> Option<AdSpend> {
        let d = day as usize;
        if !campaign.runs_on(day, self.weekend[d]) {
            return None;
        }
        let mut rng = Rng::for_item(self.seed, SALT_SPEND, c * SPEND_STRIDE + day);
        // The campaign is expected to bring `leads / share` leads today (a fraction, kept exact
        // as a ratio of integers); they cost its cost per lead each, give or take 35%.
        let leads = u128::from(self.leads)
            * u128::from(ATTRIBUTED_PER_MILLE)
            * u128::from(self.day_weights[d])
            * u128::from(campaign.weight);
        let share = u128::from(self.total_weight.max(1))
            * u128::from(self.running_weight[d].max(1))
            * 1_000;
        let noise = u128::from(650 + rng.below(701));
        let cost_kopecks =
            (leads * u128::from(campaign.cpl_kopecks) * noise / (share * 1_000)) as u64;
        // Nothing spent (almost no leads wanted): the platform reports no row.
        if cost_kopecks == 0 {
            return None;
        }
        let clicks = cost_kopecks * (800 + rng.below(401)) / (campaign.cpc_kopecks.max(1) * 1_000);
        let impressions = clicks * 1_000 / campaign.ctr_per_mille.max(1) + rng.below(50);
        let conversions_milli = (leads * u128::from(800 + rng.below(401)) / share) as u64;
        let date = date_of(self.first_date, day);
        let cost = Decimal::new(cost_kopecks as i64, 2);
        let (conversions, vat_included) = match campaign.account.platform {
            // Google counts fractional conversions; the others whole ones.
            Platform::GoogleAds => (Decimal::new((conversions_milli / 10) as i64, 2), None),
            Platform::YandexDirect => (
                Decimal::from((conversions_milli + 500) / 1_000),
                Some(false),
            ),
            Platform::VkAds => (Decimal::from((conversions_milli + 500) / 1_000), None),
        };
        let raw = raw(&match campaign.account.platform {
            Platform::YandexDirect => json!({
                "Date": date.to_string(),
                "CampaignId": campaign.campaign_id,
                "CampaignName": campaign.name,
                "Impressions": impressions,
                "Clicks": clicks,
                "Cost": cost.to_string(),
                "Conversions": conversions.to_string(),
            }),
            Platform::GoogleAds => json!({
                "segments": { "date": date.to_string() },
                "campaign": { "id": campaign.campaign_id, "name": campaign.name },
                "metrics": {
                    "costMicros": (cost_kopecks * 10_000).to_string(),
                    "impressions": impressions.to_string(),
                    "clicks": clicks.to_string(),
                    "conversions": conversions.to_string(),
                },
            }),
            Platform::VkAds => json!({
                "date": date.to_string(),
                "ad_plan_id": campaign.campaign_id,
                "base": {
                    "shows": impressions,
                    "clicks": clicks,
                    "spent": cost.to_string(),
                    "goals": conversions.to_string(),
                },
            }),
        });
        Some(AdSpend {
            account_id: campaign.account.account_id.to_owned(),
            campaign_id: campaign.campaign_id.clone(),
            date,
            cost,
            currency: self.currency,
            vat_included,
            impressions: Some(impressions as i64),
            clicks: Some(clicks as i64),
            conversions: Some(conversions),
            raw,
        })
    }
}

/// Campaign `c` of the plan.
fn plan(seed: u64, c: u64, first_date: NaiveDate, days: u64) -> PlannedCampaign {
    let mut rng = Rng::for_item(seed, SALT_CAMPAIGN, c);
    let spec = &AD_CAMPAIGNS[(c % AD_CAMPAIGNS.len() as u64) as usize];
    let account = &AD_ACCOUNTS[spec.account];
    let round = c / AD_CAMPAIGNS.len() as u64;
    let (name, utm_campaign) = match round {
        0 => (spec.name.to_owned(), spec.utm_campaign.map(str::to_owned)),
        n => (
            format!("{} #{}", spec.name, n + 1),
            spec.utm_campaign.map(|u| format!("{u}_{}", n + 1)),
        ),
    };
    let profile = spec.kind.profile();
    let mut between = |(low, high): (u64, u64)| low + rng.below(high - low + 1);
    let weight = between(profile.weight);
    let cpl_kopecks = between(profile.cpl_rub) * 100;
    let cpc_kopecks = between(profile.cpc_rub) * 100;
    let ctr_per_mille = between(profile.ctr_per_mille);
    let last = days - 1;
    let (first_day, last_day) = if c == 0 {
        // The brand campaign runs every day, so every day has a campaign to attribute to.
        (0, last)
    } else if let Some(days_in_season) = spec.season.and_then(|s| season(s, first_date, days)) {
        days_in_season
    } else if spec.kind.always_on() {
        let first = if rng.chance(250) {
            rng.below(days / 2 + 1)
        } else {
            0
        };
        // Paused early, after at least two weeks.
        let last_day = if rng.chance(150) {
            (first + 13 + rng.below(days - first)).min(last)
        } else {
            last
        };
        (first, last_day)
    } else {
        let first = rng.below(days);
        (first, (first + 9 + rng.below(25)).min(last))
    };
    let weekdays_only = c != 0 && spec.kind == CampaignKind::Search && rng.chance(300);
    PlannedCampaign {
        spec,
        account,
        campaign_id: (account.first_campaign_id + c).to_string(),
        name,
        utm_campaign,
        first_day,
        last_day,
        weekdays_only,
        weight,
        cpl_kopecks,
        cpc_kopecks,
        ctr_per_mille,
    }
}

/// The days of the latest yearly season `((month, day), (month, day))` that meets the window,
/// as day indexes; `None` when no year's season does.
fn season(
    ((m1, d1), (m2, d2)): ((u32, u32), (u32, u32)),
    first_date: NaiveDate,
    days: u64,
) -> Option<(u64, u64)> {
    let last_date = date_of(first_date, days - 1);
    (first_date.year()..=last_date.year())
        .rev()
        .find_map(|year| {
            let from = NaiveDate::from_ymd_opt(year, m1, d1)?.max(first_date);
            let to = NaiveDate::from_ymd_opt(year, m2, d2)?.min(last_date);
            (from <= to).then(|| {
                (
                    (from - first_date).num_days() as u64,
                    (to - first_date).num_days() as u64,
                )
            })
        })
}

/// The date `day` days after `first`.
pub(crate) fn date_of(first: NaiveDate, day: u64) -> NaiveDate {
    first
        .checked_add_days(Days::new(day))
        .expect("demo dates are far from chrono's limits")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn ads(settings: Settings) -> Ads {
        let timeline = Timeline::new(settings.anchor_date, settings.days);
        Ads::new(&settings, &timeline)
    }

    #[test]
    fn campaigns_have_distinct_ids_names_and_slugs_across_three_accounts() {
        let a = ads(Settings {
            campaigns: 60,
            ..Settings::default()
        });
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        let mut slugs = HashSet::new();
        for c in &a.campaigns {
            assert!(ids.insert(c.campaign_id.clone()), "{}", c.campaign_id);
            assert!(names.insert(c.name.to_lowercase()), "{}", c.name);
            if let Some(u) = &c.utm_campaign {
                assert!(slugs.insert(u.clone()), "{u}");
                assert!(u
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'));
            }
            assert!(c.first_day <= c.last_day && c.last_day < a.days);
        }
        // Names, slugs and ids never collide with one another either.
        assert!(names.iter().all(|n| !slugs.contains(n) && !ids.contains(n)));
        assert_eq!(a.campaigns[24].name, "Поиск | Бренд #2");
        assert_eq!(
            a.campaigns[24].utm_campaign.as_deref(),
            Some("yd_brand_search_2")
        );

        let d = ads(Settings::default());
        assert_eq!(d.campaign_items(), 23);
        let channels: HashSet<&str> = d.campaigns.iter().map(|c| c.account.channel).collect();
        assert_eq!(channels.len(), 3);
        let slugged = d
            .campaigns
            .iter()
            .filter(|c| c.utm_campaign.is_some())
            .count();
        assert!(slugged >= 15, "{slugged}");
        // The brand campaign runs every day.
        assert_eq!((d.campaigns[0].first_day, d.campaigns[0].last_day), (0, 89));
    }

    #[test]
    fn seasonal_campaigns_run_in_their_season() {
        let d = ads(Settings::default());
        let black_friday = d
            .campaigns
            .iter()
            .find(|c| c.name == "РСЯ | Чёрная пятница")
            .unwrap();
        assert_eq!(
            date_of(d.first_date, black_friday.first_day).to_string(),
            "2025-11-10"
        );
        assert_eq!(
            date_of(d.first_date, black_friday.last_day).to_string(),
            "2025-11-30"
        );
        // A window without November places it anywhere in the window.
        let spring = ads(Settings {
            anchor_date: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
            ..Settings::default()
        });
        let c = &spring.campaigns[14];
        assert!(c.first_day <= c.last_day && c.last_day < 90);
    }

    #[test]
    fn spend_pages_cover_each_account_in_31_day_slices() {
        for days in [1, 31, 32, 90] {
            let a = ads(Settings {
                days,
                ..Settings::default()
            });
            assert_eq!(a.spend_pages(), 3 * days.div_ceil(31));
            let mut covered = vec![Vec::new(); 3];
            for k in 0..a.spend_pages() {
                let mut page = Vec::new();
                a.spend_page(k, &mut page);
                let Some(Record::SpendWindow(w)) = page.last() else {
                    panic!("page {k} does not end with a window");
                };
                let account = AD_ACCOUNTS
                    .iter()
                    .position(|s| s.account_id == w.account_id)
                    .unwrap();
                covered[account].push((w.from, w.to));
                assert_eq!(
                    w.provisional_from,
                    date_of(a.first_date, days.saturating_sub(3))
                );
                assert_eq!(
                    matches!(page.first(), Some(Record::AdAccount(_))),
                    k % days.div_ceil(31) == 0
                );
                for r in &page[..page.len() - 1] {
                    match r {
                        Record::AdSpend(s) => {
                            assert_eq!(s.account_id, w.account_id);
                            assert!(w.from <= s.date && s.date <= w.to);
                        }
                        Record::AdAccount(acc) => assert_eq!(acc.account_id, w.account_id),
                        other => panic!("{other:?}"),
                    }
                }
            }
            for slices in covered {
                assert_eq!(slices[0].0, a.first_date);
                assert_eq!(slices.last().unwrap().1, date_of(a.first_date, days - 1));
                assert!(slices.windows(2).all(|w| w[0].1.succ_opt() == Some(w[1].0)));
                assert!(slices.iter().all(|(f, t)| (*t - *f).num_days() < 31));
            }
        }
    }
}
