//! `lsn-ops ssh-server`: serves the dashboard over SSH ([`crate::ssh`]) with
//! `[ssh]` (listen, host_key, max_sessions, idle_timeout_s).

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::Failure;
use crate::config::Loaded;

pub async fn run(loaded: Loaded) -> Result<u8, Failure> {
    let ssh = &loaded.config.ssh;
    let host_key = if ssh.host_key.trim().is_empty() {
        crate::telemetry::state_home().join("ssh_host_ed25519_key")
    } else {
        PathBuf::from(ssh.host_key.trim())
    };
    let settings = crate::ssh::Settings {
        listen: ssh.listen.clone(),
        host_key,
        max_sessions: ssh.max_sessions,
        idle_timeout: (ssh.idle_timeout_s > 0).then(|| Duration::from_secs(ssh.idle_timeout_s)),
    };
    crate::ssh::serve(loaded, settings).await
}
