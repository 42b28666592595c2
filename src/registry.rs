//! Every connector kind okno knows, one line each. Adding a vendor adds a line here, its crate
//! under `connectors/`, and its section in `config/okno.example.toml` (a test checks all three).

use okno_connector::ConnectorKind;

pub const KINDS: &[&ConnectorKind] = &[
    &okno_amocrm::KIND,
    &okno_cbr::KIND,
    &okno_demo::KIND,
    &okno_google_ads::KIND,
    &okno_jira::KIND,
    &okno_meta_ads::KIND,
    &okno_vk_ads::KIND,
    &okno_yandex_direct::KIND,
    &okno_zendesk::KIND,
    &okno_trello::KIND,
    &okno_zoho_crm::KIND,
];

/// The registry entry for `kind`.
pub fn find(kind: &str) -> Option<&'static ConnectorKind> {
    KINDS.iter().copied().find(|k| k.kind == kind)
}

/// All kind names, for hints.
pub fn names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.kind).collect()
}
