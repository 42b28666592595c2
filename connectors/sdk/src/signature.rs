//! Webhook authenticity checks every connector reuses: HMAC-SHA256 and HMAC-SHA1 over the raw
//! bytes, in base64 or hex, with or without a `sha256=` style prefix, and secret path tokens for
//! vendors that sign nothing. Every comparison is constant-time, and every check accepts several
//! secrets so a secret can be rotated without refusing deliveries in between.

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};

/// How a vendor writes its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Base64,
    Hex,
}

/// The HMAC a signature is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Sha1,
}

/// Whether `signature` (encoded, after `prefix` such as `"sha256="` if given) is the HMAC of the
/// concatenated `parts` under any of `secrets`.
pub fn verify_hmac(
    algorithm: Algorithm,
    encoding: Encoding,
    secrets: &[SecretString],
    parts: &[&[u8]],
    signature: &str,
    prefix: Option<&str>,
) -> bool {
    let signature = signature.trim();
    let signature = match prefix {
        Some(p) => match signature.strip_prefix(p) {
            Some(rest) => rest,
            None => return false,
        },
        None => signature,
    };
    let Some(given) = decode(encoding, signature) else {
        return false;
    };
    // Every secret is tried, so the time taken does not tell which one matched.
    let mut matched = false;
    for secret in secrets {
        let ok = match algorithm {
            Algorithm::Sha256 => check::<Hmac<sha2::Sha256>>(secret, parts, &given),
            Algorithm::Sha1 => check::<Hmac<sha1::Sha1>>(secret, parts, &given),
        };
        matched |= ok;
    }
    matched
}

/// Computes the encoded HMAC of `parts` (for tests and for vendors that want us to sign).
pub fn sign(
    algorithm: Algorithm,
    encoding: Encoding,
    secret: &SecretString,
    parts: &[&[u8]],
) -> String {
    let bytes = match algorithm {
        Algorithm::Sha256 => mac::<Hmac<sha2::Sha256>>(secret, parts),
        Algorithm::Sha1 => mac::<Hmac<sha1::Sha1>>(secret, parts),
    };
    match encoding {
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        Encoding::Hex => hex::encode(bytes),
    }
}

/// Whether `given` equals any of the `expected` tokens, in constant time per token.
pub fn verify_token(expected: &[SecretString], given: &str) -> bool {
    let mut matched = false;
    for token in expected {
        matched |= constant_time_eq(token.expose_secret().as_bytes(), given.as_bytes());
    }
    matched
}

/// Compares two byte strings in time that depends only on their lengths (`subtle`, whose
/// comparisons the optimiser cannot turn into an early exit).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

fn decode(encoding: Encoding, text: &str) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.decode(text).ok(),
        Encoding::Hex => hex::decode(text).ok(),
    }
}

fn keyed<M: Mac + hmac::digest::KeyInit>(secret: &SecretString, parts: &[&[u8]]) -> M {
    // HMAC takes keys of any length, so this cannot fail.
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    for p in parts {
        m.update(p);
    }
    m
}

fn check<M: Mac + hmac::digest::KeyInit>(
    secret: &SecretString,
    parts: &[&[u8]],
    given: &[u8],
) -> bool {
    keyed::<M>(secret, parts).verify_slice(given).is_ok()
}

fn mac<M: Mac + hmac::digest::KeyInit>(secret: &SecretString, parts: &[&[u8]]) -> Vec<u8> {
    keyed::<M>(secret, parts).finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> SecretString {
        SecretString::from(v.to_string())
    }

    #[test]
    fn matches_the_rfc_4231_test_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let parts: &[&[u8]] = &[b"what do ya want ", b"for nothing?"];
        assert_eq!(
            sign(Algorithm::Sha256, Encoding::Hex, &s("Jefe"), parts),
            expected
        );
        assert!(verify_hmac(
            Algorithm::Sha256,
            Encoding::Hex,
            &[s("Jefe")],
            parts,
            expected,
            None
        ));
        // RFC 2202 test case 2 for HMAC-SHA1.
        let sha1 = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
        assert!(verify_hmac(
            Algorithm::Sha1,
            Encoding::Hex,
            &[s("Jefe")],
            parts,
            sha1,
            None
        ));
    }

    #[test]
    fn rejects_tampering_wrong_secrets_and_garbage() {
        let secrets = [s("old"), s("new")];
        let sig = sign(
            Algorithm::Sha256,
            Encoding::Base64,
            &s("new"),
            &[b"ts", b"body"],
        );
        assert!(verify_hmac(
            Algorithm::Sha256,
            Encoding::Base64,
            &secrets,
            &[b"ts", b"body"],
            &sig,
            None
        ));
        assert!(!verify_hmac(
            Algorithm::Sha256,
            Encoding::Base64,
            &secrets,
            &[b"ts", b"bodY"],
            &sig,
            None
        ));
        assert!(!verify_hmac(
            Algorithm::Sha256,
            Encoding::Base64,
            &[s("other")],
            &[b"ts", b"body"],
            &sig,
            None
        ));
        assert!(!verify_hmac(
            Algorithm::Sha256,
            Encoding::Base64,
            &secrets,
            &[b"ts", b"body"],
            "%%%",
            None
        ));
        assert!(!verify_hmac(
            Algorithm::Sha256,
            Encoding::Base64,
            &[],
            &[b"ts", b"body"],
            &sig,
            None
        ));
    }

    #[test]
    fn handles_prefixed_hex_signatures() {
        let sig = format!(
            "sha256={}",
            sign(Algorithm::Sha256, Encoding::Hex, &s("k"), &[b"x"])
        );
        assert!(verify_hmac(
            Algorithm::Sha256,
            Encoding::Hex,
            &[s("k")],
            &[b"x"],
            &sig,
            Some("sha256=")
        ));
        assert!(!verify_hmac(
            Algorithm::Sha256,
            Encoding::Hex,
            &[s("k")],
            &[b"x"],
            &sig[7..],
            Some("sha256=")
        ));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(verify_token(&[s("abc"), s("def")], "def"));
        assert!(!verify_token(&[s("abc")], "ab"));
        assert!(!verify_token(&[s("abc")], "abcd"));
        assert!(!verify_token(&[], "abc"));
    }
}
