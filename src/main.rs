//! The `lsn-ops` binary: everything lives in the library; see `lsn_ops::cli`.

fn main() -> std::process::ExitCode {
    lsn_ops::cli::main()
}
