//! Figures: what the normalised data means together. FIGURES.md defines each figure; this module
//! owns their computation.
//!
//! - [`anomaly`]: campaigns and segments worth a human look.
//! - [`attribution`]: which campaign or channel each lead is counted for, or why none.
//! - [`facts`]: the counted leads with their attribution, kept in `lead_fact` for SQL.
//! - [`budget`]: plan against actual per budget line, pacing, alerts and runway.
//! - [`named`]: reports by name, for exports and the HTTP API.
//! - [`people`]: per specialist and per team: tickets, tasks, work in progress, owned channels.
//! - [`roi`]: spend, leads, won, revenue and the ratios per campaign or channel and month.
//! - [`table`]: the one output shape of every report (terminal, CSV, JSON, exports).

pub mod anomaly;
pub mod attribution;
pub mod budget;
pub mod facts;
pub mod named;
pub mod people;
pub mod roi;
pub mod table;

use std::collections::{BTreeMap, HashSet};

use okno_connector::rust_decimal::Decimal;
use okno_connector::ClickKind;

use attribution::{Attributed, Attributor, Reason, Rule, Touch};

use crate::store::{Store, StoreError, StoredLead, UnattributedLead};

/// Leads counted for one campaign, channel, or the unattributed bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// `instance:campaign_id`, `channel <name>`, or `unattributed`.
    pub target: String,
    pub channel: Option<String>,
    /// How its leads were matched (`gclid`, `campaign_name`, `rule[0]`...); several joined by `+`.
    pub via: String,
    pub leads: u64,
    pub won: u64,
    /// Won amounts minus discounts, per currency (not converted: this report shows what was
    /// matched, the ROI report converts).
    pub revenue: BTreeMap<String, Decimal>,
}

/// A lead no rule placed, with the reason.
pub type Unmatched = UnattributedLead<Reason>;

/// Where every lead went: buckets (unattributed last) and the unattributed leads themselves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributionReport {
    pub buckets: Vec<Bucket>,
    pub unmatched: Vec<Unmatched>,
}

impl AttributionReport {
    /// Where leads went, one row per campaign, channel and the unattributed bucket; revenue per
    /// currency in a column each (this report matches, it does not convert).
    pub fn table(&self) -> table::Table {
        use table::{int, text, Column, Kind, Table};
        let currencies: std::collections::BTreeSet<&String> =
            self.buckets.iter().flat_map(|b| b.revenue.keys()).collect();
        let mut columns = vec![
            Column::new("attributed_to", Kind::Text),
            Column::new("channel", Kind::Text),
            Column::new("via", Kind::Text),
            Column::new("leads", Kind::Int),
            Column::new("won", Kind::Int),
        ];
        columns.extend(
            currencies
                .iter()
                .map(|c| Column::new(&format!("revenue_{}", c.to_lowercase()), Kind::Decimal)),
        );
        let mut t = Table::new("Attribution of every lead (last touch)", columns)
            .meta("report", "attribution")
            .meta("attribution", "last touch");
        for b in &self.buckets {
            let mut row = vec![
                text(&b.target),
                b.channel.clone(),
                Some(b.via.clone()).filter(|v| !v.is_empty()),
                int(b.leads),
                int(b.won),
            ];
            row.extend(
                currencies
                    .iter()
                    .map(|c| Some(table::money(b.revenue.get(*c).copied().unwrap_or_default()))),
            );
            t.push(row);
        }
        t
    }

    /// The unattributed leads with the reason, for fixing marks or rules.
    pub fn unmatched_table(&self) -> table::Table {
        unattributed_table(&self.unmatched)
    }
}

/// The unattributed leads created in `period` (report-zone days) with their reasons, read from
/// the lead facts rather than attributing every lead again: a night's export over a million
/// leads reads only the unattributed ones.
pub async fn unattributed(
    store: &Store,
    config: &crate::config::Config,
    period: &roi::Period,
) -> Result<table::Table, StoreError> {
    facts::refresh(store, config).await?;
    let rows = store.unattributed_leads(period.from, period.to).await?;
    Ok(unattributed_table(&rows))
}

