//! The CRM side: one sales pipeline and the leads the ads bring, shaped like amoCRM's (won is
//! status 142 and lost 143 in every pipeline).
//!
//! Lead `i` is drawn from its own [`Rng`], seeded with `(seed, i)`. Its creation time grows with
//! `i` like a ticket's (the working week inside the window). 90% of leads come from a campaign
//! running on their creation day (Moscow time), picked by the campaigns' shares of that day —
//! the same shares the day's spend follows — and carry its marks: `utm_source`/`utm_medium`
//! of its platform and the campaign's `utm_campaign` slug (15% its name instead, as typed by
//! hand; on Yandex Direct campaigns without a slug, the `{campaign_id}` macro's id). Google
//! leads usually carry a gclid too (a quarter of them only the gclid, as auto-tagging sends),
//! followed on the page by the [`ClickId`] that resolves it; half the Yandex leads carry a yclid.
//! The other 10% are unattributed: half without marks, a fifth with a source only, the rest with
//! a `utm_campaign` no campaign has (old mailings, partners, tests).
//!
//! A lead buys with its segment's rate (the "Students" segment never does: many leads, none
//! won), scaled by its campaign kind's lead quality and its owner's skill. It is decided (won or
//! lost) days to weeks after creation; a lead not decided by the anchor is open, further down
//! the pipeline the older it is. Won leads have an amount (the product's yearly price, whole
//! hundreds of rubles) and a third a discount of 5–15%.

use chrono::{DateTime, NaiveDate, Utc};
use okno_connector::chrono_tz::Europe::Moscow;
use okno_connector::rust_decimal::Decimal;
use okno_connector::{
    ClickId, ClickKind, Currency, Lead, LeadEntity, Marks, Record, Stage, StageCategory,
};
use serde::Serialize;
use serde_json::json;

use crate::ads::{Ads, PlannedCampaign, ATTRIBUTED_PER_MILLE};
use crate::config::Settings;
use crate::generate::FIRST_USER_ID;
use crate::raw::raw;
use crate::rng::{mix, Rng};
use crate::timeline::{instant, Timeline, SECS_PER_DAY};
use crate::vocabulary::{
    Platform, AD_CURRENCY, FEMALE_FIRST_NAMES, FIRST_NAMES, KEYWORDS, LOSS_REASONS, LOST_STAGE,
    OPEN_STAGES, PIPELINE_ID, PIPELINE_NAME, PRODUCTS, REGIONS, REGION_WEIGHTS, SEGMENTS,
    SOURCE_ONLY_MARKS, SURNAMES, UNKNOWN_UTM_CAMPAIGNS, UNMARKED_LEAD_SOURCES, WON_STAGE,
};

pub(crate) const FIRST_LEAD_ID: u64 = 500_001;
/// Stages of the pipeline: the open ones, then won and lost.
pub(crate) const STAGES: u64 = OPEN_STAGES.len() as u64 + 2;

const SALT_LEAD: u64 = 0x006C_6561_6473; // "leads"
const SALT_OWNER: u64 = 0x006F_776E_6572; // "owner"
const SALT_CLICK: u64 = 0x0063_6C69_636B; // "click"

/// Hours from creation to a win: octaves from 2^4 hours, median about eight days.
const WIN_OCTAVES: [u32; 6] = [2, 4, 6, 6, 4, 2];
/// Hours from creation to a loss: octaves from 2^3 hours, median about four days.
const LOSS_OCTAVES: [u32; 6] = [4, 6, 6, 4, 3, 2];
/// Won leads granted a discount.
const DISCOUNT_PER_MILLE: u64 = 350;
/// Lost leads that had an amount before they were lost.
const LOST_WITH_AMOUNT_PER_MILLE: u64 = 400;
/// Attributed leads whose `utm_campaign` is the campaign's name, typed by hand, not its slug.
const BY_NAME_PER_MILLE: u64 = 150;

