//! Twilio webhooks: `X-Twilio-Signature` is base64(HMAC-SHA1(auth token, URL +
//! params)), where URL is the full URL Twilio called (with its query string) and
//! params are the POSTed form fields, names sorted, each name's distinct values
//! sorted, appended as `name + value` (twilio-python's `RequestValidator`).
//!
//! Like twilio-python, a signature is accepted over the URL as given with its
//! port removed, or with the scheme's default port added (`:443` / `:80`) when
//! it has none: proxies and SDKs disagree on whether the port is part of it.
//! JSON bodies are signed differently: the URL carries `bodySHA256=<hex sha256
//! of the body>`, the signature covers the URL alone, and the hash must match.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{Verified, VerifyError, decode_b64};

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

type HmacSha1 = Hmac<Sha1>;

/// The string Twilio signs: `url` then `name + value` for each sorted name and
/// each of its distinct values, sorted.
pub fn signed_string(url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut out = String::from(url);
    for (name, value) in pairs {
        out.push_str(name);
        out.push_str(value);
    }
    out
}

fn mac(token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    // HMAC takes keys of any length; new_from_slice only fails for fixed-size MACs.
    let mut mac = <HmacSha1 as KeyInit>::new_from_slice(token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(signed_string(url, params).as_bytes());
    mac
}

/// The signature Twilio would send for `url` and `params` (for tests and simulators).
pub fn sign(token: &str, url: &str, params: &[(String, String)]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .encode(mac(token, url, params).finalize().into_bytes())
}

/// Checks a form-encoded callback: `url` is the public URL Twilio called (with
/// its query string), `params` the decoded form fields in any order.
pub fn verify(
    token: &str,
    url: &str,
    params: &[(String, String)],
    signature: Option<&str>,
) -> Result<Verified, VerifyError> {
    let signature = signature.ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER))?;
    let expected = decode_b64(SIGNATURE_HEADER, signature)?;
    let candidates = url_variants(url);
    // Both candidates are always computed, so timing does not reveal which matched.
    let mut ok = false;
    for candidate in &candidates {
        ok |= mac(token, candidate, params)
            .verify_slice(&expected)
            .is_ok();
    }
    if ok {
        Ok(Verified)
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Checks a JSON-bodied request: the URL's `bodySHA256` must be the hex SHA-256
/// of `body`, and the signature covers the URL alone.
pub fn verify_json_body(
    token: &str,
    url: &str,
    body: &[u8],
    signature: Option<&str>,
) -> Result<Verified, VerifyError> {
    verify(token, url, &[], signature)?;
    let claimed = query_value(url, "bodySHA256").ok_or(VerifyError::BadHeader(
        "bodySHA256",
        "missing from the URL".into(),
    ))?;
    let actual = hex::encode(Sha256::digest(body));
    if constant_time_eq(claimed.as_bytes(), actual.as_bytes()) {
        Ok(Verified)
    } else {
        Err(VerifyError::Mismatch)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The URL with its port removed, and with the scheme's default port added when
/// it has none (twilio-python's `remove_port` / `add_port`). The URL is edited
/// as text: a URL parser would normalise other parts Twilio signed verbatim.
pub fn url_variants(url: &str) -> [String; 2] {
    let Some((scheme, rest)) = url.split_once("://") else {
        return [url.to_string(), url.to_string()];
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => authority.split_at(i + 1),
        None => ("", authority),
    };
    let (host, port) = split_port(hostport);
    let without = format!("{scheme}://{userinfo}{host}{tail}");
    let with = match port {
        Some(_) => url.to_string(),
        None => match scheme.to_ascii_lowercase().as_str() {
            "https" => format!("{scheme}://{userinfo}{host}:443{tail}"),
            "http" => format!("{scheme}://{userinfo}{host}:80{tail}"),
            _ => url.to_string(),
        },
    };
    [without, with]
}

fn split_port(hostport: &str) -> (&str, Option<&str>) {
    if let Some(i) = hostport.rfind(':') {
        let (host, port) = (&hostport[..i], &hostport[i + 1..]);
        // "[::1]" has colons inside the brackets: only a colon after "]" is a port.
        let bracketed_ok = !host.contains('[') || host.ends_with(']');
        if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && bracketed_ok {
            return (host, Some(port));
        }
    }
    (hostport, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_added_and_removed_as_twilio_python_does() {
        assert_eq!(
            url_variants("https://mycompany.com/myapp.php?foo=1&bar=2"),
            [
                "https://mycompany.com/myapp.php?foo=1&bar=2".to_string(),
                "https://mycompany.com:443/myapp.php?foo=1&bar=2".to_string()
            ]
        );
        assert_eq!(
            url_variants("http://user:pw@mycompany.com:1234/x"),
            [
                "http://user:pw@mycompany.com/x".to_string(),
                "http://user:pw@mycompany.com:1234/x".to_string()
            ]
        );
        assert_eq!(
            url_variants("http://[::1]:8787/webhooks/twilio")[0],
            "http://[::1]/webhooks/twilio"
        );
        assert_eq!(
            url_variants("http://[::1]/webhooks/twilio")[1],
            "http://[::1]:80/webhooks/twilio"
        );
    }

    #[test]
    fn duplicate_pairs_count_once_and_values_sort() {
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            signed_string("u", &[p("b", "2"), p("a", "9"), p("b", "1"), p("b", "2")]),
            "ua9b1b2"
        );
    }
}
