//! Configuration: each class of mistake gives one clear message naming the key; every problem
//! is reported at once; secrets never reach Debug output, errors or logs.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use okno::config::{load_with_env, ConfigError, Loaded};

const CANARY: &str = "canary-7f3a9c-do-not-log";

fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn env() -> Vec<(String, String)> {
    vec![("ZD_TOKEN".into(), CANARY.into())]
}

fn load(text: &str) -> Result<Loaded, ConfigError> {
    let (_dir, path) = write(text);
    load_with_env(&path, &env())
}

fn zendesk(extra: &str, settings: &str) -> String {
    format!(
        "[[connector]]\nid = \"zd\"\nkind = \"zendesk\"\n{extra}\n[connector.settings]\n{settings}\n"
    )
}

const GOOD_SETTINGS: &str =
    "subdomain = \"acme\"\nemail = \"a@acme.example\"\napi_token = \"${ZD_TOKEN}\"";

/// Exactly one issue, and it names this key.
fn single_issue(result: Result<Loaded, ConfigError>, key: &str) -> okno::config::ConfigIssue {
    let err = result.expect_err("the config must be rejected");
    assert_eq!(err.issues.len(), 1, "{err}");
    let issue = err.issues.into_iter().next().unwrap();
    assert_eq!(issue.key, key, "{issue}");
    assert!(
        issue.file.ends_with("okno.toml"),
        "the file is named: {issue}"
    );
    issue
}

#[test]
fn a_good_config_loads() {
    let loaded = load(&zendesk("schedule = \"0 * * * *\"", GOOD_SETTINGS)).unwrap();
    let inst = &loaded.config.connectors[0];
    assert_eq!(inst.id, "zd");
    // ticket_metrics is opt-in: it re-reads every ticket through the account-wide budget.
    assert_eq!(inst.streams, ["tickets", "users", "groups"]);
    assert_eq!(loaded.config.store.url, okno::config::DEFAULT_STORE_URL);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn an_unknown_key_is_named_with_a_suggestion() {
    let issue = single_issue(
        load(&zendesk("shedule = \"0 * * * *\"", GOOD_SETTINGS)),
        "connector[0].shedule",
    );
    assert_eq!(issue.message, "unknown key");
    assert_eq!(issue.hint.as_deref(), Some("did you mean `schedule`?"));

    let issue = single_issue(load("[stor]\nurl = \"sqlite://x.db\"\n"), "stor");
    assert_eq!(issue.hint.as_deref(), Some("did you mean `store`?"));

    let settings = format!("{GOOD_SETTINGS}\nsubdomian = \"acme\"");
    single_issue(
        load(&zendesk("", &settings)),
        "connector[0].settings.subdomian",
    );
}

#[test]
fn a_missing_secret_variable_names_the_key_and_the_variable() {
    let settings = GOOD_SETTINGS.replace("ZD_TOKEN", "ZENDESK_TOKEN_UNSET");
    let issue = single_issue(
        load(&zendesk("", &settings)),
        "connector[0].settings.api_token",
    );
    assert!(issue.message.contains("ZENDESK_TOKEN_UNSET"), "{issue}");
}

#[test]
fn a_bad_cron_expression_is_named() {
    let issue = single_issue(
        load(&zendesk("schedule = \"every hour\"", GOOD_SETTINGS)),
        "connector[0].schedule",
    );
    assert!(issue.hint.unwrap().contains("*/15 * * * *"));
}

#[test]
fn a_bad_url_is_named() {
    single_issue(
        load(&zendesk("base_url = \"acme.zendesk\"", GOOD_SETTINGS)),
        "connector[0].base_url",
    );
    single_issue(load("[store]\nurl = \"mysql://db/okno\"\n"), "store.url");
}

#[test]
fn an_unknown_kind_is_named_with_a_suggestion() {
    let text = "[[connector]]\nid = \"zd\"\nkind = \"zendsk\"\n";
    let issue = single_issue(load(text), "connector[0].kind");
    assert!(issue.hint.unwrap().starts_with("did you mean `zendesk`?"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = format!(
        "[stor]\nurl = \"x\"\n\n{}\n{}\n{}\n[[connector]]\nid = \"d\"\nkind = \"nope\"\n",
        zendesk("shedule = \"1\"", GOOD_SETTINGS).replace("id = \"zd\"", "id = \"a\""),
        zendesk("schedule = \"bad\"", GOOD_SETTINGS).replace("id = \"zd\"", "id = \"b\""),
        zendesk("", "subdomain = \"acme\"").replace("id = \"zd\"", "id = \"c\""),
    );
    let err = load(&text).unwrap_err();
    let keys: Vec<&str> = err.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "stor",
            "connector[0].shedule",
            "connector[1].schedule",
            "connector[2].settings.api_token",
            "connector[3].kind"
        ],
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("5 problems in the configuration:"),
        "{text}"
    );
}

#[test]
fn environment_overrides_win_over_the_file() {
    let (_dir, path) = write("[store]\nurl = \"sqlite://file.db\"\n");
    let mut env = env();
    env.push(("OKNO__STORE__URL".into(), "postgres://okno@db/okno".into()));
    let loaded = load_with_env(&path, &env).unwrap();
    assert_eq!(loaded.config.store.url, "postgres://okno@db/okno");
}

#[test]
fn a_secret_can_come_from_a_file_and_a_literal_one_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("token");
    std::fs::write(&secret, format!("{CANARY}\n")).unwrap();
    let settings = format!(
        "subdomain = \"acme\"\nemail = \"a@acme.example\"\napi_token_file = \"{}\"",
        secret.display()
    );
    let loaded = load(&zendesk("", &settings)).unwrap();
    assert!(loaded.warnings.is_empty());

    let literal = load(&zendesk(
        "",
        "subdomain = \"acme\"\nemail = \"a@b.c\"\napi_token = \"plain\"",
    ))
    .unwrap();
    assert_eq!(literal.warnings.len(), 1);
    assert_eq!(literal.warnings[0].key, "connector[0].settings.api_token");
    assert!(
        !literal.warnings[0].to_string().contains("plain"),
        "the value is never echoed"
    );

    let missing = format!(
        "subdomain = \"acme\"\nemail = \"a@b.c\"\napi_token_file = \"{}/nope\"",
        dir.path().display()
    );
    single_issue(
        load(&zendesk("", &missing)),
        "connector[0].settings.api_token_file",
    );
}

