//! The binary as a user meets it: the registry is complete, the shipped configs validate, and
//! the commands answer.

use std::process::Command;

fn okno(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_okno"))
        .args(args)
        .env("ZENDESK_API_TOKEN", "from-env")
        .env("ZENDESK_WEBHOOK_SECRET", "from-env-too")
        .env("ZOHO_CLIENT_SECRET", "zoho-from-env")
        .env("ZOHO_WEBHOOK_TOKEN", "zoho-hook-token")
        .env("AMOCRM_CLIENT_SECRET", "amo-from-env")
        .env("AMOCRM_WEBHOOK_TOKEN", "amo-hook-token")
        .env("TRELLO_TOKEN", "trello-from-env")
        .env("TRELLO_APP_SECRET", "trello-secret")
        .env("JIRA_API_TOKEN", "jira-from-env")
        .env("JIRA_WEBHOOK_SECRET", "jira-secret")
        .env("GOOGLE_ADS_DEVELOPER_TOKEN", "google-dev-token")
        .env("GOOGLE_ADS_CLIENT_SECRET", "google-client-secret")
        .env("GOOGLE_ADS_REFRESH_TOKEN", "google-refresh")
        .env("YANDEX_DIRECT_TOKEN", "yandex-token")
        .env("META_ADS_ACCESS_TOKEN", "meta-token")
        .env("META_ADS_APP_SECRET", "meta-app-secret")
        .env("VK_ADS_CLIENT_SECRET", "vk-secret")
        .env_remove("OKNO_CONFIG")
        .output()
        .expect("run okno")
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn every_connector_folder_is_registered_and_in_the_example_config() {
    let example = std::fs::read_to_string("config/okno.example.toml").unwrap();
    let mut folders: Vec<String> = std::fs::read_dir("connectors")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "sdk")
        .collect();
    folders.sort();
    let mut kinds: Vec<String> = okno::registry::KINDS
        .iter()
        .map(|k| k.kind.replace('_', "-"))
        .collect();
    kinds.sort();
    assert_eq!(folders, kinds, "connectors/ and src/registry.rs disagree");
    for kind in okno::registry::KINDS {
        assert!(
            example.contains(&format!("kind = \"{}\"", kind.kind)),
            "config/okno.example.toml has no block for {}",
            kind.kind
        );
        for setting in kind.settings {
            assert!(
                example.contains(&format!("{} =", setting.name)),
                "config/okno.example.toml does not show {}.{}",
                kind.kind,
                setting.name
            );
        }
        for bucket in kind.rate_buckets {
            assert!(example.contains(&format!("{} =", bucket.name)));
        }
    }
}

#[test]
fn the_shipped_configs_validate() {
    for file in ["config/okno.example.toml", "config/demo/okno.toml"] {
        let out = okno(&["--config", file, "validate"]);
        assert!(out.status.success(), "{file}: {}", text(&out));
        assert!(text(&out).contains(": ok ("), "{}", text(&out));
    }
}

#[test]
fn validate_lists_every_problem_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[connector]]\nid = \"a\"\nkind = \"zendsk\"\n[[connector]]\nid = \"b\"\nkind = \"demo\"\nschedule = \"soon\"\n",
    )
    .unwrap();
    let out = okno(&["--config", path.to_str().unwrap(), "validate"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("2 problems"), "{t}");
    assert!(
        t.contains("connector[0].kind: unknown kind \"zendsk\""),
        "{t}"
    );
    assert!(t.contains("connector[1].schedule"), "{t}");
}

#[test]
fn connectors_lists_streams_settings_and_budgets() {
    let out = okno(&["connectors", "zendesk"]);
    assert!(out.status.success());
    let t = text(&out);
    for needle in [
        "tickets",
        "ticket_metrics",
        "api_token",
        "secret",
        "incremental",
        "10/min",
    ] {
        assert!(t.contains(needle), "{needle} missing from:\n{t}");
    }
    assert!(!okno(&["connectors", "nope"]).status.success());
}

