//! Keys: an operator's public key as `operators key add` takes it (the
//! authorized_keys form), and the server's own host key (ed25519, made on the
//! first start when the file is absent, readable by its owner only).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use russh::keys::ssh_key::{self, HashAlg, LineEnding, PrivateKey, PublicKey};

/// An operator's public key, checked and fingerprinted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, ...
    pub algorithm: String,
    /// `ALGORITHM BASE64`, without the comment.
    pub public_key: String,
    pub comment: String,
}

/// The fingerprint the server looks keys up by.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

impl ParsedKey {
    /// One authorized_keys line (`ssh-ed25519 AAAA... comment`). Only the
    /// algorithms the server verifies: ed25519 and ECDSA (RSA is left out of
    /// the build, RUSTSEC-2023-0071). The error says what was wrong, in words.
    pub fn parse(line: &str) -> Result<ParsedKey, String> {
        let line = line.trim();
        if line.is_empty() {
            return Err("the key is empty: paste the whole line of the .pub file".into());
        }
        let key = PublicKey::from_openssh(line).map_err(|e| {
            format!("not an OpenSSH public key ({e}): expected \"ssh-ed25519 AAAA... [comment]\"")
        })?;
        let algorithm = key.algorithm();
        match algorithm {
            ssh_key::Algorithm::Ed25519 | ssh_key::Algorithm::Ecdsa { .. } => {}
            other => {
                return Err(format!(
                    "{} keys are not accepted: use ssh-ed25519 (or ecdsa-sha2-nistp256/384/521)",
                    other.as_str()
                ));
            }
        }
        let mut bare = key.clone();
        bare.set_comment("");
        let public_key = bare
            .to_openssh()
            .map_err(|e| format!("cannot encode the key: {e}"))?
            .trim()
            .to_string();
        Ok(ParsedKey {
            fingerprint: fingerprint(&key),
            algorithm: algorithm.as_str().to_string(),
            public_key,
            comment: key.comment().to_string(),
        })
    }
}

/// The host key at `path`: read, or made (ed25519) and written with mode 0600
/// when there is no file. A file that is there but unreadable, not a key, or
/// open to others is an error, never replaced.
pub fn load_or_create_host_key(path: &Path) -> Result<(PrivateKey, bool), String> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(format!(
                    "{shown}: the host key is readable by others (chmod 600 it)"
                ));
            }
            let key = PrivateKey::read_openssh_file(path)
                .map_err(|e| format!("{shown}: not an OpenSSH private key: {e}"))?;
            if key.is_encrypted() {
                return Err(format!(
                    "{shown}: the host key has a passphrase; the server needs it without one"
                ));
            }
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = generate_host_key()?;
            let text = key
                .to_openssh(LineEnding::LF)
                .map_err(|e| format!("cannot encode the new host key: {e}"))?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("{shown}: cannot create the host key: {e}"))?;
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("{shown}: cannot write the host key: {e}"))?;
            Ok((key, true))
        }
        Err(e) => Err(format!("{shown}: {e}")),
    }
}

fn generate_host_key() -> Result<PrivateKey, String> {
    let mut seed = [0u8; 32];
    aws_lc_rs::rand::fill(&mut seed).map_err(|_| "no randomness for the host key".to_string())?;
    let pair = ssh_key::private::Ed25519Keypair::from_seed(&seed);
    seed.fill(0);
    Ok(PrivateKey::from(pair))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The RFC 8032 section 7.1 TEST 1 public key.
    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";

    #[test]
    fn an_ed25519_line_parses_with_its_comment_and_fingerprint() {
        let k = ParsedKey::parse(&format!("  {ED} alice@laptop \n")).expect("parses");
        assert_eq!(k.algorithm, "ssh-ed25519");
        assert_eq!(k.public_key, ED);
        assert_eq!(k.comment, "alice@laptop");
        assert!(k.fingerprint.starts_with("SHA256:"), "{}", k.fingerprint);
        // The comment does not change the fingerprint.
        assert_eq!(
            ParsedKey::parse(ED).expect("parses").fingerprint,
            k.fingerprint
        );
    }

    #[test]
    fn junk_and_rsa_are_refused_in_words() {
        assert!(ParsedKey::parse("").unwrap_err().contains("empty"));
        assert!(
            ParsedKey::parse("ssh-ed25519 notbase64!")
                .unwrap_err()
                .contains("not an OpenSSH public key")
        );
        let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 x";
        assert!(ParsedKey::parse(rsa).is_err());
    }

    #[test]
    fn the_host_key_is_made_once_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!("lsn-hostkey-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("sub/host_ed25519");
        let (made, created) = load_or_create_host_key(&path).expect("made");
        assert!(created);
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (read, created) = load_or_create_host_key(&path).expect("read");
        assert!(!created);
        assert_eq!(made.public_key(), read.public_key());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(
            load_or_create_host_key(&path)
                .unwrap_err()
                .contains("readable by others")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