#[test]
fn the_canary_secret_never_appears_in_debug_output_or_errors() {
    let loaded = load(&zendesk("", GOOD_SETTINGS)).unwrap();
    let debug = format!("{:?}", loaded.config);
    assert!(debug.contains("zd"), "the Debug output is real: {debug}");
    assert!(!debug.contains(CANARY), "{debug}");

    // A config that fails elsewhere still must not echo the resolved secret.
    let err = load(&zendesk("schedule = \"bad\"", GOOD_SETTINGS)).unwrap_err();
    assert!(!err.to_string().contains(CANARY));
    assert!(!format!("{err:?}").contains(CANARY));
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn the_canary_secret_never_appears_in_logs_even_at_trace_level() {
    use base64::Engine;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(401).set_body_string("{\"error\":\"Couldn't authenticate you\"}"),
        )
        .mount(&server)
        .await;
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let settings = GOOD_SETTINGS.replace("subdomain = \"acme\"\n", "");
    let loaded = load(&zendesk(
        &format!("base_url = \"{}\"", server.uri()),
        &settings,
    ))
    .unwrap();
    tracing::debug!(config = ?loaded.config, "loaded");
    let (store, _dir) = common::sqlite_store().await;
    let inst = &loaded.config.connectors[0];
    let summary = okno::sync::sync_stream(
        &store,
        inst,
        "tickets",
        okno::sync::RunOptions {
            full: false,
            trigger: okno::sync::Trigger::Manual,
        },
        &tokio_util::sync::CancellationToken::new(),
        &okno::sync::QuietProgress,
    )
    .await
    .unwrap();
    let error = summary.error.unwrap();
    assert!(error.starts_with("[auth]"), "{error}");

    // The request really carried the secret...
    let sent = &server.received_requests().await.unwrap()[0];
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("a@acme.example/token:{CANARY}"));
    assert_eq!(
        sent.headers.get("authorization").unwrap().to_str().unwrap(),
        format!("Basic {basic}")
    );
    // ...and nothing written to the log, the run's error or the store's history shows it.
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("sync failed"), "logs were captured: {text}");
    for needle in [CANARY, basic.as_str()] {
        assert!(!text.contains(needle), "secret in logs");
        assert!(!error.contains(needle), "secret in the run's error");
    }
    let runs = store.latest_runs(Some("zd")).await.unwrap();
    assert!(!format!("{runs:?}").contains(CANARY));
}