/// Stage `s` of the pipeline: the open stages, then won (142) and lost (143).
pub(crate) fn stage(s: u64) -> Stage {
    let s = s as usize;
    let (id, name, category, sort) = match s.checked_sub(OPEN_STAGES.len()) {
        None => (
            OPEN_STAGES[s].0,
            OPEN_STAGES[s].1,
            StageCategory::Open,
            10 * (s as i64 + 1),
        ),
        Some(0) => (WON_STAGE.0, WON_STAGE.1, StageCategory::Won, 10_000),
        Some(_) => (LOST_STAGE.0, LOST_STAGE.1, StageCategory::Lost, 11_000),
    };
    let raw = raw(&json!({
        "id": id.parse::<u64>().unwrap_or_default(),
        "name": name,
        "sort": sort,
        "pipeline_id": PIPELINE_ID.parse::<u64>().unwrap_or_default(),
        "type": if category == StageCategory::Open { 0 } else { 1 },
        "is_editable": category == StageCategory::Open,
    }));
    Stage {
        pipeline_id: PIPELINE_ID.to_owned(),
        pipeline_name: Some(PIPELINE_NAME.to_owned()),
        stage_id: id.to_owned(),
        stage_name: name.to_owned(),
        category,
        sort: Some(sort),
        archived: false,
        raw,
    }
}

pub(crate) struct Crm {
    seed: u64,
    leads: u64,
    agents: u64,
    timeline: Timeline,
    currency: Currency,
}

/// An amoCRM lead, with the marks and fields the demo fills.
#[derive(Serialize)]
struct RawLead<'a> {
    id: u64,
    name: &'a str,
    price: Option<u64>,
    discount: Option<u64>,
    responsible_user_id: u64,
    pipeline_id: &'a str,
    status_id: &'a str,
    created_at: i64,
    updated_at: i64,
    closed_at: Option<i64>,
    loss_reason: Option<&'a str>,
    source: &'a str,
    utm: &'a Marks,
    product: &'a str,
    segment: &'a str,
    region: &'a str,
}

impl Crm {
    pub(crate) fn new(settings: &Settings) -> Crm {
        Crm {
            seed: settings.seed,
            leads: settings.leads,
            agents: settings.agents,
            timeline: Timeline::new(settings.anchor_date, settings.days),
            currency: AD_CURRENCY.parse().expect("RUB is a currency"),
        }
    }

