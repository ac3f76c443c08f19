//! Webhook rules that need no I/O: secrets and signatures per the Standard Webhooks
//! specification, which targets are allowed, and when a subject is "near" its next tier.

use std::net::IpAddr;

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use url::Url;

use super::{ErrorCode, FieldError};

/// Every signing secret starts with this, as the specification's libraries expect.
pub const SECRET_PREFIX: &str = "whsec_";
/// Longest accepted target URL.
pub const MAX_URL_LEN: usize = 2048;

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// One `v1,<base64>` signature of `{msg_id}.{timestamp}.{body}` with `secret`; `None` if the
/// secret is not a `whsec_` base64 key.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn signature_header(secrets: &[&str], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|s| sign(s, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Addresses a webhook may never reach unless private targets are allowed: loopback,
/// private, link-local, multicast, unspecified, broadcast, shared (CGNAT) and documentation
/// ranges, and their IPv4-mapped IPv6 forms.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] & 0xffc0) == 0xfec0
        }
    }
}

/// A target URL's shape: absolute `http` or `https` with a host, at most
/// [`MAX_URL_LEN`] characters, no credentials. Where the host points is checked by the caller.
pub fn parse_url(raw: &str) -> Result<Url, FieldError> {
    let bad = |why: &str| FieldError::new("url", ErrorCode::WebhookUrlInvalid, why.to_string());
    if raw.len() > MAX_URL_LEN {
        return Err(bad("the URL is longer than 2048 characters"));
    }
    let url = Url::parse(raw.trim()).map_err(|e| bad(&format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("only http and https URLs are allowed"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("the URL may not carry credentials"));
    }
    Ok(url)
}

/// Within 10% of the next tier: something is still missing, and it is at most a tenth of the
/// next threshold.
pub fn near_tier(remaining: i64, next_threshold: Option<i64>) -> bool {
    match next_threshold {
        Some(t) if remaining > 0 && t > 0 => remaining.checked_mul(10).is_some_and(|r10| r10 <= t),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_like_the_specification() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let sig = sign(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let both = signature_header(
            &[secret, secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(both, format!("{sig} {sig}"));
        assert!(sign("whsec_not base64!", "m", 1, b"x").is_none());
    }

    #[test]
    fn new_secrets_are_random_32_byte_keys() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        let key = STANDARD
            .decode(a.strip_prefix(SECRET_PREFIX).unwrap())
            .unwrap();
        assert_eq!(key.len(), 32);
    }

    #[test]
    fn private_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "100.64.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "172.32.0.1",
        ] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(parse_url("https://hooks.example.com/in?x=1").is_ok());
        assert!(parse_url("http://hooks.example.com:8080/").is_ok());
        for bad in [
            "ftp://x.example/",
            "file:///etc/passwd",
            "not a url",
            "https://u:p@x.example/",
            "gopher://x.example",
        ] {
            let e = parse_url(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::WebhookUrlInvalid, "{bad}");
            assert_eq!(e.field, "url");
        }
        assert!(parse_url(&format!("https://x.example/{}", "a".repeat(2048))).is_err());
    }

    #[test]
    fn near_means_within_a_tenth_of_the_next_threshold() {
        assert!(near_tier(1_000, Some(10_000)));
        assert!(!near_tier(1_001, Some(10_000)));
        assert!(!near_tier(0, Some(10_000)));
        assert!(!near_tier(5, None));
        assert!(!near_tier(i64::MAX, Some(i64::MAX)));
    }
}