#[test]
fn the_store_password_never_appears_in_debug_output_or_errors() {
    let (_dir, path) = write("[store]\nurl = \"postgres://okno:${PG_PASSWORD}@db:5432/okno\"\n");
    let env = vec![("PG_PASSWORD".to_string(), CANARY.to_string())];
    let loaded = load_with_env(&path, &env).unwrap();
    assert_eq!(
        loaded.config.store.url,
        format!("postgres://okno:{CANARY}@db:5432/okno")
    );
    let debug = format!("{:?}", loaded.config);
    assert!(
        debug.contains("postgres://okno:***@db:5432/okno"),
        "{debug}"
    );
    assert!(!debug.contains(CANARY));

    // An unparsable URL (a bad port) is reported without its password.
    let (_dir, path) = write("[store]\nurl = \"postgres://okno:${PG_PASSWORD}@db:54x2/okno\"\n");
    let err = load_with_env(&path, &env).unwrap_err();
    assert_eq!(err.issues[0].key, "store.url");
    assert!(!err.to_string().contains(CANARY), "{err}");
}

#[test]
fn connector_blocks_cannot_be_replaced_from_the_environment() {
    let (_dir, path) = write(&zendesk("", GOOD_SETTINGS));
    let mut env = env();
    env.push(("OKNO__CONNECTOR__ID".into(), "x".into()));
    let err = load_with_env(&path, &env).unwrap_err();
    assert_eq!(err.issues[0].key, "connector", "{err}");
}

#[test]
fn a_secret_given_twice_or_empty_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("token");
    std::fs::write(&secret, "from-file\n").unwrap();
    let both = format!("{GOOD_SETTINGS}\napi_token_file = \"{}\"", secret.display());
    single_issue(
        load(&zendesk("", &both)),
        "connector[0].settings.api_token_file",
    );

    let (_dir, path) = write(&zendesk("", GOOD_SETTINGS));
    let empty = vec![("ZD_TOKEN".to_string(), String::new())];
    let err = load_with_env(&path, &empty).unwrap_err();
    assert_eq!(err.issues.len(), 1, "{err}");
    assert_eq!(err.issues[0].key, "connector[0].settings.api_token");
}

#[test]
fn settings_are_checked_even_when_other_keys_of_the_block_are_wrong() {
    let err = load(&zendesk(
        "schedule = \"bad\"",
        "email = \"a@b.c\"\napi_token = \"${ZD_TOKEN}\"",
    ))
    .unwrap_err();
    let keys: Vec<&str> = err.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        ["connector[0].schedule", "connector[0].settings.subdomain"],
        "{err}"
    );
}

#[test]
fn fixed_exchange_rates_are_exact_and_each_mistake_is_named() {
    let good = "[[fx]]\ncurrency = \"USD\"\nrate = \"81.4967\"\nfrom = \"2026-11-01\"\nto = \"2026-11-03\"\n";
    let loaded = load(good).unwrap();
    let fx = &loaded.config.fx[0];
    assert_eq!(fx.base.as_str(), "RUB", "the base defaults to roubles");
    assert_eq!(fx.rate.to_string(), "81.4967");
    assert_eq!(
        fx.records().count(),
        3,
        "one rate per day, both ends included"
    );

    let issue = single_issue(load("[[fx]]\ncurrency = \"USD\"\nrate = 81.4967\nfrom = \"2026-11-01\"\nto = \"2026-11-03\"\n"), "fx[0].rate");
    assert!(issue.hint.unwrap().contains("quoted"));
    single_issue(load("[[fx]]\ncurrency = \"USD\"\nrate = \"81\"\nfrom = \"2026-11-05\"\nto = \"2026-11-03\"\n"), "fx[0].to");
    single_issue(load("[[fx]]\ncurrency = \"US\"\nrate = \"81\"\nfrom = \"2026-11-01\"\nto = \"2026-11-03\"\n"), "fx[0].currency");
    single_issue(load("[[fx]]\ncurrency = \"USD\"\nrate = \"81\"\nfrom = \"1.11.2026\"\nto = \"2026-11-03\"\n"), "fx[0].from");
    single_issue(load("[[fx]]\ncurrency = \"USD\"\nrate = \"-1\"\nfrom = \"2026-11-01\"\nto = \"2026-11-03\"\n"), "fx[0].rate");
    single_issue(load("[[fx]]\ncurrency = \"USD\"\nrate = \"81\"\nform = \"2026-11-01\"\nfrom = \"2026-11-01\"\nto = \"2026-11-03\"\n"), "fx[0].form");
}

