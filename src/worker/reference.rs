//! The fraud reference lists as the worker holds them: read from
//! `[fraud] reference_dir` at start, and re-read when one of the files changes
//! (checked at most every `[fraud] reload_check_s`), so ops can update a list
//! without a restart. A bad edit never takes effect: the previous lists stay in
//! use and the error (file and line) is reported once, as an alert.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::domain::fraud_lists::{DEFAULT_DIR, FILES, ReferenceLists};

/// What identifies one version of a file: modification time and length.
type Stamp = Option<(SystemTime, u64)>;

/// The current lists, shared by the applier's tasks.
#[derive(Debug)]
pub struct ReferenceCache {
    /// `None`: the built-in lists, never reloaded.
    dir: Option<PathBuf>,
    check_every: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    lists: Arc<ReferenceLists>,
    stamps: Vec<Stamp>,
    checked_at: Instant,
    /// The last load error, until someone takes it to report it.
    unreported_error: Option<String>,
    /// The error of the files as they are now (kept while they stay broken).
    current_error: Option<String>,
}

fn stamps(dir: &Path) -> Vec<Stamp> {
    FILES
        .iter()
        .map(|name| {
            let meta = std::fs::metadata(dir.join(name)).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

/// Reads and parses the three files of `dir`.
pub fn read_dir(dir: &Path) -> Result<ReferenceLists, String> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let [disposable, proxies, reputation] = FILES.map(read);
    ReferenceLists::parse(&disposable?, &proxies?, &reputation?)
        .map_err(|e| format!("{}/{e}", dir.display()))
}

impl ReferenceCache {
    /// The lists shipped in `assets/fraud/`, compiled in; never reloaded.
    pub fn built_in() -> Self {
        let lists = ReferenceLists::built_in().unwrap_or_else(|e| {
            tracing::error!(error = %e, "the built-in fraud reference lists do not parse");
            ReferenceLists::default()
        });
        Self::with(None, Duration::MAX, lists, Vec::new())
    }

    /// Loads `dir` now; a missing file or a bad line is an error naming it.
    pub fn load(dir: impl Into<PathBuf>, check_every: Duration) -> Result<Self, String> {
        let dir = dir.into();
        let stamps = stamps(&dir);
        let lists = read_dir(&dir)?;
        Ok(Self::with(Some(dir), check_every, lists, stamps))
    }

    /// From `[fraud] reference_dir`: "" means the built-in lists; the default
    /// directory, when absent, too (with a warning); any other path must load.
    pub fn from_config(dir: &str, check_every: Duration) -> Result<Self, String> {
        if dir.is_empty() {
            return Ok(Self::built_in());
        }
        if dir == DEFAULT_DIR && !Path::new(dir).is_dir() {
            tracing::warn!(
                dir,
                "fraud reference directory not found; using the built-in lists"
            );
            return Ok(Self::built_in());
        }
        Self::load(dir, check_every).map_err(|e| format!("[fraud] reference_dir: {e}"))
    }

    fn with(
        dir: Option<PathBuf>,
        check_every: Duration,
        lists: ReferenceLists,
        stamps: Vec<Stamp>,
    ) -> Self {
        Self {
            dir,
            check_every,
            state: Mutex::new(State {
                lists: Arc::new(lists),
                stamps,
                checked_at: Instant::now(),
                unreported_error: None,
                current_error: None,
            }),
        }
    }

    /// Where the lists come from: the directory, or "built-in".
    pub fn source(&self) -> String {
        self.dir
            .as_ref()
            .map_or_else(|| "built-in".into(), |d| d.display().to_string())
    }

    /// The lists to use now, re-read first if a file changed since the last look.
    pub fn current(&self) -> Arc<ReferenceLists> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(dir) = &self.dir
            && state.checked_at.elapsed() >= self.check_every
        {
            state.checked_at = Instant::now();
            let now = stamps(dir);
            if now != state.stamps {
                state.stamps = now;
                match read_dir(dir) {
                    Ok(lists) => {
                        let (d, p, r) = lists.counts();
                        tracing::info!(
                            disposable = d,
                            proxies = p,
                            reputation = r,
                            "fraud reference lists reloaded"
                        );
                        state.lists = Arc::new(lists);
                        state.current_error = None;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "fraud reference lists not reloaded; the previous ones stay in use");
                        state.current_error = Some(e.clone());
                        state.unreported_error = Some(e);
                    }
                }
            }
        }
        Arc::clone(&state.lists)
    }

    /// A load error not reported yet (each bad version of the files once).
    pub fn take_unreported_error(&self) -> Option<String> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unreported_error
            .take()
    }

    /// The error of the files as they are now, if they do not load.
    pub fn current_error(&self) -> Option<String> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .current_error
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lsn-ops-ref-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn write(dir: &Path, disposable: &str, proxies: &str, reputation: &str) {
        for (name, text) in FILES.iter().zip([disposable, proxies, reputation]) {
            std::fs::write(dir.join(name), text).expect("write list");
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn an_edit_takes_effect_without_a_restart_and_a_bad_one_never_does() {
        let dir = temp_dir();
        write(
            &dir,
            "mailinator.com\n",
            "203.0.113.0/24 test\n",
            "range,abuse_score,source\n",
        );
        let cache = ReferenceCache::load(&dir, Duration::ZERO).expect("loads");
        assert!(cache.current().proxy_range(ip("198.51.100.1")).is_none());

        // A new range (the file's length changes, so even a coarse mtime sees it).
        write(
            &dir,
            "mailinator.com\n",
            "203.0.113.0/24 test\n198.51.100.0/24 new VPN\n",
            "range,abuse_score,source\n",
        );
        let lists = cache.current();
        assert_eq!(
            lists
                .proxy_range(ip("198.51.100.1"))
                .map(|p| p.label.as_str()),
            Some("new VPN")
        );
        assert_eq!(cache.take_unreported_error(), None);

        // A typo: the previous lists stay, the error names file and line, once.
        write(
            &dir,
            "mailinator.com\n",
            "203.0.113.0/24 test\n198.51.100.0/33 typo\n",
            "range,abuse_score,source\n",
        );
        let lists = cache.current();
        assert!(
            lists.proxy_range(ip("198.51.100.1")).is_some(),
            "previous lists kept"
        );
        let error = cache.take_unreported_error().expect("reported");
        assert!(error.ends_with("proxy_ranges.txt:2: \"198.51.100.0/33\" is not an IP address or CIDR range (such as 203.0.113.0/24)"), "{error}");
        assert_eq!(cache.take_unreported_error(), None, "reported once");
        assert!(cache.current_error().is_some());

        // Fixed: loads again.
        write(
            &dir,
            "mailinator.com\nyopmail.com\n",
            "203.0.113.0/24 test\n",
            "range,abuse_score,source\n",
        );
        let lists = cache.current();
        assert!(lists.is_disposable("yopmail.com"));
        assert!(lists.proxy_range(ip("198.51.100.1")).is_none());
        assert_eq!(cache.current_error(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let dir = temp_dir();
        std::fs::write(dir.join("disposable_domains.txt"), "").expect("write");
        let err = ReferenceCache::load(&dir, Duration::ZERO).expect_err("missing files");
        assert!(err.contains("proxy_ranges.txt"), "{err}");
        let err =
            ReferenceCache::from_config("/nonexistent/lists", Duration::ZERO).expect_err("bad dir");
        assert!(
            err.starts_with("[fraud] reference_dir: /nonexistent/lists/"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_repository_lists_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_DIR);
        let cache = ReferenceCache::load(&dir, Duration::from_secs(5)).expect("assets/fraud loads");
        assert_eq!(
            *cache.current(),
            ReferenceLists::built_in().expect("built in")
        );
    }
}
