//! Serde mirrors of the Graph API answers the connector reads, tolerant of unknown fields.
//! Rows are kept as borrowed raw JSON so `raw` is exactly what Meta sent.

use serde::Deserialize;
use serde_json::value::RawValue;

/// A list edge: `{"data": [...], "paging": {"cursors": {"before", "after"}, "next"}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListPage<'a> {
    #[serde(borrow, default)]
    pub(crate) data: Vec<&'a RawValue>,
    #[serde(default)]
    pub(crate) paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Paging {
    #[serde(default)]
    pub(crate) cursors: Option<Cursors>,
    /// Present while more pages follow; its absence is the end.
    #[serde(default)]
    pub(crate) next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Cursors {
    #[serde(default)]
    pub(crate) after: Option<String>,
}

impl ListPage<'_> {
    /// The `after` cursor of the next page, or `None` on the last page.
    pub(crate) fn next_after(&self) -> Option<String> {
        let paging = self.paging.as_ref()?;
        paging.next.as_ref()?;
        paging
            .cursors
            .as_ref()?
            .after
            .clone()
            .filter(|a| !a.is_empty())
    }

    /// Whether Meta says more pages follow (`paging.next`).
    pub(crate) fn has_next(&self) -> bool {
        self.paging.as_ref().is_some_and(|p| p.next.is_some())
    }
}

/// `GET /{v}/act_{id}?fields=name,currency,timezone_name`.
#[derive(Debug, Deserialize)]
pub(crate) struct Account {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    pub(crate) currency: String,
    pub(crate) timezone_name: String,
}

/// One element of `GET /{v}/act_{id}/campaigns`.
#[derive(Debug, Deserialize)]
pub(crate) struct Campaign {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) effective_status: Option<String>,
}

/// One insights row at `level=campaign&time_increment=1`. Numbers come as JSON strings; they
/// are kept raw so the text is parsed exactly whichever way they come.
#[derive(Debug, Deserialize)]
pub(crate) struct InsightRow<'a> {
    pub(crate) campaign_id: String,
    #[serde(borrow, default)]
    pub(crate) spend: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(crate) impressions: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(crate) clicks: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(crate) actions: Option<Vec<Action<'a>>>,
    pub(crate) date_start: String,
    pub(crate) date_stop: String,
}

/// An `AdsActionStats` element: `{"action_type": "lead", "value": "3"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Action<'a> {
    pub(crate) action_type: String,
    #[serde(borrow)]
    pub(crate) value: &'a RawValue,
}

/// `POST /{v}/act_{id}/insights` answers `{"report_run_id": "..."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ReportRunCreated {
    pub(crate) report_run_id: String,
}

/// `GET /{v}/{report_run_id}`: the job's state.
#[derive(Debug, Deserialize)]
pub(crate) struct ReportRun {
    #[serde(default)]
    pub(crate) async_status: Option<String>,
    #[serde(default)]
    pub(crate) async_percent_completion: Option<serde_json::Value>,
}