#[test]
fn attribution_rules_load_in_order_and_each_mistake_is_named() {
    let rules = "[[attribution.rule]]\nfield = \"utm_source\"\nmatch = \"regex\"\nvalue = \"^(google|yandex)$\"\nchannel = \"organic\"\n\
                 [[attribution.rule]]\nmatch = \"prefix\"\nvalue = \"brand_\"\ncampaign = \"zd:123\"\n";
    let loaded = load(&format!("{}{rules}", zendesk("", GOOD_SETTINGS))).unwrap();
    assert_eq!(loaded.config.attribution.len(), 2);
    assert_eq!(
        loaded.config.attribution[1].field.name(),
        "utm_campaign",
        "the default field"
    );

    let one = |rule: &str| {
        load(&format!(
            "{}[[attribution.rule]]\n{rule}",
            zendesk("", GOOD_SETTINGS)
        ))
    };
    single_issue(
        one("field = \"utm_sorce\"\nvalue = \"x\"\nchannel = \"seo\"\n"),
        "attribution.rule[0].field",
    );
    single_issue(
        one("match = \"glob\"\nvalue = \"x\"\nchannel = \"seo\"\n"),
        "attribution.rule[0].match",
    );
    single_issue(
        one("match = \"regex\"\nvalue = \"(\"\nchannel = \"seo\"\n"),
        "attribution.rule[0].value",
    );
    single_issue(
        one("value = \"x\"\ncampaign = \"nosuch:1\"\n"),
        "attribution.rule[0].campaign",
    );
    single_issue(
        one("value = \"x\"\ncampaign = \"zd:1\"\nchannel = \"seo\"\n"),
        "attribution.rule[0]",
    );
    // A misspelt key is named, and the rule it leaves without a target too.
    let err = one("value = \"x\"\nchanel = \"seo\"\n").unwrap_err();
    let keys: Vec<&str> = err.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["attribution.rule[0].chanel", "attribution.rule[0]"]);
}

#[test]
fn the_report_section_states_currency_zone_and_margins_exactly() {
    let loaded = load("[report]\ncurrency = \"usd\"\ntimezone = \"Asia/Almaty\"\nspend_includes_vat = true\ngross_margin = \"0.35\"\n[report.product_margin]\n\"SMM course\" = \"0.72\"\n").unwrap();
    let r = &loaded.config.report;
    assert_eq!(
        (r.currency.as_str(), r.timezone.name()),
        ("USD", "Asia/Almaty")
    );
    assert!(r.spend_includes_vat);
    assert_eq!(r.gross_margin.unwrap().to_string(), "0.35");
    assert_eq!(r.product_margin["SMM course"].to_string(), "0.72");
    // Defaults: roubles, Moscow, spend without VAT, no margin (ROMI is then n/a).
    let d = load("").unwrap().config.report;
    assert_eq!(
        (
            d.currency.as_str(),
            d.timezone.name(),
            d.spend_includes_vat,
            d.gross_margin
        ),
        ("RUB", "Europe/Moscow", false, None)
    );

    single_issue(
        load("[report]\ncurrency = \"roubles\"\n"),
        "report.currency",
    );
    single_issue(load("[report]\ntimezone = \"Moscow\"\n"), "report.timezone");
    single_issue(
        load("[report]\ngross_margin = 0.35\n"),
        "report.gross_margin",
    );
    single_issue(
        load("[report]\ngross_margin = \"1.5\"\n"),
        "report.gross_margin",
    );
    single_issue(
        load("[report.product_margin]\n\"SMM\" = \"-0.1\"\n"),
        "report.product_margin.SMM",
    );
    single_issue(load("[report]\ncurency = \"RUB\"\n"), "report.curency");
}

