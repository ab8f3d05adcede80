//! The binary as a new user would run it, as real OS accounts: the operator
//! is the account of the process's user id (`USER`/`LOGNAME` change
//! nothing), a non-admin account cannot add or remove operators or act as
//! someone else (one line, exit 1, nothing written), the first admin of an
//! empty table bootstraps, an unwritable log directory is one warning line,
//! and a panic is one line plus a report file.
//!
//! The other account is `nobody`, reached with `setpriv`, which needs root
//! (CI runs as root); run as another user, those tests say why and return.
//! The binary is copied to a world-readable temporary directory first, so
//! `nobody` can run it wherever the target directory is.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sqlx::PgPool;

/// A private, world-readable directory holding a copy of the binary; the
/// commands run from there (so no stray `./config.toml` is read).
struct Sandbox {
    dir: PathBuf,
    bin: PathBuf,
}

impl Sandbox {
    fn new(tag: &str) -> Sandbox {
        let dir = std::env::temp_dir().join(format!("lsn-anyone-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("sandbox");
        chmod(&dir, 0o755);
        let bin = dir.join("lsn-ops");
        std::fs::copy(env!("CARGO_BIN_EXE_lsn-ops"), &bin).expect("copy the binary");
        chmod(&bin, 0o755);
        // Logs (and panic reports) go here, writable by any account.
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).expect("logs");
        chmod(&logs, 0o777);
        Sandbox { dir, bin }
    }

    fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// `lsn-ops ARGS` as `nobody` (`as_nobody`) or as this process's account,
    /// with exactly the environment given (plus `PATH` and a `HOME`).
    fn command(&self, as_nobody: bool, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = if as_nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
                .arg(&self.bin);
            c
        } else {
            Command::new(&self.bin)
        };
        cmd.args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", "/nonexistent");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, as_nobody: bool, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(as_nobody, args, env)
            .output()
            .expect("run lsn-ops")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Whether this process can run commands as `nobody`; says why not when it cannot.
fn can_switch_to_nobody(test: &str) -> bool {
    if nix::unistd::getuid().is_root() {
        return true;
    }
    eprintln!(
        "{test}: skipped: running as {}, not root, so the test cannot run the binary as another OS account (CI runs as root)",
        lsn_ops::identity::os_account()
    );
    false
}

/// The URL of the test's own database (`#[sqlx::test]` made it).
async fn url_of(pool: &PgPool) -> String {
    let name: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(pool)
        .await
        .expect("database name");
    let server = std::env::var("LSN_OPS_TEST_PG_BASE").ok().or_else(|| {
        std::env::var("DATABASE_URL")
            .ok()
            .and_then(|u| u.rsplit_once('/').map(|(base, _)| base.to_string()))
    });
    let server = server.unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".into());
    format!("{}/{name}", server.trim_end_matches('/'))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit `code`, and stderr exactly one line containing `says`, with no panic text.
fn one_line(out: &Output, code: i32, says: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line, got: {err}");
    assert!(err.contains(says), "expected {says:?} in: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("acktrace") && !err.contains("Location:"),
        "{err}"
    );
}

/// The operators table and the audit log, in full.
async fn operators_and_audit(pool: &PgPool) -> (Vec<(String, String)>, i64) {
    let ops = sqlx::query_as("SELECT name, role FROM operators ORDER BY name")
        .fetch_all(pool)
        .await
        .expect("operators");
    let audit = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(pool)
        .await
        .expect("audit");
    (ops, audit)
}

#[sqlx::test]
async fn a_non_admin_account_cannot_manage_operators_or_act_as_anyone_whatever_user_says(
    pool: PgPool,
) {
    if !can_switch_to_nobody("a_non_admin_account_cannot_manage_operators") {
        return;
    }
    sqlx::query(
        "INSERT INTO operators (name, role, created_by) VALUES ('ada', 'admin', 't'), ('root', 'admin', 't')",
    )
    .execute(&pool)
    .await
    .expect("operators");
    let url = url_of(&pool).await;
    let sandbox = Sandbox::new("nonadmin");
    let logs = sandbox.logs();
    let logs = logs.to_str().expect("utf-8");
    let before = operators_and_audit(&pool).await;
    // With and without an environment that names root.
    let plain = [("DATABASE_URL", url.as_str()), ("LSN_OPS_LOG__DIR", logs)];
    let spoofed = [
        ("DATABASE_URL", url.as_str()),
        ("LSN_OPS_LOG__DIR", logs),
        ("USER", "root"),
        ("LOGNAME", "root"),
    ];
    for env in [&plain[..], &spoofed[..]] {
        let out = sandbox.run(true, &["operators", "add", "me", "--role", "admin"], env);
        one_line(
            &out,
            1,
            "lsn-ops: nobody is a viewer; to manage operators you need to be an admin",
        );
        let out = sandbox.run(true, &["operators", "remove", "ada"], env);
        one_line(
            &out,
            1,
            "lsn-ops: nobody is a viewer; to manage operators you need to be an admin",
        );
        let out = sandbox.run(true, &["tui", "--operator", "someone"], env);
        one_line(
            &out,
            1,
            "lsn-ops: --operator: nobody is not an admin, so cannot act as someone",
        );
        let out = sandbox.run(
            true,
            &["fraud", "block", "ip", "198.51.100.9", "--reason", "x"],
            env,
        );
        one_line(
            &out,
            1,
            "lsn-ops: nobody is a viewer; to change the blocklist you need to be an agent or an admin",
        );
    }
    assert_eq!(operators_and_audit(&pool).await, before, "nothing written");
    let blocked: i64 = sqlx::query_scalar("SELECT count(*) FROM blocklist")
        .fetch_one(&pool)
        .await
        .expect("blocklist");
    assert_eq!(blocked, 0);

    // The same account once an admin makes it one: the refusals were about the account.
    sqlx::query("INSERT INTO operators (name, role, created_by) VALUES ('nobody', 'admin', 'ada')")
        .execute(&pool)
        .await
        .expect("nobody an admin");
    let out = sandbox.run(true, &["operators", "add", "me", "--role", "agent"], &plain);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let created_by: String =
        sqlx::query_scalar("SELECT created_by FROM operators WHERE name = 'me'")
            .fetch_one(&pool)
            .await
            .expect("me");
    assert_eq!(created_by, "nobody");
}

#[sqlx::test]
async fn only_an_admin_account_may_act_as_another_operator(pool: PgPool) {
    // Runs as this process's account, whichever it is.
    let me = lsn_ops::identity::os_account();
    let url = url_of(&pool).await;
    let sandbox = Sandbox::new("operator");
    let logs = sandbox.logs();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("LSN_OPS_LOG__DIR", logs.to_str().expect("utf-8")),
    ];
    let out = sandbox.run(false, &["tui", "--operator", "someone"], &env);
    one_line(
        &out,
        1,
        &format!("lsn-ops: --operator: {me} is not an admin, so cannot act as someone"),
    );
    sqlx::query("INSERT INTO operators (name, role, created_by) VALUES ($1, 'admin', 't')")
        .bind(&me)
        .execute(&pool)
        .await
        .expect("admin");
    // Past the check, the dashboard only lacks a terminal here.
    let out = sandbox.run(false, &["tui", "--operator", "someone"], &env);
    one_line(&out, 2, "the dashboard needs a terminal");
}

#[sqlx::test]
async fn the_first_admin_of_an_empty_table_bootstraps_from_the_command_line(pool: PgPool) {
    let me = lsn_ops::identity::os_account();
    let url = url_of(&pool).await;
    let sandbox = Sandbox::new("bootstrap");
    let logs = sandbox.logs();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("LSN_OPS_LOG__DIR", logs.to_str().expect("utf-8")),
    ];
    // Not as an agent: the bootstrap is for an admin.
    let out = sandbox.run(
        false,
        &["operators", "add", "boss", "--role", "agent"],
        &env,
    );
    one_line(&out, 1, "to manage operators you need to be an admin");
    let out = sandbox.run(
        false,
        &["operators", "add", "boss", "--role", "admin"],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "boss is now admin\n");
    let row: (String, String, String) =
        sqlx::query_as("SELECT name, role, created_by FROM operators")
            .fetch_one(&pool)
            .await
            .expect("operator");
    assert_eq!(row, ("boss".into(), "admin".into(), me.clone()));
    // Once there is an admin, the same account (not one) is refused.
    if me != "boss" {
        let out = sandbox.run(false, &["operators", "add", "two", "--role", "admin"], &env);
        one_line(
            &out,
            1,
            &format!("{me} is a viewer; to manage operators you need to be an admin"),
        );
    }
}

#[sqlx::test]
async fn an_unwritable_log_directory_is_one_warning_and_the_command_goes_on(pool: PgPool) {
    let url = url_of(&pool).await;
    let sandbox = Sandbox::new("logs");
    let logs = sandbox.logs();
    let good = [
        ("DATABASE_URL", url.as_str()),
        ("LSN_OPS_LOG__DIR", logs.to_str().expect("utf-8")),
    ];
    let usual = sandbox.run(false, &["status", "--format", "json"], &good);
    assert!(usual.stderr.is_empty(), "{}", stderr(&usual));

    // A directory that cannot be created, as this account.
    let bad = [
        ("DATABASE_URL", url.as_str()),
        ("LSN_OPS_LOG__DIR", "/proc/nope/logs"),
    ];
    let out = sandbox.run(false, &["status", "--format", "json"], &bad);
    assert_eq!(out.status.code(), usual.status.code(), "exit code as usual");
    one_line(
        &out,
        usual.status.code().expect("exit code"),
        "lsn-ops: warning: logging disabled: log directory /proc/nope/logs:",
    );
    assert!(!out.stdout.is_empty(), "the command went on");

    if !can_switch_to_nobody("an_unwritable_log_directory (as nobody)") {
        return;
    }
    // A new account with no home: the default (XDG) directory cannot be made.
    let env = [("DATABASE_URL", url.as_str())];
    let out = sandbox.run(true, &["operators", "list"], &env);
    one_line(
        &out,
        0,
        "lsn-ops: warning: logging disabled: log directory /nonexistent/.local/state/lsn-ops:",
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no operators yet"),
        "the command went on"
    );
    // A directory that exists but is not writable by the account (the case
    // that used to panic in the log appender).
    let readonly = sandbox.dir.join("readonly-logs");
    std::fs::create_dir_all(&readonly).expect("dir");
    chmod(&readonly, 0o755);
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("LSN_OPS_LOG__DIR", readonly.to_str().expect("utf-8")),
    ];
    let out = sandbox.run(true, &["status", "--format", "json"], &env);
    one_line(
        &out,
        usual.status.code().expect("exit code"),
        "Permission denied",
    );
    assert!(stderr(&out).starts_with("lsn-ops: warning: logging disabled: log directory "));
}

