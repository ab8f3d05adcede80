//! `lsn-ops disputes list|show|take|assign|attach|pack|submit|accept|rates`
//! and `lsn-ops report disputes`: the dispute queue worked from the shell
//! ([`crate::store::disputes`]). Times are shown in `[ops] timezone`.

use chrono::{DateTime, Duration, Utc};

use crate::cli::{DisputesAction, Failure, StatusFormat};
use crate::config::Loaded;
use crate::domain::disputes::DisputeState;
use crate::domain::incidents::format_time_left;
use crate::domain::operators::Actor;
use crate::store::disputes::{self, Attachment, Detail, DisputeError, Submitter, rates::Rates};

fn failure(e: DisputeError) -> Failure {
    Failure {
        code: 1,
        message: match e {
            DisputeError::Sql(e) => format!("disputes: database: {e}"),
            other => format!("refused: {other}"),
        },
    }
}

fn sql(e: sqlx::Error) -> Failure {
    Failure {
        code: 1,
        message: format!("disputes: database: {e}"),
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn local(at: DateTime<Utc>, tz: &chrono_tz::Tz) -> String {
    at.with_timezone(tz).format("%a %d %b %H:%M %Z").to_string()
}

pub async fn run(loaded: &Loaded, action: DisputesAction) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let tz = loaded.timezone;
    let actor = Actor::new(crate::identity::os_account());
    match action {
        DisputesAction::List {
            state,
            owner,
            reason,
            all,
            limit,
            format,
        } => {
            if let Some(s) = &state
                && DisputeState::parse(&s.to_ascii_uppercase()).is_none()
            {
                return Err(Failure {
                    code: 2,
                    message: format!(
                        "--state {s}: expected one of {}",
                        DisputeState::ALL.map(|s| s.as_str()).join(", ")
                    ),
                });
            }
            let filter = disputes::Filter {
                all: all || state.is_some(),
                state,
                owner,
                reason,
                limit,
            };
            let rows = disputes::list(&pool, &filter).await.map_err(sql)?;
            match format {
                StatusFormat::Json => println!("{}", json(&rows)),
                StatusFormat::Text => {
                    if rows.is_empty() {
                        println!("no dispute matches");
                        return Ok(0);
                    }
                    let now = Utc::now();
                    println!(
                        "{:>5}  {:<15} {:<17} {:<12} {:>11} {:>4}  {:<10} Reason",
                        "#", "PayPal id", "State", "Due", "Amount", "Ev", "Owner"
                    );
                    for d in &rows {
                        let awaiting =
                            DisputeState::parse(&d.state).is_some_and(|s| s.awaiting_evidence());
                        println!(
                            "{:>5}  {:<15} {:<17} {:<12} {:>11} {:>2}/7  {:<10} {}",
                            d.id,
                            d.paypal_dispute_id,
                            d.state,
                            if awaiting {
                                format_time_left(d.deadline, now)
                            } else {
                                "-".into()
                            },
                            d.amount.display(),
                            d.evidence_done,
                            d.assigned_to.as_deref().unwrap_or("-"),
                            d.reason
                        );
                    }
                }
            }
            Ok(0)
        }
        DisputesAction::Show { id, format } => {
            let Some(d) = disputes::show(&pool, &id).await.map_err(sql)? else {
                println!("no dispute {id}");
                return Ok(1);
            };
            match format {
                StatusFormat::Json => println!("{}", json(&d)),
                StatusFormat::Text => print!("{}", detail_text(&d, &tz)),
            }
            Ok(0)
        }
        DisputesAction::Take { id } => {
            let m = disputes::assign(&pool, &actor, &id, None)
                .await
                .map_err(failure)?;
            println!("{m}");
            Ok(0)
        }
        DisputesAction::Assign { id, name } => {
            let m = disputes::assign(&pool, &actor, &id, Some(&name))
                .await
                .map_err(failure)?;
            println!("{m}");
            Ok(0)
        }
        DisputesAction::Attach {
            id,
            item,
            note,
            file,
            not_applicable,
        } => {
            let what = match (note, file, not_applicable) {
                (Some(n), None, None) => Attachment::Note(n),
                (None, None, Some(r)) => Attachment::NotApplicable(r),
                (None, Some(path), None) => {
                    let bytes = std::fs::read(&path).map_err(|e| Failure {
                        code: 2,
                        message: format!("--file {}: {e}", path.display()),
                    })?;
                    let name = path
                        .file_name()
                        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
                    Attachment::File { name, bytes }
                }
                _ => {
                    return Err(Failure {
                        code: 2,
                        message: "give one of --note TEXT, --file PATH, --not-applicable REASON"
                            .into(),
                    });
                }
            };
            let m = disputes::attach(&pool, &actor, &id, &item, what)
                .await
                .map_err(failure)?;
            println!("{m}");
            Ok(0)
        }
        DisputesAction::Pack { id, out } => {
            let pack = disputes::export_pack(&pool, &actor, &id)
                .await
                .map_err(failure)?;
            std::fs::write(&out, &pack.pdf).map_err(|e| Failure {
                code: 1,
                message: format!("cannot write {}: {e}", out.display()),
            })?;
            println!(
                "evidence pack of {} written to {} ({} bytes, sha256 {})",
                pack.paypal_dispute_id,
                out.display(),
                pack.pdf.len(),
                pack.sha256
            );
            Ok(0)
        }
        DisputesAction::Submit { id } => {
            let s = disputes::submit(&pool, Submitter::Operator(&actor), &id)
                .await
                .map_err(failure)?;
            println!(
                "evidence for dispute #{} ({}) queued for PayPal (command #{}, pack sha256 {}); the worker sends it once",
                s.dispute_id, s.paypal_dispute_id, s.command_id, s.pack_sha256
            );
            Ok(0)
        }
        DisputesAction::Accept { id, reason } => {
            let a = disputes::accept(
                &pool,
                &actor,
                &id,
                &reason,
                loaded.config.ops.agent_refund_limit_minor,
            )
            .await
            .map_err(failure)?;
            println!(
                "claim of dispute #{} ({}) accepted: PayPal refunds {} to the buyer (refund #{}, command #{})",
                a.dispute_id,
                a.paypal_dispute_id,
                a.amount.display(),
                a.refund_id,
                a.command_id
            );
            Ok(0)
        }
        DisputesAction::Rates { days, format } => rates(loaded, &pool, days, format).await,
    }
}

/// `disputes rates` and `report disputes`.
pub async fn rates(
    loaded: &Loaded,
    pool: &sqlx::PgPool,
    days: i64,
    format: StatusFormat,
) -> Result<u8, Failure> {
    let since = (days > 0).then(|| Utc::now() - Duration::days(days));
    let r = disputes::rates::rates(pool, since, &loaded.config.payouts.currency, 20)
        .await
        .map_err(sql)?;
    match format {
        StatusFormat::Json => println!("{}", json(&r)),
        StatusFormat::Text => print!("{}", rates_text(&r, days)),
    }
    Ok(0)
}

pub fn rates_text(r: &Rates, days: i64) -> String {
    let mut out = format!(
        "Dispute outcomes ({}): {}\n",
        if days > 0 {
            format!("opened in the last {days} days")
        } else {
            "all time".into()
        },
        r.overall.describe()
    );
    out.push_str("\nBy reason:\n");
    for x in &r.by_reason {
        out.push_str(&format!("  {:<40} {}\n", x.key, x.describe()));
    }
    out.push_str("\nBy creator (most disputed first):\n");
    for x in &r.by_creator {
        out.push_str(&format!("  @{:<39} {}\n", x.key, x.describe()));
    }
    out
}

/// `disputes show ID` as text.
pub fn detail_text(d: &Detail, tz: &chrono_tz::Tz) -> String {
    let s = &d.summary;
    let now = Utc::now();
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<14} {v}\n"));
    line("Dispute", format!("#{} {}", s.id, s.paypal_dispute_id));
    line(
        "Order",
        s.order_number.clone().unwrap_or_else(|| "-".into()),
    );
    line("Customer", d.customer.clone().unwrap_or_else(|| "-".into()));
    line(
        "Creator",
        s.creator
            .as_ref()
            .map_or_else(|| "-".into(), |c| format!("@{c}")),
    );
    line("State", s.state.clone());
    line("Reason", s.reason.clone());
    line("Stage", d.stage.clone().unwrap_or_else(|| "-".into()));
    line("Amount", s.amount.display());
    line("Opened", local(s.opened_at, tz));
    line(
        "Internal SLA",
        format!(
            "{} ({})",
            local(d.sla_due_at, tz),
            format_time_left(d.sla_due_at, now)
        ),
    );
    line(
        "PayPal due",
        d.seller_response_due_at.map_or_else(
            || "-".into(),
            |x| format!("{} ({})", local(x, tz), format_time_left(x, now)),
        ),
    );
    line(
        "Owner",
        s.assigned_to.clone().unwrap_or_else(|| "unassigned".into()),
    );
    line("Submission", submission_line(d, tz));
    if let (Some(by), Some(at)) = (&d.accepted_by, d.accepted_at) {
        line(
            "Accepted",
            format!(
                "by {by} at {}: {}",
                local(at, tz),
                d.accept_reason.clone().unwrap_or_default()
            ),
        );
    }
    if let Some(o) = &s.outcome {
        line(
            "Outcome",
            format!(
                "{o}{}",
                d.lost
                    .map_or_else(String::new, |m| format!(", lost {}", m.display()))
            ),
        );
    }
    out.push_str(&format!(
        "\nEvidence ({}/7; required missing: {}):\n",
        s.evidence_done,
        if d.missing_required.is_empty() {
            "none".to_string()
        } else {
            d.missing_required.join(", ")
        }
    ));
    for (n, e) in d.evidence.iter().enumerate() {
        out.push_str(&format!(
            "  {}. {:<33} {:<15}{}\n",
            n + 1,
            e.label,
            e.status.as_str(),
            if e.required { " required" } else { "" }
        ));
        if let Some(src) = &e.source {
            out.push_str(&format!("       source: {src}\n"));
        }
        for l in &e.lines {
            out.push_str(&format!("       {l}\n"));
        }
        if let Some(n) = &e.note {
            out.push_str(&format!("       note: {n}\n"));
        }
        if let Some(f) = &e.file_name {
            out.push_str(&format!(
                "       file: {f} ({} bytes)\n",
                e.file_bytes.unwrap_or(0)
            ));
        }
    }
    if let Some(p) = &d.pack {
        out.push_str(&format!(
            "\nPack #{}: {} bytes, sha256 {}, built {} by {}\n",
            p.id,
            p.bytes,
            p.sha256,
            local(p.created_at, tz),
            p.created_by
        ));
    }
    out
}

/// Where the submission stands, in one line.
pub fn submission_line(d: &Detail, tz: &chrono_tz::Tz) -> String {
    let s = &d.summary;
    match (&s.submitted_by, d.submit_requested_at) {
        (Some(by), Some(at)) => {
            let how = if s.auto_submitted {
                "auto-submitted"
            } else {
                "submitted"
            };
            let state = match d.submit_command_state.as_deref() {
                Some("succeeded") => "PayPal took it".to_string(),
                Some("dead") => format!(
                    "PayPal refused it: {} (s submits again)",
                    d.submit_error.clone().unwrap_or_default()
                ),
                Some(other) => format!("outbox: {other}"),
                None => String::new(),
            };
            format!("{how} by {by} at {}; {state}", local(at, tz))
        }
        _ => d.manual_reason.clone().unwrap_or_else(|| {
            if d.missing_required.is_empty() {
                "manual queue".into()
            } else {
                format!("waiting for evidence: {}", d.missing_required.join(", "))
            }
        }),
    }
}