#[test]
fn demo_run_once_then_status_shows_every_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.toml");
    let db = dir.path().join("okno.db");
    std::fs::write(
        &path,
        format!(
            // Yearly, so the second --once below cannot straddle a scheduled time.
            "[store]\nurl = \"sqlite://{}\"\n[[connector]]\nid = \"demo\"\nkind = \"demo\"\nschedule = \"0 0 1 1 *\"\n[connector.settings]\ntickets = 700\npage_size = 300\n",
            db.display()
        ),
    )
    .unwrap();
    let config = path.to_str().unwrap();
    let out = okno(&["--config", config, "run", "--once"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("demo/tickets: 1400 records in 3 pages"), "{t}");
    assert!(t.contains(&format!("data is in {}", db.display())), "{t}");
    assert!(t.contains("ticket                 700 rows"), "{t}");

    // Nothing is due right after: a second --once runs nothing.
    let again = okno(&["--config", config, "run", "--once"]);
    assert!(text(&again).contains("nothing was due"), "{}", text(&again));

    let status = okno(&["--config", config, "status", "--format", "json"]);
    assert!(status.status.success());
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let rows = report["streams"].as_array().unwrap();
    assert_eq!(report["webhook_inbox"], serde_json::json!([]));
    assert_eq!(
        rows.len(),
        8,
        "groups, users, tickets, campaigns, spend, pipelines, leads, tasks"
    );
    let tasks = rows.iter().find(|r| r["stream"] == "tasks").unwrap();
    assert_eq!(
        (tasks["result"].as_str(), tasks["records"].as_i64()),
        (Some("succeeded"), Some(1500))
    );
    let tickets = rows.iter().find(|r| r["stream"] == "tickets").unwrap();
    assert_eq!(tickets["result"], "succeeded");
    assert_eq!(tickets["records"], 1400);
}

#[test]
fn a_second_daemon_on_one_sqlite_file_is_refused_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.toml");
    let db = dir.path().join("okno.db");
    std::fs::write(
        &path,
        format!(
            "[store]\nurl = \"sqlite://{}\"\n[[connector]]\nid = \"demo\"\nkind = \"demo\"\nschedule = \"0 0 1 1 *\"\n[connector.settings]\ntickets = 10\n",
            db.display()
        ),
    )
    .unwrap();
    let config = path.to_str().unwrap();
    let mut first = Command::new(env!("CARGO_BIN_EXE_okno"))
        .args(["--config", config, "run"])
        .env_remove("OKNO_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.path().join("okno.db.daemon.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.starts_with("pid ")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the first daemon never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let second = okno(&["--config", config, "run"]);
    // One-off commands still work beside a daemon.
    let status = okno(&["--config", config, "status"]);
    let _ = first.kill();
    let _ = first.wait();
    assert!(status.status.success(), "{}", text(&status));
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let t = text(&second);
    assert!(t.contains("another okno daemon"), "{t}");
    assert!(t.contains(&format!("pid {}", first.id())), "{t}");
    assert!(t.contains("use PostgreSQL"), "{t}");
}

