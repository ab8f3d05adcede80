//! The command line: clap definitions (DESIGN.md's external contract), the
//! dispatch to [`crate::commands`], and the exit codes: 0 success, 1 the
//! operation failed, 2 bad usage or bad configuration. `status` uses 0/1/2 for
//! healthy/warnings/critical.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, ConfigError};

#[derive(Debug, Parser)]
#[command(
    name = "lsn-ops",
    version,
    about = "Operations center of the live-shopping marketplace: dashboard, worker, payouts, reports",
    long_about = None,
    after_help = "Configuration: --config PATH, else $LSN_OPS_CONFIG, ./config.toml, ~/.config/lsn-ops/config.toml;\n\
                  environment variables override the file (DATABASE_URL, PAYPAL_MODE, LSN_OPS_<SECTION>__<KEY>, ...).\n\
                  See config.example.toml for every key."
)]
pub struct Cli {
    /// Configuration file (default: $LSN_OPS_CONFIG, ./config.toml, ~/.config/lsn-ops/config.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The dashboard (the default command)
    Tui(TuiArgs),
    /// Webhook receiver, inbox applier, command executor, schedulers and probes
    Worker {
        #[command(subcommand)]
        action: Option<WorkerAction>,
    },
    /// Everything at once: create and migrate the database, seed if empty, run the worker, open the dashboard
    Demo(TuiArgs),
    /// The dashboard served over SSH to operators' registered keys
    SshServer,
    /// Apply the database migrations embedded in this binary
    Migrate,
    /// Deterministic synthetic data (use an empty database)
    Seed(SeedArgs),
    /// The morning checklist facts; exit 0 healthy, 1 warnings, 2 critical
    Status(StatusArgs),
    /// The weekly creator payout batch
    Payouts {
        #[command(subcommand)]
        action: PayoutsAction,
    },
    /// Creators' bank details
    Creators {
        #[command(subcommand)]
        action: CreatorsAction,
    },
    /// The runbook's checklists (morning, evening, pre-show, post-show): show one, tick an item
    Checklist {
        #[command(subcommand)]
        action: Option<ChecklistAction>,
    },
    /// GMV, conversion, AOV, dispute win rate, payout success rate and the runbook's other metrics
    Report {
        #[command(subcommand)]
        period: ReportPeriod,
    },
    /// The runbook's weekly and monthly maintenance
    Maintenance {
        #[command(subcommand)]
        task: MaintenanceTask,
    },
    /// Fraud model feedback and the blocklist
    Fraud {
        #[command(subcommand)]
        action: FraudAction,
    },
    /// Who may do what: roles viewer, agent, finance, admin
    Operators {
        #[command(subcommand)]
        action: OperatorsAction,
    },
    /// Disputes: the SLA queue, evidence, the pack, submit to PayPal, accept, take or assign
    Disputes {
        #[command(subcommand)]
        action: DisputesAction,
    },
    /// Support lookups: find an order, duplicate charges
    Orders {
        #[command(subcommand)]
        action: OrdersAction,
    },
    /// Refund an order in full or in part through PayPal (agents up to their limit)
    Refund(RefundArgs),
    /// Returns: open an RMA within the return window, receive it (refund + restock)
    Returns {
        #[command(subcommand)]
        action: ReturnsAction,
    },
    /// Stock: low (reorder point), oversold, the suggested reorder list
    Inventory {
        #[command(subcommand)]
        action: InventoryAction,
    },
    /// Alerts: list, acknowledge, silence, resolve.
    Alerts {
        #[command(subcommand)]
        action: AlertsAction,
    },
    /// Incidents: list, show, open, assign, note, status, resolve.
    Incidents {
        #[command(subcommand)]
        action: IncidentsAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum DisputesAction {
    /// The queue, most urgent first (active disputes unless --all)
    List {
        /// OPEN, EVIDENCE_REQUIRED, EVIDENCE_BUILDING, EVIDENCE_READY, SUBMITTED, WON, LOST, CLOSED
        #[arg(long)]
        state: Option<String>,
        /// An operator's name, or - for unassigned
        #[arg(long)]
        owner: Option<String>,
        /// Part of the reason, e.g. NOT_RECEIVED or unauthorised
        #[arg(long)]
        reason: Option<String>,
        /// Decided and closed disputes too
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10000))]
        limit: i64,
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// One dispute: its deadlines, the seven evidence items with status and source, submission, outcome
    Show {
        /// The dispute's number or PayPal id (PP-D-...)
        id: String,
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// Take a dispute (assign it to yourself)
    Take { id: String },
    /// Assign a dispute to an operator who works disputes
    Assign { id: String, name: String },
    /// Add a note or a file to an evidence item, or mark it not applicable
    Attach {
        id: String,
        /// The item: 1-7 or its key (order_confirmation, shipping_tracking, ...)
        item: String,
        #[arg(long, conflicts_with_all = ["file", "not_applicable"])]
        note: Option<String>,
        /// A file to send with the evidence (at most 10 MB)
        #[arg(long, conflicts_with = "not_applicable")]
        file: Option<PathBuf>,
        /// The item does not apply to this case: why
        #[arg(long, value_name = "REASON")]
        not_applicable: Option<String>,
    },
    /// Write the evidence pack (PDF) as the evidence stands now
    Pack {
        id: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Send the evidence to PayPal (once per stage; needs EVIDENCE_READY)
    Submit { id: String },
    /// Accept the buyer's claim: PayPal refunds them (above the agent limit: finance or admin)
    Accept {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Win rate (won / decided) and recovery rate (value won / value disputed) by reason and creator
    Rates {
        /// Disputes opened in the last this many days (0: all)
        #[arg(long, default_value_t = 90)]
        days: i64,
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrdersAction {
    /// Find orders by order number, email, PayPal payer id or capture id
    Find {
        query: String,
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// Cancel an order not yet shipped: its stock released at once, what was captured refunded
    Cancel {
        /// The order number (LSN-0000042)
        order: String,
        #[arg(long)]
        reason: String,
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// Captures by one payer for one amount within [ops] duplicate_window_minutes
    Duplicates {
        /// Look back this many days
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(i64).range(1..=365))]
        days: i64,
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct RefundArgs {
    /// The order number (LSN-0000042)
    pub order: String,
    /// Amount in the order's currency, e.g. 12.34 (default: the items' price, else everything left)
    #[arg(long)]
    pub amount: Option<String>,
    /// Whole items given back (their stock is released): SKU[:UNITS],...
    #[arg(long, value_delimiter = ',')]
    pub items: Vec<String>,
    /// Refund this capture (a duplicate charge) instead of the order's first
    #[arg(long)]
    pub capture: Option<String>,
    #[arg(long)]
    pub reason: String,
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
}

#[derive(Debug, Subcommand)]
pub enum ReturnsAction {
    /// Issue an RMA number if the order is within its return window
    Open {
        order: String,
        /// Returned items: SKU[:UNITS],...
        #[arg(long, value_delimiter = ',', required = true)]
        items: Vec<String>,
        #[arg(long)]
        reason: String,
        /// The product is defective: flag it for quality review, do not restock
        #[arg(long)]
        defective: bool,
    },
    /// The goods arrived: refund the returned items and put them back in stock
    Receive { rma: String },
}

#[derive(Debug, Subcommand)]
pub enum InventoryAction {
    /// Products at or below their reorder point (pinned in today's or tomorrow's shows first)
    Low {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Products reserved beyond what is on hand, with the affected orders (newest first)
    Oversold {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Suggested purchase quantities from the last 14 days' sales and the reorder point
    Reorder {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsAction {
    /// Unresolved alerts, most severe first (--all: the latest resolved too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// Acknowledge a firing alert (records who and when).
    Ack { id: i64 },
    /// Silence the alerts of a dedup key (or "prefix*") for a while.
    Silence {
        key: String,
        /// How long: 30m, 2h, 1d.
        #[arg(long = "for", value_name = "DURATION")]
        r#for: String,
        #[arg(long)]
        reason: String,
    },
    /// Resolve an alert with a note.
    Resolve {
        id: i64,
        #[arg(long)]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum IncidentsAction {
    /// Open incidents by deadline, with the time left (--all: resolved too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// One incident and its timeline.
    Show { id: i64 },
    /// Declare an incident: from an alert (--alert ID) or fresh (--priority, --title).
    Open {
        #[arg(long)]
        alert: Option<i64>,
        #[arg(long, value_name = "P0|P1|P2|P3")]
        priority: Option<String>,
        #[arg(long)]
        title: Option<String>,
    },
    /// Make someone the incident's commander.
    Assign { id: i64, who: String },
    /// Add a note to the timeline.
    Note { id: i64, text: String },
    /// investigating, identified, monitoring or resolved.
    Status {
        id: i64,
        state: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Resolve with a summary.
    Resolve {
        id: i64,
        #[arg(long)]
        note: String,
    },
}

#[derive(Debug, Clone, clap::Args, Default)]
pub struct TuiArgs {
    /// Read-only wall-monitor mode: cycles the panes, shouts about P0s (implies --readonly)
    #[arg(long)]
    pub wall: bool,
    /// Nothing can be changed from this dashboard, whatever the operator's role
    #[arg(long)]
    pub readonly: bool,
    /// Act as this operator (admins only; audited as "ADMIN as NAME"). The
    /// operator is otherwise the OS account running the dashboard
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
    /// ASCII borders and symbols (automatic when the locale is not UTF-8)
    #[arg(long)]
    pub ascii: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// How many orders to generate (1000000 is the benchmark scale)
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=20_000_000))]
    pub orders: u64,
    /// Random seed: the same seed and size always give the same data
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    Csv,
}

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum FraudAction {
    /// Decisions by outcome, false-positive rate and each indicator's precision
    Report {
        /// Look back this many days
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=3650))]
        days: i64,
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// Add a blocklist entry (agent or admin), with a reason
    Block {
        #[arg(value_parser = ["ip", "email", "device", "payer"])]
        kind: String,
        value: String,
        #[arg(long)]
        reason: String,
    },
    /// Remove a blocklist entry, with a reason
    Unblock {
        #[arg(value_parser = ["ip", "email", "device", "payer"])]
        kind: String,
        value: String,
        #[arg(long)]
        reason: String,
    },
    /// Check the reference lists in [fraud] reference_dir (disposable domains,
    /// proxy ranges, IP reputation) and look an IP or email up in them
    Lists {
        /// Look this IP address up (proxy range, reputation)
        #[arg(long)]
        ip: Option<std::net::IpAddr>,
        /// Look this email's domain up (disposable)
        #[arg(long)]
        email: Option<String>,
    },
    /// Recompute fraud scores with the current weights, thresholds and lists
    /// (agent or admin). Decided orders keep their decision.
    Rescore {
        /// Order numbers to rescore
        #[arg(required_unless_present = "queue")]
        orders: Vec<String>,
        /// Rescore every order in the review queue (pending and review)
        #[arg(long, conflicts_with = "orders")]
        queue: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkerAction {
    /// Reconcile now: ask PayPal and Wise about stuck captures and transfers (a running worker executes it)
    Sync,
    /// Put a dead (or failed) inbox event back in the queue
    Replay {
        /// The event's id (provider_events.id)
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum PayoutsAction {
    /// Build a week's batch from the payable orders (idempotent; finance)
    Generate {
        /// ISO week, e.g. 2026-W48 (default: this week in [ops] timezone)
        #[arg(long)]
        week: Option<String>,
    },
    /// Show a batch (default: the current one) with its lines, or one line's orders
    Show {
        batch: Option<i64>,
        /// One line's breakdown: every attributed order with its computation
        #[arg(long)]
        line: Option<i64>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Approve a generated batch (finance; not who generated or changed it)
    Approve { batch: i64 },
    /// Send the approved batch's pending lines through Wise (finance)
    Process { batch: i64 },
    /// Send failed lines again (finance); never a line whose money may have moved
    Retry {
        batch: i64,
        #[arg(long)]
        line: Option<i64>,
    },
    /// Add an adjustment line for a creator to the open batch, or the next one (finance)
    Adjust {
        creator: String,
        /// Amount in the batch currency, e.g. 25.00
        #[arg(allow_hyphen_values = true)]
        amount: String,
        #[arg(long)]
        reason: String,
    },
    /// Hold a creator's unsent payout lines (finance)
    Hold {
        creator: String,
        #[arg(long)]
        reason: String,
    },
    /// Release a creator's held payout lines (finance)
    Release {
        creator: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CreatorsAction {
    /// Verify or invalidate a creator's bank details (finance; audited)
    Bank {
        creator: String,
        #[arg(value_parser = ["verify", "invalidate"])]
        action: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChecklistAction {
    /// A list with each item done or open (default: today's morning list until 18:00, then the evening one)
    Show {
        /// morning, evening, preshow or postshow
        list: Option<String>,
        /// The show of a pre-show or post-show list
        #[arg(long)]
        show: Option<i64>,
        /// The ops day of a morning or evening list (YYYY-MM-DD, "today", "yesterday"; default today)
        #[arg(long)]
        date: Option<String>,
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// Tick an operator's item (agents, finance, admins; audited); data items settle themselves
    Tick {
        /// morning, evening, preshow or postshow
        list: String,
        /// The item's key (`checklist show` lists them)
        item: String,
        #[arg(long)]
        show: Option<i64>,
        #[arg(long)]
        date: Option<String>,
        /// A note kept with the tick
        #[arg(long)]
        note: Option<String>,
        /// Take the tick back
        #[arg(long)]
        undo: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportPeriod {
    /// One ops day: GMV, orders, AOV, conversion, refunds, disputes, payouts, fraud, webhooks, shows
    Daily {
        /// The ops day (YYYY-MM-DD, "today" or "yesterday"; default: yesterday)
        #[arg(long)]
        date: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// One show's performance: GMV, orders, AOV, conversion, viewers, top products, refunds, disputes
    Show {
        /// The show's id (pane 2 and `status` show it)
        id: i64,
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// Dispute win and recovery rates by reason and by creator
    Disputes {
        /// Disputes opened in the last this many days (0: all)
        #[arg(long, default_value_t = 90)]
        days: i64,
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// Seven ops days ending with --date (default: the seven days up to yesterday)
    Weekly {
        /// The last ops day of the week (YYYY-MM-DD, "today" or "yesterday"; default: yesterday)
        #[arg(long)]
        date: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum MaintenanceTask {
    /// VACUUM (ANALYZE) every table, a bloat report, REINDEX CONCURRENTLY of bloated indexes
    Optimize {
        /// Rebuild an index whose estimated bloat is above this percentage (default: [maintenance] reindex_above_pct)
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=99))]
        reindex_above_pct: Option<u8>,
    },
    /// Delete applied webhook events, probe samples and log files past retention (a dry run unless --apply)
    Cleanup {
        /// Delete (without it: count and say what would go)
        #[arg(long)]
        apply: bool,
        /// Retention in days (default: [maintenance] retention_days)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=36500))]
        days: Option<u32>,
    },
    /// pg_dump (custom format) into DIR, with a manifest: size, SHA-256, row counts, migration
    Backup {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Restore FILE into a scratch database and compare with its manifest; exit 0 only on a match
    VerifyBackup { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum OperatorsAction {
    /// List operators and their roles
    List,
    /// Add an operator, or change their role
    Add {
        name: String,
        #[arg(long, value_parser = ["viewer", "agent", "finance", "admin"])]
        role: String,
    },
    /// Remove an operator (they become a viewer; their SSH keys go too)
    Remove { name: String },
    /// SSH keys for `lsn-ops ssh-server`: add, remove, list
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Let NAME log in over SSH with this public key (admins only)
    Add {
        name: String,
        /// The whole line of the .pub file: "ssh-ed25519 AAAA... comment"
        key: String,
    },
    /// Take a key away from NAME (admins only)
    Remove {
        name: String,
        /// The key's SHA256:... fingerprint, or the key itself
        key: String,
    },
    /// The registered keys, of NAME or of everyone
    List { name: Option<String> },
}

/// A failure with its exit code, already phrased for the operator.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure {
            code: 2,
            message: e.0,
        }
    }
}

impl From<color_eyre::Report> for Failure {
    fn from(report: color_eyre::Report) -> Self {
        if let Some(config) = report.downcast_ref::<ConfigError>() {
            return Failure {
                code: 2,
                message: config.0.clone(),
            };
        }
        let chain: Vec<String> = report.chain().map(|e| e.to_string()).collect();
        let mut message = String::new();
        for part in chain {
            if !message.contains(&part) {
                if !message.is_empty() {
                    message.push_str(": ");
                }
                message.push_str(&part);
            }
        }
        Failure { code: 1, message }
    }
}

impl Failure {
    /// A change the store refused or could not make, for command `what`
    /// ("fraud block"): exit 1 either way; a refusal is its own sentence
    /// (it says who may do it), a database failure names the command.
    pub fn store(what: &str, e: crate::store::authz::AuthError) -> Failure {
        use crate::store::authz::AuthError;
        let message = match e {
            AuthError::Refused(refusal) => refusal.to_string(),
            AuthError::Sql(e) => format!("{what}: database: {e}"),
        };
        Failure { code: 1, message }
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure {
            code: 1,
            message: e.to_string(),
        }
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // Errors are printed as one line by us; a panic is one line too, its full
    // report goes to a file (`telemetry::install_panic_hook`; the dashboard
    // restores the terminal first). color-eyre only formats error reports.
    let (_, eyre_hook) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .into_hooks();
    let _ = eyre_hook.install();
    crate::telemetry::install_panic_hook();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("lsn-ops: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Parses nothing, runs `cli`: returns the exit code or a [`Failure`].
pub fn run(cli: Cli) -> Result<u8, Failure> {
    let loaded = config::load(cli.config.as_deref())?;
    let command = cli.command.unwrap_or(Command::Tui(TuiArgs::default()));
    let log_name = match &command {
        Command::Worker { .. } => "worker.log",
        Command::Tui(_) | Command::Demo(_) => "tui.log",
        Command::SshServer => "ssh.log",
        _ => "cli.log",
    };
    let _guard = match crate::telemetry::init(&loaded.config.log, log_name) {
        Ok(guard) => Some(guard),
        Err(reason) => {
            eprintln!("lsn-ops: warning: logging disabled: {reason}");
            None
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            code: 1,
            message: format!("cannot start the async runtime: {e}"),
        })?;
    runtime.block_on(crate::store::closing_pools(crate::commands::dispatch(
        command, loaded,
    )))
}
