//! Who is running this process: the operator is the OS account of the
//! process's real user id, looked up in the user database (`getuid` and the
//! passwd entry), never `$USER` or `$LOGNAME`, which anyone can set. This
//! module owns that lookup and nothing else; what the account may do is the
//! operators table's business (`store::authz`).

use std::path::PathBuf;

use nix::unistd::{Uid, User, getuid};

/// The OS account running this process: its passwd name, or `uid:N` when the
/// user id has no entry (a container started with an arbitrary uid). A name
/// never contains `:`, so `uid:N` cannot be mistaken for a real account.
pub fn os_account() -> String {
    account_of(getuid())
}

/// The account name of `uid`, as [`os_account`] names it.
pub fn account_of(uid: Uid) -> String {
    match User::from_uid(uid) {
        Ok(Some(user)) if !user.name.is_empty() => user.name,
        _ => format!("uid:{uid}"),
    }
}

/// The home directory of this process's account, from the user database
/// (for defaults when `$HOME` is unset).
pub fn os_home() -> Option<PathBuf> {
    User::from_uid(getuid())
        .ok()
        .flatten()
        .map(|user| user.dir)
        .filter(|dir| !dir.as_os_str().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_is_the_passwd_name_of_the_uid() {
        // `USER=root` making no difference is tested on the binary, run as
        // another account (tests/authz.rs); here, the lookup itself.
        let name = os_account();
        assert_eq!(name, account_of(getuid()));
        assert!(!name.is_empty());
        if getuid().is_root() {
            assert_eq!(name, "root");
        }
    }

    #[test]
    fn an_unknown_uid_is_named_by_its_number() {
        let uid = Uid::from_raw(3_999_999_999);
        assert_eq!(account_of(uid), "uid:3999999999");
    }
}