    /// Appends lead `i` to `out`, followed by its click id when it carries a gclid.
    pub(crate) fn lead(&self, ads: &Ads, i: u64, out: &mut Vec<Record>) {
        let anchor = self.timeline.anchor;
        let mut rng = Rng::for_item(self.seed, SALT_LEAD, i);
        let created = self.timeline.created_at(i, self.leads, &mut rng);
        let local_date = moscow_date(created);
        let day = (local_date - ads.first_date)
            .num_days()
            .clamp(0, ads.days as i64 - 1) as u64;
        let campaign = if rng.chance(ATTRIBUTED_PER_MILLE) {
            ads.pick(day, &mut rng)
        } else {
            None
        };
        let platform = campaign.map(|c| c.account.platform);

        // Social ads draw students far more than search does.
        let mut segment_weights = SEGMENTS.map(|s| s.weight);
        if platform == Some(Platform::VkAds) {
            segment_weights[SEGMENTS.len() - 1] *= 3;
        }
        let segment = &SEGMENTS[rng.weighted(&segment_weights)];
        let (product, low, high) = PRODUCTS[rng.weighted(&segment.products)];
        let price_rub = low + rng.below((high - low) / 100 + 1) * 100;
        let region = REGIONS[rng.weighted(&REGION_WEIGHTS)];
        let owner = rng.below(self.agents);
        let quality = campaign.map_or(1_000, |c| c.spec.kind.profile().quality_per_mille);
        let won_per_mille = segment.won_per_mille * quality / 1_000 * self.skill(owner) / 1_000;
        let wins = rng.below(1_000) < won_per_mille;
        let hours = if wins {
            rng.octaves(4, &WIN_OCTAVES)
        } else {
            rng.octaves(3, &LOSS_OCTAVES)
        };
        let decided_at = created + (hours * 3_600 + rng.below(3_600)) as i64;
        let decided = decided_at < anchor;

        let (stage_index, category) = match (decided, wins) {
            (true, true) => (OPEN_STAGES.len(), StageCategory::Won),
            (true, false) => (OPEN_STAGES.len() + 1, StageCategory::Lost),
            (false, _) => {
                // Older open leads are further down the pipeline.
                let age_days = ((anchor - created) / SECS_PER_DAY) as u64;
                let reachable = (1 + age_days / 3).min(OPEN_STAGES.len() as u64);
                (rng.below(reachable) as usize, StageCategory::Open)
            }
        };
        let (stage_id, stage_name) = match category {
            StageCategory::Won => WON_STAGE,
            StageCategory::Lost => LOST_STAGE,
            StageCategory::Open => OPEN_STAGES[stage_index],
        };
        let amount_rub = match category {
            StageCategory::Won => Some(price_rub),
            StageCategory::Open => (stage_index >= 3).then_some(price_rub),
            StageCategory::Lost => rng.chance(LOST_WITH_AMOUNT_PER_MILLE).then_some(price_rub),
        };
        let discount_rub = (category == StageCategory::Won && rng.chance(DISCOUNT_PER_MILLE))
            .then(|| price_rub * (5 + 5 * rng.below(3)) / 100);
        let loss_reason = (category == StageCategory::Lost).then(|| *rng.pick(&LOSS_REASONS));
        let closed_at = decided.then_some(decided_at);
        let updated = match closed_at {
            Some(closed) => (closed + rng.below(600) as i64).min(anchor - 1),
            None => created + rng.below((anchor - created) as u64) as i64,
        };

        let (marks, lead_source) = match campaign {
            Some(c) => self.campaign_marks(c, i, &mut rng),
            None => unattributed_marks(&mut rng),
        };
        let click = marks.gclid.clone().zip(campaign).map(|(gclid, c)| ClickId {
            click_id: gclid,
            kind: ClickKind::Gclid,
            account_id: c.account.account_id.to_owned(),
            campaign_id: c.campaign_id.clone(),
            date: local_date,
        });

        let first = rng.below(FIRST_NAMES.len() as u64) as usize;
        let (male, female) = *rng.pick(&SURNAMES);
        let surname = if first < FEMALE_FIRST_NAMES {
            female
        } else {
            male
        };
        let name = format!("{} {surname}: {product}", FIRST_NAMES[first]);
        let id = FIRST_LEAD_ID + i;
        let owner_id = FIRST_USER_ID + owner;
        let raw = raw(&RawLead {
            id,
            name: &name,
            price: amount_rub,
            discount: discount_rub,
            responsible_user_id: owner_id,
            pipeline_id: PIPELINE_ID,
            status_id: stage_id,
            created_at: created,
            updated_at: updated,
            closed_at,
            loss_reason,
            source: lead_source,
            utm: &marks,
            product,
            segment: segment.name,
            region,
        });
        let rubles = |r: u64| Decimal::new(r as i64 * 100, 2);
        out.push(Record::Lead(Box::new(Lead {
            lead_id: id.to_string(),
            entity: LeadEntity::Lead,
            name: Some(name),
            created_at: instant(created),
            updated_at: instant(updated),
            pipeline_id: Some(PIPELINE_ID.to_owned()),
            stage_id: Some(stage_id.to_owned()),
            stage_name: Some(stage_name.to_owned()),
            stage_category: category,
            amount: amount_rub.map(rubles),
            discount: discount_rub.map(rubles),
            currency: Some(self.currency),
            exchange_rate: None,
            closed_at: closed_at.map(instant),
            owner_id: Some(owner_id.to_string()),
            lead_source: Some(lead_source.to_owned()),
            marks,
            product: Some(product.to_owned()),
            segment: Some(segment.name.to_owned()),
            region: Some(region.to_owned()),
            converted_deal_id: None,
            deleted_at: None,
            raw,
        })));
        if let Some(click) = click {
            out.push(Record::ClickId(click));
        }
    }

    /// How well agent `k` closes, per mille of the average: a property of the agent.
    fn skill(&self, k: u64) -> u64 {
        700 + mix(mix(self.seed ^ SALT_OWNER) ^ k) % 601
    }