#[test]
fn import_spend_and_rates_from_csv_then_status_shows_the_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.toml");
    let db = dir.path().join("okno.db");
    std::fs::write(
        &path,
        format!("[store]\nurl = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    let config = path.to_str().unwrap();
    let spend = dir.path().join("spend.csv");
    std::fs::write(
        &spend,
        "date;channel;account;campaign_id;campaign_name;cost;currency;clicks\n\
         2026-11-01;influencers;bloggers;anna;Блогер Анна;12 500,50;RUB;340\n\
         2026-11-02;influencers;bloggers;anna;Блогер Анна;99,50;RUB;12\n",
    )
    .unwrap();
    let args = [
        "--config",
        config,
        "import",
        "spend",
        spend.to_str().unwrap(),
        "--time-zone",
        "Europe/Moscow",
    ];
    let out = okno(&args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("import: 2 spend rows of 1 campaign(s) in 1 account(s), 2026-11-01 to 2026-11-02; 4 row(s) inserted or changed"), "{}", text(&out));
    let again = okno(&args);
    assert!(
        text(&again).contains("; 0 row(s) inserted or changed"),
        "re-import is idempotent: {}",
        text(&again)
    );

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "date,channel,campaign_id,cost,currency\n2026-11-03,seo,x,abc,RUB\n",
    )
    .unwrap();
    let out = okno(&["--config", config, "import", "spend", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("line 2: cost \"abc\" is not a number"),
        "{}",
        text(&out)
    );

    let fx = dir.path().join("fx.csv");
    std::fs::write(&fx, "date,currency,rate\n2026-11-01,USD,81.4967\n").unwrap();
    let out = okno(&["--config", config, "import", "fx", fx.to_str().unwrap()]);
    assert!(
        text(&out).contains("import: 1 exchange rates; 1 row(s) inserted or changed"),
        "{}",
        text(&out)
    );

    let status = okno(&["--config", config, "status", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let account = &report["ad_accounts"][0];
    assert_eq!(account["account"], "bloggers");
    assert_eq!(account["currency"], "RUB");
    assert_eq!(account["time_zone"], "Europe/Moscow");
}

#[test]
fn the_example_people_and_budgets_files_validate_beside_the_example_config() {
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("config/okno.example.toml", "okno.toml"),
        ("config/people.example.toml", "people.toml"),
        ("config/budgets.example.toml", "budgets.toml"),
    ] {
        std::fs::copy(from, dir.path().join(to)).unwrap();
    }
    let config = dir.path().join("okno.toml");
    let out = okno(&["--config", config.to_str().unwrap(), "validate"]);
    assert!(out.status.success(), "{}", text(&out));

    // A mistake in budgets.toml is named with its file, line and key.
    let budgets = dir.path().join("budgets.toml");
    let broken = std::fs::read_to_string(&budgets)
        .unwrap()
        .replace("amount = \"1200.00\"", "amount = 1200.00");
    std::fs::write(&budgets, broken).unwrap();
    let out = okno(&["--config", config.to_str().unwrap(), "validate"]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("budgets.toml: line[1].amount: 1200.0 must be written as a string"),
        "{t}"
    );
}

#[test]
fn export_by_hand_writes_a_night_and_status_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.toml");
    let out = dir.path().join("exports");
    std::fs::write(
        &path,
        format!(
            "[store]\nurl = \"sqlite://{}\"\n[[connector]]\nid = \"demo\"\nkind = \"demo\"\n\
             schedule = \"0 0 1 1 *\"\n[connector.settings]\ntickets = 50\nleads = 300\ntasks = 20\n\
             [[export]]\nname = \"fin\"\nreports = [\"roi_by_channel\", \"people\"]\n\
             periods = [\"previous_month\"]\nformats = [\"csv\", \"xlsx\"]\ndirectory = \"{}\"\n",
            dir.path().join("okno.db").display(),
            out.display()
        ),
    )
    .unwrap();
    let config = path.to_str().unwrap();
    let pulled = okno(&["--config", config, "sync", "demo"]);
    assert!(pulled.status.success(), "{}", text(&pulled));
    // The demo's world ends on 2026-01-01: December 2025 is the previous month of 2026-01-05.
    let written = okno(&["--config", config, "export", "--date", "2026-01-05"]);
    assert!(written.status.success(), "{}", text(&written));
    let t = text(&written);
    assert!(t.contains("fin: night 2026-01-05: 3 files"), "{t}");
    let night = out.join("2026-01-05");
    for f in [
        "manifest.json",
        "roi_by_channel_previous_month_2026-01-05.csv",
        "people_previous_month_2026-01-05.csv",
        "fin_previous_month_2026-01-05.xlsx",
    ] {
        assert!(night.join(f).is_file(), "{f} missing: {t}");
    }
    let roi = std::fs::read_to_string(night.join("roi_by_channel_previous_month_2026-01-05.csv"))
        .unwrap();
    assert!(
        roi.lines()
            .any(|l| l.starts_with("yandex_direct,yandex_direct,2025-12,")),
        "{roi}"
    );

    let status = okno(&["--config", config, "status", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(report["exports"][0]["export"], "fin");
    assert_eq!(report["exports"][0]["last_done_night"], "2026-01-05");

    let unknown = okno(&["--config", config, "export", "--name", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown).contains("no [[export]] named \"nope\""),
        "{}",
        text(&unknown)
    );
}

#[test]
fn run_once_says_an_export_failed_not_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.toml");
    // The export's folder sits under a plain file, so no night can be written there.
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, "").unwrap();
    std::fs::write(
        &path,
        format!(
            "[store]\nurl = \"sqlite://{}\"\n[[connector]]\nid = \"demo\"\nkind = \"demo\"\n\
             schedule = \"* * * * *\"\n[connector.settings]\ntickets = 20\nleads = 50\ntasks = 10\n\
             [[export]]\nname = \"fin\"\nreports = [\"roi_by_channel\"]\n\
             periods = [\"previous_month\"]\nformats = [\"csv\"]\ndirectory = \"{}\"\n",
            dir.path().join("okno.db").display(),
            blocker.join("exports").display()
        ),
    )
    .unwrap();
    let once = okno(&["--config", path.to_str().unwrap(), "run", "--once"]);
    let t = text(&once);
    assert_eq!(once.status.code(), Some(1), "{t}");
    assert!(t.contains("export fin: night "), "{t}");
    assert!(t.contains("some export nights failed"), "{t}");
    assert!(
        !t.contains("some streams failed"),
        "every stream succeeded: {t}"
    );
}