/// `lsn-ops fraud lists` into a pipe nobody reads: printing fails, which
/// panics (a real one, from the standard library).
fn panic_by_broken_pipe(sandbox: &Sandbox, env: &[(&str, &str)]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    sandbox
        .command(false, &["fraud", "lists"], env)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run lsn-ops")
}

#[test]
fn a_panic_is_one_line_with_the_full_report_in_a_file() {
    let sandbox = Sandbox::new("panic");
    let logs = sandbox.logs();
    let env = [("LSN_OPS_LOG__DIR", logs.to_str().expect("utf-8"))];
    let out = panic_by_broken_pipe(&sandbox, &env);
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("lsn-ops: internal error: failed printing to stdout: Broken pipe"),
        "{err}"
    );
    assert!(
        !err.contains("acktrace") && !err.contains("panicked"),
        "{err}"
    );
    let path = err
        .trim_end()
        .rsplit_once("(full report: ")
        .and_then(|(_, p)| p.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no report path in {err}"));
    assert!(path.starts_with(logs.to_str().expect("utf-8")), "{path}");
    let report = std::fs::read_to_string(path).expect("the report file");
    assert!(
        report.contains("message: failed printing to stdout"),
        "{report}"
    );
    assert!(report.contains("backtrace:\n"), "{report}");
    assert!(report.lines().count() > 10, "a full backtrace: {report}");

    // RUST_BACKTRACE=1: the full report on stderr too.
    let env = [
        ("LSN_OPS_LOG__DIR", logs.to_str().expect("utf-8")),
        ("RUST_BACKTRACE", "1"),
    ];
    let out = panic_by_broken_pipe(&sandbox, &env);
    let err = stderr(&out);
    assert!(err.starts_with("lsn-ops: internal error: "), "{err}");
    assert!(err.contains("backtrace:\n"), "{err}");
    assert!(err.lines().count() > 10, "{err}");
}