    /// The marks of a lead from campaign `c`, and its lead source.
    fn campaign_marks(&self, c: &PlannedCampaign, i: u64, rng: &mut Rng) -> (Marks, &'static str) {
        let platform = c.account.platform;
        let utm_campaign = match (&c.utm_campaign, platform) {
            (Some(slug), _) if !rng.chance(BY_NAME_PER_MILLE) => slug.clone(),
            (None, Platform::YandexDirect) => c.campaign_id.clone(),
            _ if rng.chance(500) => c.name.to_lowercase(),
            _ => c.name.clone(),
        };
        let mut marks = Marks {
            utm_source: Some(c.account.utm_source.to_owned()),
            utm_medium: Some("cpc".to_owned()),
            utm_campaign: Some(utm_campaign),
            utm_content: rng.chance(500).then(|| format!("ad_{}", 1 + rng.below(12))),
            utm_term: (c.spec.kind.keywords() && rng.chance(600))
                .then(|| rng.pick(&KEYWORDS).to_string()),
            ..Marks::default()
        };
        match platform {
            Platform::GoogleAds => match rng.below(100) {
                // Auto-tagging alone: the gclid is the only mark.
                0..=24 => {
                    marks = Marks {
                        gclid: Some(self.gclid(i)),
                        ..Marks::default()
                    }
                }
                25..=69 => marks.gclid = Some(self.gclid(i)),
                _ => {}
            },
            Platform::YandexDirect => {
                if rng.chance(500) {
                    marks.yclid =
                        Some((10_000_000_000_000_000 + rng.below(9 * 10u64.pow(16))).to_string());
                }
            }
            Platform::VkAds => {}
        }
        (marks, c.account.lead_source)
    }

    /// Lead `i`'s gclid: unique per lead (the index goes through a bijection), shaped like one.
    fn gclid(&self, i: u64) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut v = mix(mix(self.seed ^ SALT_CLICK).wrapping_add(i));
        let mut id = String::from("Cj0KCQiA");
        for _ in 0..11 {
            id.push(ALPHABET[(v & 63) as usize] as char);
            v >>= 6;
        }
        id.push_str("_BwE");
        id
    }
}

/// Marks of a lead no campaign claims, and its lead source.
fn unattributed_marks(rng: &mut Rng) -> (Marks, &'static str) {
    match rng.below(100) {
        0..=49 => (Marks::default(), *rng.pick(&UNMARKED_LEAD_SOURCES)),
        50..=69 => {
            let (source, medium) = *rng.pick(&SOURCE_ONLY_MARKS);
            let marks = Marks {
                utm_source: Some(source.to_owned()),
                utm_medium: Some(medium.to_owned()),
                ..Marks::default()
            };
            (marks, lead_source_of(medium))
        }
        _ => {
            let (source, medium, campaign) = *rng.pick(&UNKNOWN_UTM_CAMPAIGNS);
            let marks = Marks {
                utm_source: Some(source.to_owned()),
                utm_medium: Some(medium.to_owned()),
                utm_campaign: Some(campaign.to_owned()),
                ..Marks::default()
            };
            (marks, lead_source_of(medium))
        }
    }
}

fn lead_source_of(utm_medium: &str) -> &'static str {
    match utm_medium {
        "email" | "newsletter" => "Email",
        "referral" => "Partner",
        "social" => "Social media",
        _ => "Advertising",
    }
}

