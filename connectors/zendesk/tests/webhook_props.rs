//! Property test of the Zendesk webhook handler on random and mutated input: it never panics,
//! never accepts a delivery that is not signed with a configured secret, and only ever asks to
//! refetch numeric ids. CI runs a few thousand cases; `connectors/zendesk/fuzz.sh` runs millions.

use chrono::Utc;
use okno_connector::signature::{sign, Algorithm, Encoding};
use okno_connector::testkit::test_http_options;
use okno_connector::webhook::{WebhookEvent, WebhookRequest};
use okno_connector::{BuildContext, SecretString};
use rand::{Rng, SeedableRng};

const SECRET: &str = "prop-secret";

const SEEDS: &[&str] = &[
    r#"{"account_id":1,"detail":{"id":"35436"},"event":{},"id":"01JQ","subject":"zen:ticket:35436","time":"2026-11-23T10:00:00Z","type":"zen:event-type:ticket.status_changed","zendesk_event_version":"2022-06-20"}"#,
    r#"{"type":"zen:event-type:user.name_changed","detail":{"id":"6596848315901"},"id":"x"}"#,
    r#"{"ticket_id": 812}"#,
    r#"{"ticket": {"id": "77"}}"#,
];

fn mutate(rng: &mut impl Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..6) {
        match rng.random_range(0..5) {
            0 if !out.is_empty() => {
                let i = rng.random_range(0..out.len());
                out[i] = rng.random();
            }
            1 if !out.is_empty() => {
                let i = rng.random_range(0..out.len());
                out.remove(i);
            }
            2 => {
                let i = rng.random_range(0..=out.len());
                let snippet: &[u8] = [
                    &b"\"id\":"[..],
                    b"{",
                    b"}",
                    b"\"",
                    b"-1",
                    b"9999999999999999999999",
                    b"null",
                    b"[]",
                    b"\\u0000",
                ][rng.random_range(0..9)];
                out.splice(i..i, snippet.iter().copied());
            }
            3 if out.len() > 1 => {
                let cut = rng.random_range(0..out.len());
                out.truncate(cut);
            }
            _ => {
                let n = rng.random_range(0..64);
                out = (0..n).map(|_| rng.random()).collect();
            }
        }
    }
    out
}

#[test]
fn the_webhook_handler_survives_random_input() {
    let cases: u64 = std::env::var("OKNO_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("OKNO_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let built = (okno_zendesk::KIND.build)(BuildContext {
        instance: "zd".into(),
        settings: serde_json::json!({
            "subdomain": "acme", "email": "a@b.c", "api_token": "t",
            "webhook_signing_secret": SECRET,
        }),
        base_url: None,
        http: test_http_options(),
        tokens: Default::default(),
    });
    let Ok(connector) = built else {
        panic!("the connector must build")
    };
    let hooks = connector.webhooks().expect("webhooks configured");
    let secret = SecretString::from(SECRET.to_string());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let ts = Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (mut parsed, mut verified) = (0u64, 0u64);
    for case in 0..cases {
        let seed_body = SEEDS[rng.random_range(0..SEEDS.len())].as_bytes();
        let body = mutate(&mut rng, seed_body);
        // Half the cases are signed correctly; the rest carry the seed's signature or garbage.
        let signed_right = rng.random_bool(0.5);
        let sig = if signed_right {
            sign(
                Algorithm::Sha256,
                Encoding::Base64,
                &secret,
                &[ts.as_bytes(), &body],
            )
        } else {
            sign(
                Algorithm::Sha256,
                Encoding::Base64,
                &secret,
                &[ts.as_bytes(), seed_body],
            )
        };
        let headers = vec![
            ("x-zendesk-webhook-signature".to_string(), sig),
            (
                "x-zendesk-webhook-signature-timestamp".to_string(),
                ts.clone(),
            ),
        ];
        let req = WebhookRequest {
            received_at: Utc::now(),
            headers: &headers,
            body: &body,
            path_token: None,
        };
        let ok = hooks.verify(&req).is_ok();
        assert_eq!(
            ok,
            signed_right || body == seed_body,
            "case {case}: verification must follow the signature"
        );
        verified += u64::from(ok);
        let _ = hooks.delivery_id(&req);
        if let Ok(events) = hooks.parse(&body) {
            parsed += 1;
            for e in events {
                match e {
                    WebhookEvent::Refetch { ids, stream } => {
                        assert!(stream == "tickets" || stream == "users");
                        assert!(
                            ids.iter()
                                .all(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit())),
                            "case {case}: {ids:?}"
                        );
                    }
                    WebhookEvent::Records(_) => {}
                }
            }
        }
    }
    // The mutations must leave some bodies parseable, or the test checks nothing.
    assert!(
        parsed > 0 && verified > 0,
        "parsed {parsed}, verified {verified} of {cases}"
    );
    eprintln!(
        "webhook property test: {cases} cases (seed {seed}): {verified} verified, {parsed} parsed"
    );
}