fn load_with_budgets(budgets: &str) -> Result<Loaded, ConfigError> {
    let (dir, path) = write(&zendesk("", GOOD_SETTINGS));
    std::fs::write(dir.path().join("budgets.toml"), budgets).unwrap();
    load_with_env(&path, &env())
}

#[test]
fn budget_lines_are_exact_and_each_mistake_names_its_line_and_key() {
    let good = "[budget]\noverspend_alert_pct = 15\n\
                [[line]]\nid = \"nov-direct\"\nperiod = \"2026-11\"\nchannel = \"yandex_direct\"\namount = \"450000.50\"\ncurrency = \"RUB\"\ntarget_cpl = \"1500\"\n\
                [[line]]\nid = \"seats\"\nfrom = \"2026-11-01\"\nto = \"2026-11-15\"\nkind = \"overhead\"\namount = \"38000\"\ncurrency = \"RUB\"\nfunding = \"client\"\n\
                [[line]]\nid = \"brand\"\nperiod = \"2026-02\"\ncampaign = \"zd:123\"\namount = \"10\"\ncurrency = \"usd\"\n";
    let b = load_with_budgets(good).unwrap().config.budgets;
    assert_eq!(b.overspend_alert_pct.to_string(), "15");
    assert_eq!(b.lines.len(), 3);
    assert_eq!(b.lines[0].amount.to_string(), "450000.50");
    assert_eq!(
        (b.lines[0].from.to_string(), b.lines[0].to.to_string()),
        ("2026-11-01".into(), "2026-11-30".into())
    );
    assert_eq!(
        b.lines[1].scope,
        okno::config::budgets::Scope::Everything,
        "overhead needs no channel"
    );
    assert_eq!(b.lines[1].funding.as_str(), "client");
    assert_eq!(b.lines[2].to.to_string(), "2026-02-28");
    assert_eq!(b.lines[2].currency.as_str(), "USD");

    let one = |line: &str| {
        let err = load_with_budgets(&format!("[[line]]\n{line}")).unwrap_err();
        assert_eq!(err.issues.len(), 1, "{err}");
        assert!(err.issues[0].file.ends_with("budgets.toml"), "{err}");
        err.issues[0].key.clone()
    };
    let base = "id = \"x\"\nperiod = \"2026-11\"\nchannel = \"seo\"\ncurrency = \"RUB\"\n";
    assert_eq!(one(&format!("{base}amount = 100\n")), "line[0].amount");
    assert_eq!(one(&format!("{base}amount = \"-5\"\n")), "line[0].amount");
    assert_eq!(
        one(&format!("{base}amount = \"5\"\nfunding = \"grant\"\n")),
        "line[0].funding"
    );
    assert_eq!(
        one(&format!("{base}amount = \"5\"\nkind = \"capex\"\n")),
        "line[0].kind"
    );
    assert_eq!(
        one(
            "id = \"x\"\nperiod = \"Nov\"\nchannel = \"seo\"\ncurrency = \"RUB\"\namount = \"5\"\n"
        ),
        "line[0].period"
    );
    assert_eq!(one("id = \"x\"\nfrom = \"2026-11-05\"\nto = \"2026-11-01\"\nchannel = \"seo\"\ncurrency = \"RUB\"\namount = \"5\"\n"), "line[0].to");
    assert_eq!(
        one("id = \"x\"\nperiod = \"2026-11\"\ncurrency = \"RUB\"\namount = \"5\"\n"),
        "line[0]"
    );
    assert_eq!(one("id = \"x\"\nperiod = \"2026-11\"\ncampaign = \"nosuch:1\"\ncurrency = \"RUB\"\namount = \"5\"\n"), "line[0].campaign");
    let dup = load_with_budgets(&format!(
        "[[line]]\n{base}amount = \"1\"\n[[line]]\n{base}amount = \"2\"\n"
    ))
    .unwrap_err();
    assert_eq!(dup.issues[0].key, "line[1].id");
    let typo =
        load_with_budgets(&format!("[[line]]\n{base}amount = \"1\"\nnotes = \"x\"\n")).unwrap_err();
    assert!(typo.to_string().contains("unknown field `notes`"), "{typo}");
}