/// The date in Moscow at unix time `t`: the ad accounts' day.
pub(crate) fn moscow_date(t: i64) -> NaiveDate {
    let at: DateTime<Utc> = instant(t);
    at.with_timezone(&Moscow).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::Generator;
    use std::collections::{HashMap, HashSet};

    fn leads(g: &Generator) -> Vec<Record> {
        let mut out = Vec::new();
        for i in 0..g.settings().leads {
            g.lead(i, &mut out);
        }
        out
    }

    fn only_leads(records: &[Record]) -> Vec<&Lead> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Lead(l) => Some(&**l),
                _ => None,
            })
            .collect()
    }

    /// The campaigns a `utm_campaign` names, the ways figures match it: id, name in any case, or
    /// the platform's own slug in any case.
    fn named_by<'a>(g: &'a Generator, utm: &str) -> Vec<&'a PlannedCampaign> {
        let lower = utm.to_lowercase();
        g.ads()
            .campaigns
            .iter()
            .filter(|c| {
                c.campaign_id == utm
                    || c.name.to_lowercase() == lower
                    || c.utm_campaign.as_deref().map(str::to_lowercase) == Some(lower.clone())
            })
            .collect()
    }

    fn spent(g: &Generator) -> Vec<okno_connector::AdSpend> {
        let mut out = Vec::new();
        for k in 0..g.ads().spend_pages() {
            g.ads().spend_page(k, &mut out);
        }
        out.into_iter()
            .filter_map(|r| match r {
                Record::AdSpend(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_mark_meant_to_match_names_exactly_one_campaign() {
        let g = Generator::new(Settings::default());
        let unknown: HashSet<&str> = UNKNOWN_UTM_CAMPAIGNS.iter().map(|u| u.2).collect();
        let records = leads(&g);
        let (mut by_slug, mut by_name, mut by_id) = (0, 0, 0);
        for lead in only_leads(&records) {
            let Some(utm) = lead.marks.utm_campaign.as_deref() else {
                continue;
            };
            let named = named_by(&g, utm);
            if unknown.contains(utm) {
                assert!(named.is_empty(), "{utm} was meant to match nothing");
                continue;
            }
            let [c] = named[..] else {
                panic!("{utm} names {} campaigns", named.len());
            };
            assert_eq!(lead.marks.utm_source.as_deref(), Some(c.account.utm_source));
            assert_eq!(lead.lead_source.as_deref(), Some(c.account.lead_source));
            if c.utm_campaign.as_deref() == Some(utm) {
                by_slug += 1;
            } else if c.campaign_id == utm {
                by_id += 1;
            } else {
                by_name += 1;
            }
        }
        // Most marks are slugs (over 60%); hand-typed names and Yandex's id macro show up too.
        let all = by_slug + by_name + by_id;
        assert!(by_slug * 10 > 6 * all, "{by_slug} {by_name} {by_id}");
        assert!(by_name > 0 && by_id > 0, "{by_name} {by_id}");
    }

    #[test]
    fn gclids_are_unique_and_resolve_to_google_campaigns() {
        let g = Generator::new(Settings::default());
        let records = leads(&g);
        let mut seen = HashSet::new();
        let (mut gclid_only, mut yclids) = (0, 0);
        for (i, r) in records.iter().enumerate() {
            let Record::Lead(lead) = r else { continue };
            yclids += usize::from(lead.marks.yclid.is_some());
            let Some(gclid) = &lead.marks.gclid else {
                assert!(!matches!(records.get(i + 1), Some(Record::ClickId(_))));
                continue;
            };
            assert!(seen.insert(gclid.clone()), "{gclid} twice");
            let Some(Record::ClickId(click)) = records.get(i + 1) else {
                panic!("lead {} has no click id after it", lead.lead_id);
            };
            assert_eq!((&click.click_id, click.kind), (gclid, ClickKind::Gclid));
            let c = g
                .ads()
                .campaigns
                .iter()
                .find(|c| c.campaign_id == click.campaign_id)
                .expect("a generated campaign");
            assert_eq!(c.account.platform, Platform::GoogleAds);
            assert_eq!(click.account_id, c.account.account_id);
            assert_eq!(click.date, moscow_date(lead.created_at.timestamp()));
            if let Some(utm) = &lead.marks.utm_campaign {
                assert_eq!(named_by(&g, utm)[0].campaign_id, c.campaign_id);
            } else {
                gclid_only += 1;
            }
        }
        assert!(seen.len() > 300 && gclid_only > 50 && yclids > 100);
    }

    #[test]
    fn about_a_tenth_of_leads_is_unattributed() {
        let g = Generator::new(Settings::default());
        let records = leads(&g);
        let leads = only_leads(&records);
        let unattributed = leads
            .iter()
            .filter(|l| {
                l.marks.gclid.is_none()
                    && l.marks
                        .utm_campaign
                        .as_deref()
                        .is_none_or(|u| named_by(&g, u).is_empty())
            })
            .count();
        assert!(
            (200..=400).contains(&unattributed),
            "{unattributed} of 3000"
        );
        let no_marks = leads.iter().filter(|l| l.marks == Marks::default()).count();
        let source_only = leads
            .iter()
            .filter(|l| l.marks.utm_source.is_some() && l.marks.utm_campaign.is_none())
            .count();
        assert!(
            no_marks > 50 && source_only > 20,
            "{no_marks} {source_only}"
        );
    }

    #[test]
    fn attributed_leads_arrive_on_days_their_campaign_spent() {
        let g = Generator::new(Settings::default());
        let spent: HashSet<(String, NaiveDate)> = spent(&g)
            .into_iter()
            .map(|s| (s.campaign_id, s.date))
            .collect();
        let anchor_date = g.settings().anchor_date;
        let records = leads(&g);
        let mut checked = 0;
        for (i, r) in records.iter().enumerate() {
            let Record::Lead(lead) = r else { continue };
            let campaign = match (records.get(i + 1), lead.marks.utm_campaign.as_deref()) {
                (Some(Record::ClickId(c)), _) => c.campaign_id.clone(),
                (_, Some(utm)) => match named_by(&g, utm).first() {
                    Some(c) => c.campaign_id.clone(),
                    None => continue,
                },
                _ => continue,
            };
            let day = moscow_date(lead.created_at.timestamp());
            // Leads of the anchor's first Moscow hours count on the window's last day.
            let day = day.min(anchor_date.pred_opt().unwrap());
            assert!(
                spent.contains(&(campaign.clone(), day)),
                "{campaign} on {day}"
            );
            checked += 1;
        }
        assert!(checked > 2_500, "{checked}");
    }

    #[test]
    fn won_leads_have_amounts_and_the_students_never_buy() {
        let settings = Settings::default();
        let g = Generator::new(settings.clone());
        let stages: HashMap<String, Stage> = (0..STAGES)
            .map(|s| (stage(s).stage_id.clone(), stage(s)))
            .collect();
        let agents: HashSet<String> = (0..settings.agents)
            .map(|k| (FIRST_USER_ID + k).to_string())
            .collect();
        let anchor = instant(Timeline::new(settings.anchor_date, settings.days).anchor);
        let records = leads(&g);
        let mut per_category: HashMap<&str, u64> = HashMap::new();
        let mut students = (0, 0);
        let mut discounted = 0;
        for lead in only_leads(&records) {
            *per_category
                .entry(lead.stage_category.as_str())
                .or_default() += 1;
            let stage = &stages[lead.stage_id.as_deref().unwrap()];
            assert_eq!(
                lead.pipeline_id.as_deref(),
                Some(stage.pipeline_id.as_str())
            );
            assert_eq!(lead.stage_name.as_deref(), Some(stage.stage_name.as_str()));
            assert_eq!(lead.stage_category, stage.category);
            assert!(agents.contains(lead.owner_id.as_deref().unwrap()));
            assert_eq!(lead.currency.unwrap().as_str(), "RUB");
            assert!(lead.created_at <= lead.updated_at && lead.updated_at < anchor);
            assert!(lead.product.is_some() && lead.region.is_some());
            match lead.stage_category {
                StageCategory::Won => {
                    let amount = lead.amount.expect("won leads have an amount");
                    assert!(amount > Decimal::ZERO && amount.scale() == 2, "{amount}");
                    if let Some(discount) = lead.discount {
                        assert!(Decimal::ZERO < discount && discount < amount);
                        discounted += 1;
                    }
                }
                _ => assert_eq!(lead.discount, None),
            }
            match lead.closed_at {
                Some(closed) => {
                    assert_ne!(lead.stage_category, StageCategory::Open);
                    assert!(lead.created_at < closed && closed <= lead.updated_at);
                }
                None => assert_eq!(lead.stage_category, StageCategory::Open),
            }
            if lead.segment.as_deref() == Some("Students") {
                students.0 += 1;
                students.1 += u64::from(lead.stage_category == StageCategory::Won);
            }
        }
        let won = per_category["won"];
        assert!((300..=600).contains(&won), "{per_category:?}");
        assert!(per_category["open"] > 50, "{per_category:?}");
        assert!(discounted > won / 5, "{discounted} of {won}");
        // The anomaly: one segment with many leads and not one won.
        assert!(students.0 > 300 && students.1 == 0, "{students:?}");
    }

    #[test]
    fn spend_is_exact_and_costs_a_plausible_amount_per_lead() {
        let g = Generator::new(Settings::default());
        let rows = spent(&g);
        let mut total = Decimal::ZERO;
        let mut kopecks = 0i64;
        for s in &rows {
            assert_eq!(s.cost.scale(), 2, "{}", s.cost);
            assert!(s.cost > Decimal::ZERO);
            assert!(s.impressions >= s.clicks && s.clicks >= Some(0));
            total += s.cost;
            kopecks += s.cost.mantissa() as i64;
            let raw: serde_json::Value = serde_json::from_str(s.raw.get()).unwrap();
            assert!(raw.to_string().contains(&s.date.to_string()));
        }
        assert_eq!(total, Decimal::new(kopecks, 2));
        assert_eq!(total.scale(), 2);
        let cpl = total / Decimal::from(g.settings().leads);
        assert!(
            Decimal::from(1_000) < cpl && cpl < Decimal::from(4_000),
            "{cpl}"
        );
        // Spend follows the leads: ten times the leads, about ten times the spend.
        let more = Generator::new(Settings {
            leads: 30_000,
            ..Settings::default()
        });
        let more_total: Decimal = spent(&more).iter().map(|s| s.cost).sum();
        let ratio = more_total / total;
        assert!(
            Decimal::from(9) < ratio && ratio < Decimal::from(11),
            "{ratio}"
        );
        // No leads wanted, nothing spent: the platform reports no rows.
        let none = Generator::new(Settings {
            leads: 0,
            ..Settings::default()
        });
        assert!(spent(&none).is_empty());
    }

    #[test]
    fn lead_i_depends_only_on_the_settings_and_i() {
        let g = Generator::new(Settings::default());
        let forward = serde_json::to_string(&leads(&g)).unwrap();
        let mut backward = Vec::new();
        for i in (0..g.settings().leads).rev() {
            let mut one = Vec::new();
            g.lead(i, &mut one);
            backward.splice(0..0, one);
        }
        assert_eq!(forward, serde_json::to_string(&backward).unwrap());
        let other = Generator::new(Settings {
            seed: 7,
            ..Settings::default()
        });
        let (mut a, mut b) = (Vec::new(), Vec::new());
        g.lead(10, &mut a);
        other.lead(10, &mut b);
        assert_ne!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
    }

    #[test]
    fn without_campaigns_every_lead_is_unattributed() {
        let g = Generator::new(Settings {
            campaigns: 0,
            leads: 500,
            ..Settings::default()
        });
        let records = leads(&g);
        assert_eq!(records.len(), 500);
        for lead in only_leads(&records) {
            assert!(lead.marks.gclid.is_none() && lead.marks.yclid.is_none());
            let utm = lead.marks.utm_campaign.as_deref();
            assert!(utm.is_none() || UNKNOWN_UTM_CAMPAIGNS.iter().any(|u| Some(u.2) == utm));
        }
        assert!(spent(&g).is_empty());
    }

    #[test]
    fn the_pipeline_has_open_stages_then_won_and_lost() {
        let stages: Vec<Stage> = (0..STAGES).map(stage).collect();
        assert_eq!(stages.len(), 7);
        assert!(stages[..5]
            .iter()
            .all(|s| s.category == StageCategory::Open));
        assert_eq!(
            (stages[5].stage_id.as_str(), stages[5].category),
            ("142", StageCategory::Won)
        );
        assert_eq!(
            (stages[6].stage_id.as_str(), stages[6].category),
            ("143", StageCategory::Lost)
        );
        assert!(stages.windows(2).all(|w| w[0].sort < w[1].sort));
        assert!(stages.iter().all(|s| s.pipeline_id == PIPELINE_ID));
    }
}
