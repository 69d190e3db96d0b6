//! Who may use `/admin/*`, `/metrics` and the console, written once: a
//! loopback client when no `admin_token` is configured; with one, any
//! client that presents it — `Authorization: Bearer …`, `?token=`, or the
//! console's login cookie — loopback included (a token set means "ask
//! everyone": another local user or a local proxy is a client too).
//!
//! **The cookie.** `POST /console/login` with the right token sets
//! `openqq_console=v1.<expiry>.<mac>` (HttpOnly, SameSite=Strict, Path=/),
//! where `mac` is HMAC-SHA256, keyed by a random secret made when the
//! process starts, over the expiry and the token. Not the token itself: a
//! cookie jar that leaks gives at most [`COOKIE_LIFE`] of console access
//! and never the token, which also opens the admin API to scripts. No
//! session table: a restart (a new secret) or a new token ends every
//! login, and logout clears the browser's copy. Not `Secure`: the gateway
//! speaks plain HTTP, where a browser would drop a `Secure` cookie; put
//! TLS in front for logins from other machines over untrusted networks.

use std::sync::LazyLock;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

use super::state::AppState;
use crate::auth::{Presented, TokenCheck, same_secret};

/// The admin token, by header or `?token=`.
const TOKEN: TokenCheck = TokenCheck::new("token");

/// The login cookie's name.
pub const COOKIE: &str = "openqq_console";

/// How long a login lasts.
pub const COOKIE_LIFE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The MAC key: random per process, so a restart logs everyone out.
static SECRET: LazyLock<[u8; 32]> = LazyLock::new(rand::random);

/// Whether `req` may use the admin routes (see the module doc).
pub fn admits(s: &AppState, req: &Request) -> bool {
    match &s.admin_token {
        Some(token) => {
            TOKEN.check(req.headers(), req.uri(), token) == Presented::Right
                || cookie_admits(req.headers(), token, crate::clock::unix_now())
        }
        None => super::guard::peer(req.extensions()).is_some_and(super::guard::is_loopback),
    }
}

/// A login cookie's value for `token`, valid until `expiry` (unix secs).
pub fn mint(token: &str, expiry: u64) -> String {
    format!("v1.{expiry}.{}", hex::encode(mac(token, expiry)))
}

/// Whether the request carries a login cookie for `token` that has not
/// expired at `now`. The MAC is compared in constant time.
fn cookie_admits(headers: &HeaderMap, token: &str, now: u64) -> bool {
    cookies(headers, COOKIE).any(|value| {
        let mut parts = value.splitn(3, '.');
        let (Some("v1"), Some(expiry), Some(given)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let Ok(expiry) = expiry.parse::<u64>() else {
            return false;
        };
        expiry > now && same_secret(given, &hex::encode(mac(token, expiry)))
    })
}

/// The values of every cookie named `name` in the `Cookie` headers.
fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v.trim())
        })
}

fn mac(token: &str, expiry: u64) -> [u8; 32] {
    let mut msg = Vec::with_capacity(32 + token.len());
    msg.extend_from_slice(b"openqq-console\0");
    msg.extend_from_slice(&expiry.to_be_bytes());
    msg.extend_from_slice(token.as_bytes());
    hmac_sha256(&*SECRET, &msg)
}

/// HMAC-SHA256 (RFC 2104): `sha2` is here already, and these dozen lines
/// are checked against RFC 4231's vectors below.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| k.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    fn with_cookie(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, v.parse().unwrap());
        h
    }

    #[test]
    fn a_minted_cookie_admits_until_it_expires_and_only_for_its_token() {
        let c = mint("s3cret", 1000);
        let h = with_cookie(&format!("a=b; {COOKIE}={c}; x=y"));
        assert!(cookie_admits(&h, "s3cret", 999));
        assert!(!cookie_admits(&h, "s3cret", 1000), "expired");
        assert!(!cookie_admits(&h, "other", 999), "another token");
        // A moved expiry breaks the MAC.
        let forged = c.replacen("1000", "9999", 1);
        assert!(!cookie_admits(
            &with_cookie(&format!("{COOKIE}={forged}")),
            "s3cret",
            999
        ));
        for bad in ["", "v1", "v1.x.y", "v2.1000.00", "s3cret"] {
            assert!(
                !cookie_admits(&with_cookie(&format!("{COOKIE}={bad}")), "s3cret", 1),
                "{bad}"
            );
        }
        assert!(!cookie_admits(&HeaderMap::new(), "s3cret", 1));
    }
}