/// The table of unattributed leads, whichever way they were found.
fn unattributed_table<R: std::fmt::Display>(rows: &[UnattributedLead<R>]) -> table::Table {
    use table::{text, Column, Kind, Table};
    let mut t = Table::new(
        "Unattributed leads",
        vec![
            Column::new("instance", Kind::Text),
            Column::new("entity", Kind::Text).wide(),
            Column::new("lead_id", Kind::Text),
            Column::new("name", Kind::Text).wide(),
            Column::new("created_at", Kind::Date),
            Column::new("utm_source", Kind::Text),
            Column::new("utm_medium", Kind::Text).wide(),
            Column::new("utm_campaign", Kind::Text),
            Column::new("reason", Kind::Text),
        ],
    )
    .meta("report", "unattributed");
    for u in rows {
        t.push(vec![
            text(&u.source),
            text(&u.entity),
            text(&u.lead_id),
            u.name.clone(),
            text(u.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            u.utm_source.clone(),
            u.utm_medium.clone(),
            u.utm_campaign.clone(),
            text(u.reason.to_string()),
        ]);
    }
    t
}

/// The rows that count as leads: every lead not deleted, and deals no lead converted into
/// (Zoho keeps a converted lead and its deal; the pair is one lead). The won state and amount
/// of a converted lead are its deal's.
pub(crate) fn counted_leads(rows: &[StoredLead]) -> Vec<(&StoredLead, &StoredLead)> {
    let live = |l: &&StoredLead| l.deleted_at.is_none();
    let deals: BTreeMap<&str, &StoredLead> = rows
        .iter()
        .filter(live)
        .filter(|l| l.entity == "deal")
        .map(|l| (l.lead_id.as_str(), l))
        .collect();
    let converted: HashSet<&str> = rows
        .iter()
        .filter(live)
        .filter(|l| l.entity == "lead")
        .filter_map(|l| l.converted_deal_id.as_deref())
        .collect();
    rows.iter()
        .filter(live)
        .filter_map(|l| match l.entity.as_str() {
            "lead" => {
                let outcome = l
                    .converted_deal_id
                    .as_deref()
                    .and_then(|d| deals.get(d).copied())
                    .unwrap_or(l);
                Some((l, outcome))
            }
            _ if !converted.contains(l.lead_id.as_str()) => Some((l, l)),
            _ => None,
        })
        .collect()
}

/// A won lead's revenue: its amount (none is 0) minus its discount, with its currency (`XXX`,
/// ISO's "no currency", where the CRM states none). `None` for leads not won.
pub(crate) fn revenue(l: &StoredLead) -> Option<(String, Decimal)> {
    if l.stage_category != "won" {
        return None;
    }
    let parse = |v: &Option<String>| v.as_deref().and_then(|d| d.parse::<Decimal>().ok());
    let amount = parse(&l.amount).unwrap_or_default();
    let discount = parse(&l.discount).unwrap_or_default();
    Some((
        l.currency.clone().unwrap_or_else(|| "XXX".into()),
        amount - discount,
    ))
}

/// A lead's marks as attribution reads them.
pub(crate) fn touch(lead: &StoredLead) -> Touch<'_> {
    let [us, um, uc, uco, ut] = &lead.utm;
    let [g, y, f] = &lead.click_ids;
    Touch {
        utm_source: us.as_deref(),
        utm_medium: um.as_deref(),
        utm_campaign: uc.as_deref(),
        utm_content: uco.as_deref(),
        utm_term: ut.as_deref(),
        gclid: g.as_deref(),
        yclid: y.as_deref(),
        fbclid: f.as_deref(),
    }
}

/// An attributor over every campaign and resolved click id in the store.
pub(crate) async fn attributor(store: &Store, rules: &[Rule]) -> Result<Attributor, StoreError> {
    let clicks = store
        .resolved_clicks()
        .await?
        .into_iter()
        .filter_map(|(kind, id, key)| {
            let kind = match kind.as_str() {
                "gclid" => ClickKind::Gclid,
                "yclid" => ClickKind::Yclid,
                "fbclid" => ClickKind::Fbclid,
                "vk" => ClickKind::Vk,
                _ => return None,
            };
            Some((kind, id, key))
        });
    Ok(Attributor::new(
        store.known_campaigns().await?,
        clicks,
        rules.to_vec(),
    ))
}

/// Attributes every lead in the store by `rules` and sums the outcome per target.
pub async fn attribution_report(
    store: &Store,
    rules: &[Rule],
) -> Result<AttributionReport, StoreError> {
    let attributor = attributor(store, rules).await?;
    let mut buckets: BTreeMap<(u8, String), Bucket> = BTreeMap::new();
    let mut unmatched = Vec::new();
    for source in store.lead_sources().await? {
        let rows = store.leads(&source).await?;
        for (lead, outcome) in counted_leads(&rows) {
            let [us, um, uc, _, _] = &lead.utm;
            let (order, target, channel, via) = match attributor.attribute(&touch(lead)) {
                Attributed::Campaign { key, channel, via } => {
                    (0, key.to_string(), Some(channel), via.label())
                }
                Attributed::Channel { channel, via } => {
                    (1, format!("channel {channel}"), Some(channel), via.label())
                }
                Attributed::Unattributed(reason) => {
                    unmatched.push(Unmatched {
                        source: source.clone(),
                        entity: lead.entity.clone(),
                        lead_id: lead.lead_id.clone(),
                        name: lead.name.clone(),
                        created_at: lead.created_at,
                        utm_source: us.clone(),
                        utm_medium: um.clone(),
                        utm_campaign: uc.clone(),
                        reason,
                    });
                    (2, "unattributed".to_string(), None, String::new())
                }
            };
            let b = buckets
                .entry((order, target.clone()))
                .or_insert_with(|| Bucket {
                    target,
                    channel,
                    via: String::new(),
                    leads: 0,
                    won: 0,
                    revenue: BTreeMap::new(),
                });
            if !via.is_empty() && !b.via.split('+').any(|v| v == via) {
                let mut all: Vec<&str> = b.via.split('+').filter(|v| !v.is_empty()).collect();
                all.push(&via);
                all.sort_unstable();
                b.via = all.join("+");
            }
            b.leads += 1;
            if let Some((currency, amount)) = revenue(outcome) {
                b.won += 1;
                *b.revenue.entry(currency).or_default() += amount;
            }
        }
    }
    // The unattributed bucket is always there, empty or not: nothing is dropped silently.
    buckets
        .entry((2, "unattributed".into()))
        .or_insert_with(|| Bucket {
            target: "unattributed".into(),
            channel: None,
            via: String::new(),
            leads: 0,
            won: 0,
            revenue: BTreeMap::new(),
        });
    Ok(AttributionReport {
        buckets: buckets.into_values().collect(),
        unmatched,
    })
}
