//! The fraud reference lists: disposable email domains, proxy/VPN ranges and
//! IP reputation. This module parses their text (as shipped in `assets/fraud/`)
//! and answers lookups; reading the files and noticing changes is the worker's
//! job ([`crate::worker::reference`]).
//!
//! Formats (one entry per line, `#` starts a comment, blank lines are skipped):
//! - `disposable_domains.txt`: a domain; it also covers its subdomains.
//! - `proxy_ranges.txt`: an address or CIDR range, optionally followed by a label.
//! - `ip_reputation.csv`: `range,abuse_score,source` with a header line; the
//!   range is an address or CIDR, the score 0-100. The most specific range wins.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// `[fraud] reference_dir` by default: the shipped sample lists. When it is
/// not there (a binary run outside the repository), the worker falls back to
/// the built-in copies of the same lists.
pub const DEFAULT_DIR: &str = "assets/fraud";

/// The three list files, by the name each has in the reference directory.
pub const DISPOSABLE_FILE: &str = "disposable_domains.txt";
pub const PROXY_FILE: &str = "proxy_ranges.txt";
pub const REPUTATION_FILE: &str = "ip_reputation.csv";
pub const FILES: [&str; 3] = [DISPOSABLE_FILE, PROXY_FILE, REPUTATION_FILE];

/// A line a list could not take: which file, which line, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ListError {}

/// A proxy/VPN range with its label ("Tor exit relays").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRange {
    pub net: IpNet,
    pub label: String,
}

/// A range on the reputation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reputation {
    pub net: IpNet,
    pub abuse_score: u8,
    pub source: String,
}

/// The parsed lists. Cheap to share behind an `Arc`; lookups do not allocate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceLists {
    disposable: HashSet<String>,
    proxies: Vec<ProxyRange>,
    reputation: Vec<Reputation>,
}

/// The lines of a list that carry data: (1-based line number, text without
/// its comment, trimmed).
fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let data = line.split('#').next().unwrap_or("").trim();
        (!data.is_empty()).then_some((i + 1, data))
    })
}

/// An address or a CIDR range; a bare address is its own /32 or /128.
fn parse_net(text: &str) -> Result<IpNet, String> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
        format!("\"{text}\" is not an IP address or CIDR range (such as 203.0.113.0/24)")
    })
}

fn valid_domain(d: &str) -> bool {
    d.contains('.')
        && !d.starts_with('.')
        && !d.ends_with('.')
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

impl ReferenceLists {
    /// Parses the three files' text; the first bad line is the error.
    pub fn parse(disposable: &str, proxies: &str, reputation: &str) -> Result<Self, ListError> {
        Ok(Self {
            disposable: parse_disposable(disposable)?,
            proxies: parse_proxies(proxies)?,
            reputation: parse_reputation(reputation)?,
        })
    }

    /// The lists as shipped in `assets/fraud/`, built into the binary: what the
    /// worker uses when no reference directory is there.
    pub fn built_in() -> Result<Self, ListError> {
        Self::parse(
            include_str!("../../assets/fraud/disposable_domains.txt"),
            include_str!("../../assets/fraud/proxy_ranges.txt"),
            include_str!("../../assets/fraud/ip_reputation.csv"),
        )
    }

    /// Entries per list: (disposable domains, proxy ranges, reputation ranges).
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.disposable.len(),
            self.proxies.len(),
            self.reputation.len(),
        )
    }

    /// Whether `domain` or one of its parent domains is a disposable-mail domain.
    pub fn is_disposable(&self, domain: &str) -> bool {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let mut rest = domain.as_str();
        loop {
            if self.disposable.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) if parent.contains('.') => rest = parent,
                _ => return false,
            }
        }
    }

    /// The most specific proxy/VPN range holding `ip`.
    pub fn proxy_range(&self, ip: IpAddr) -> Option<&ProxyRange> {
        self.proxies
            .iter()
            .filter(|p| p.net.contains(&ip))
            .max_by_key(|p| p.net.prefix_len())
    }

    /// The reputation entry of the most specific range holding `ip`.
    pub fn reputation(&self, ip: IpAddr) -> Option<&Reputation> {
        self.reputation
            .iter()
            .filter(|r| r.net.contains(&ip))
            .max_by_key(|r| r.net.prefix_len())
    }
}

fn parse_disposable(text: &str) -> Result<HashSet<String>, ListError> {
    let mut out = HashSet::new();
    for (line, data) in data_lines(text) {
        let domain = data.to_ascii_lowercase();
        if !valid_domain(&domain) {
            return Err(ListError {
                file: DISPOSABLE_FILE.into(),
                line,
                message: format!("\"{data}\" is not a domain name (such as mailinator.com)"),
            });
        }
        out.insert(domain);
    }
    Ok(out)
}

fn parse_proxies(text: &str) -> Result<Vec<ProxyRange>, ListError> {
    data_lines(text)
        .map(|(line, data)| {
            let (range, label) = data.split_once(char::is_whitespace).unwrap_or((data, ""));
            parse_net(range)
                .map(|net| ProxyRange {
                    net,
                    label: label.trim().to_string(),
                })
                .map_err(|message| ListError {
                    file: PROXY_FILE.into(),
                    line,
                    message,
                })
        })
        .collect()
}

fn parse_reputation(text: &str) -> Result<Vec<Reputation>, ListError> {
    let mut out = Vec::new();
    let mut header_seen = false;
    for (line, data) in data_lines(text) {
        let err = |message: String| ListError {
            file: REPUTATION_FILE.into(),
            line,
            message,
        };
        // The source is free text and may hold commas: at most three fields.
        let fields: Vec<&str> = data.splitn(3, ',').map(str::trim).collect();
        if !header_seen {
            header_seen = true;
            if fields
                .first()
                .is_some_and(|f| f.eq_ignore_ascii_case("range"))
            {
                continue;
            }
        }
        let [range, score, rest @ ..] = fields.as_slice() else {
            return Err(err(format!(
                "\"{data}\": expected range,abuse_score,source"
            )));
        };
        let net = parse_net(range).map_err(err)?;
        let abuse_score = score
            .parse::<u8>()
            .ok()
            .filter(|s| *s <= 100)
            .ok_or_else(|| {
                err(format!(
                    "abuse score \"{score}\": expected a whole number from 0 to 100"
                ))
            })?;
        out.push(Reputation {
            net,
            abuse_score,
            source: rest.first().copied().unwrap_or("").to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn the_shipped_lists_parse() {
        let lists = ReferenceLists::built_in().expect("assets/fraud parses");
        let (domains, proxies, reputation) = lists.counts();
        assert!(
            domains >= 50 && proxies >= 3 && reputation >= 3,
            "{:?}",
            lists.counts()
        );
        assert!(lists.is_disposable("mailinator.com"));
        assert!(!lists.is_disposable("gmail.com"));
    }

    #[test]
    fn disposable_domains_cover_subdomains_and_case() {
        let lists = ReferenceLists::parse(
            "# comment\nMailinator.com\n\nyopmail.com  # trailing\n",
            "",
            "",
        )
        .expect("parses");
        assert!(lists.is_disposable("mailinator.com"));
        assert!(lists.is_disposable("eu.Mailinator.COM."));
        assert!(lists.is_disposable("yopmail.com"));
        assert!(!lists.is_disposable("notmailinator.com"));
        assert!(!lists.is_disposable("com"));
    }

    #[test]
    fn proxy_ranges_match_the_most_specific_range() {
        let lists = ReferenceLists::parse(
            "",
            "203.0.113.0/24 Hosting VPN\n203.0.113.128/25 Tor exits\n2001:db8::/32\n198.51.100.9\n",
            "",
        )
        .expect("parses");
        assert_eq!(
            lists
                .proxy_range(ip("203.0.113.7"))
                .map(|p| p.label.as_str()),
            Some("Hosting VPN")
        );
        assert_eq!(
            lists
                .proxy_range(ip("203.0.113.200"))
                .map(|p| p.label.as_str()),
            Some("Tor exits")
        );
        assert!(lists.proxy_range(ip("2001:db8::1")).is_some());
        assert_eq!(
            lists
                .proxy_range(ip("198.51.100.9"))
                .map(|p| p.net.to_string()),
            Some("198.51.100.9/32".into())
        );
        assert!(lists.proxy_range(ip("198.51.100.10")).is_none());
    }

    #[test]
    fn reputation_takes_the_most_specific_range() {
        let lists = ReferenceLists::parse(
            "",
            "",
            "range,abuse_score,source\n45.142.212.0/24,60,abuse feed\n45.142.212.10,95,honeypot, EU\n",
        )
        .expect("parses");
        let r = lists.reputation(ip("45.142.212.10")).expect("listed");
        assert_eq!((r.abuse_score, r.source.as_str()), (95, "honeypot, EU"));
        assert_eq!(
            lists.reputation(ip("45.142.212.11")).map(|r| r.abuse_score),
            Some(60)
        );
        assert!(lists.reputation(ip("45.142.213.1")).is_none());
    }

    #[test]
    fn bad_lines_name_their_file_and_line() {
        let e = ReferenceLists::parse("ok.com\nnot a domain\n", "", "").expect_err("bad domain");
        assert_eq!(
            e.to_string(),
            "disposable_domains.txt:2: \"not a domain\" is not a domain name (such as mailinator.com)"
        );
        let e = ReferenceLists::parse("", "# c\n203.0.113.0/33\n", "").expect_err("bad range");
        assert_eq!((e.file.as_str(), e.line), (PROXY_FILE, 2));
        let e = ReferenceLists::parse("", "", "range,abuse_score,source\n1.2.3.4,101,x\n")
            .expect_err("bad score");
        assert_eq!(
            e.to_string(),
            "ip_reputation.csv:2: abuse score \"101\": expected a whole number from 0 to 100"
        );
        let e = ReferenceLists::parse("", "", "1.2.3.4\n").expect_err("missing score");
        assert_eq!(e.line, 1);
    }
}
