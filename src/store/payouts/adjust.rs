//! Changing a batch's lines: adjustments (`payouts adjust`), holds and
//! releases of a creator's lines, and a creator's bank details
//! (`creators bank ... verify|invalidate`). Each records who changed the
//! batch, so that they cannot approve it (maker-checker).

use super::*;

async fn creator_id(conn: &mut PgConnection, creator: &str) -> Result<i64, PayoutError> {
    let handle = creator.trim().trim_start_matches('@');
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM creators WHERE handle = $1 OR id::text = $1 FOR UPDATE")
            .bind(handle)
            .fetch_optional(&mut *conn)
            .await?;
    match id {
        Some(id) => Ok(id),
        None => refused(format!("there is no creator {creator:?}")),
    }
}

fn require_reason(reason: &str) -> Result<(), PayoutError> {
    if reason.trim().is_empty() {
        return refused("a reason is required");
    }
    Ok(())
}

/// Records that `actor` changed an open batch: they may not approve it.
async fn changed(conn: &mut PgConnection, batch_id: i64, actor: &Actor) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payout_batches SET last_changed_by = $2, last_changed_at = now(), makers = makers || $3::text[]
          WHERE id = $1 AND state IN ('draft', 'generated')",
    )
    .bind(batch_id)
    .bind(actor.audit_name())
    .bind(people(actor))
    .execute(conn)
    .await?;
    Ok(())
}

/// Where an adjustment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjusted {
    pub item_id: i64,
    pub batch_id: i64,
    pub week: IsoWeek,
    pub held: Option<String>,
}

/// Adds an adjustment line (its own transfer) for `creator` to the open batch
/// (generated, not yet approved), or to the next week's batch (a draft that
/// the next generation fills). Amounts are positive: Wise cannot take money back.
pub async fn adjust(
    pool: &PgPool,
    actor: &Actor,
    schedule: &Schedule,
    creator: &str,
    amount: Money,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Adjusted, PayoutError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::PreparePayouts).await?;
    require_reason(reason)?;
    if amount.currency != schedule.currency {
        return refused(format!(
            "payouts are in {}, not {}",
            schedule.currency.code(),
            amount.currency.code()
        ));
    }
    if amount.minor <= 0 {
        return refused(
            "an adjustment pays the creator a positive amount (a transfer cannot take money back); to pay less, hold the creator's line and adjust after",
        );
    }
    let creator_id = creator_id(&mut tx, creator).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(GENERATE_LOCK)
        .execute(&mut *tx)
        .await?;
    let open: Option<(i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, scheduled_for FROM payout_batches WHERE state = ANY($1) AND currency = $2
          ORDER BY scheduled_for LIMIT 1 FOR UPDATE",
    )
    .bind(OPEN)
    .bind(schedule.currency.code())
    .fetch_optional(&mut *tx)
    .await?;
    let (batch_id, at) = match open {
        Some(b) => b,
        None => {
            // The first week after the latest batch (and not in the past).
            let latest: Option<DateTime<Utc>> = sqlx::query_scalar(
                "SELECT max(scheduled_for) FROM payout_batches WHERE currency = $1",
            )
            .bind(schedule.currency.code())
            .fetch_one(&mut *tx)
            .await?;
            let mut week = schedule.this_week(now);
            while latest.is_some_and(|l| schedule.batch_at(week) <= l)
                || schedule.batch_at(week) < now
            {
                week = week.next();
            }
            let at = schedule.batch_at(week);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO payout_batches (period_start, period_end, scheduled_for, state, currency)
                 VALUES ($1, $2, $2, 'draft', $3) RETURNING id",
            )
            .bind(schedule.batch_at(week.previous()))
            .bind(at)
            .bind(schedule.currency.code())
            .fetch_one(&mut *tx)
            .await?;
            (id, at)
        }
    };
    let (bank, hold): (String, Option<String>) =
        sqlx::query_as("SELECT recipient_status, payout_hold_reason FROM creators WHERE id = $1")
            .bind(creator_id)
            .fetch_one(&mut *tx)
            .await?;
    let held = hold_reason(hold.as_deref(), &bank);
    let item_id: i64 = sqlx::query_scalar(
        "INSERT INTO payout_items (id, batch_id, creator_id, kind, currency, commission_bps, amount_minor, state,
                                   hold_reason, note, customer_transaction_id)
         SELECT n, $1, $2, 'adjustment', $3, 0, $4, $5, $6, $7, md5('lsn-ops payout line ' || n)::uuid
           FROM (SELECT nextval('payout_items_id_seq') AS n) s
         RETURNING id",
    )
    .bind(batch_id)
    .bind(creator_id)
    .bind(amount.currency.code())
    .bind(amount.minor)
    .bind(if held.is_some() { "held" } else { "pending" })
    .bind(&held)
    .bind(reason.trim())
    .fetch_one(&mut *tx)
    .await?;
    changed(&mut tx, batch_id, actor).await?;
    sqlx::query(
        "UPDATE payout_batches SET makers = makers || $2::text[], last_changed_by = $3, last_changed_at = now()
          WHERE id = $1 AND state = 'draft'",
    )
    .bind(batch_id)
    .bind(people(actor))
    .bind(actor.audit_name())
    .execute(&mut *tx)
    .await?;
    crate::store::audit(
        &mut tx,
        &actor.audit_name(),
        "payouts.adjust",
        "payout_item",
        &item_id.to_string(),
        json!({ "batch_id": batch_id, "creator_id": creator_id, "amount_minor": amount.minor,
                "currency": amount.currency.code(), "reason": reason.trim() }),
    )
    .await?;
    tx.commit().await?;
    Ok(Adjusted {
        item_id,
        batch_id,
        week: week_of(at, &schedule.tz),
        held,
    })
}

/// What a hold or a release touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub lines: Vec<i64>,
    /// Lines left alone, with why (a transfer already on its way).
    pub skipped: Vec<(i64, String)>,
}

/// Holds the creator's unsent lines (pending, in any batch not yet paid) with
/// `reason`; a transfer not yet sent is cancelled, one in flight is left alone.
async fn hold_lines(
    conn: &mut PgConnection,
    creator_id: i64,
    reason: &str,
    actor: &Actor,
) -> Result<Touched, PayoutError> {
    let lines: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, batch_id FROM payout_items WHERE creator_id = $1 AND state = 'pending' FOR UPDATE",
    )
    .bind(creator_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Touched::default();
    for (id, batch_id) in lines {
        let commands: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, state FROM commands
              WHERE kind = 'wise_transfer' AND (payload ->> 'payout_item_id')::bigint = $1
                AND state IN ('pending', 'in_flight', 'failed') FOR UPDATE",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        if commands.iter().any(|(_, s)| s == "in_flight") {
            out.skipped
                .push((id, "its transfer is being sent right now".into()));
            continue;
        }
        for (cmd, _) in commands {
            outbox::cancel(conn, cmd).await?;
        }
        sqlx::query(
            "UPDATE payout_items SET state = 'held', hold_reason = $2, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(reason)
        .execute(&mut *conn)
        .await?;
        changed(conn, batch_id, actor).await?;
        out.lines.push(id);
    }
    Ok(out)
}

/// Releases the creator's held lines whose hold starts with `prefix`, when
/// nothing else holds them (their creator hold, their bank details).
async fn release_lines(
    conn: &mut PgConnection,
    creator_id: i64,
    prefix: &str,
    actor: &Actor,
) -> Result<Touched, PayoutError> {
    let (bank, hold): (String, Option<String>) =
        sqlx::query_as("SELECT recipient_status, payout_hold_reason FROM creators WHERE id = $1")
            .bind(creator_id)
            .fetch_one(&mut *conn)
            .await?;
    let still = hold_reason(hold.as_deref(), &bank);
    let lines: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, batch_id FROM payout_items
          WHERE creator_id = $1 AND state = 'held' AND hold_reason LIKE $2 || '%' FOR UPDATE",
    )
    .bind(creator_id)
    .bind(prefix)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Touched::default();
    for (id, batch_id) in lines {
        match &still {
            Some(h) => {
                sqlx::query(
                    "UPDATE payout_items SET hold_reason = $2, updated_at = now() WHERE id = $1",
                )
                .bind(id)
                .bind(h)
                .execute(&mut *conn)
                .await?;
                out.skipped.push((id, format!("still held: {h}")));
            }
            None => {
                sqlx::query(
                    "UPDATE payout_items SET state = 'pending', hold_reason = NULL, updated_at = now() WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *conn)
                .await?;
                changed(conn, batch_id, actor).await?;
                out.lines.push(id);
            }
        }
    }
    Ok(out)
}

/// `payouts hold CREATOR --reason`: the creator's unsent lines and future ones are held.
pub async fn hold(
    pool: &PgPool,
    actor: &Actor,
    creator: &str,
    reason: &str,
) -> Result<Touched, PayoutError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::PreparePayouts).await?;
    require_reason(reason)?;
    let id = creator_id(&mut tx, creator).await?;
    sqlx::query(
        "UPDATE creators SET payout_hold_reason = $2, payout_hold_by = $3, payout_hold_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(reason.trim())
    .bind(actor.audit_name())
    .execute(&mut *tx)
    .await?;
    let out = hold_lines(
        &mut tx,
        id,
        &format!("{HOLD_CREATOR}{}", reason.trim()),
        actor,
    )
    .await?;
    crate::store::audit(
        &mut tx,
        &actor.audit_name(),
        "payouts.hold",
        "creator",
        &id.to_string(),
        json!({ "reason": reason.trim(), "lines": out.lines, "skipped": out.skipped.len() }),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// `payouts release CREATOR --reason`: lifts the creator's hold.
pub async fn release(
    pool: &PgPool,
    actor: &Actor,
    creator: &str,
    reason: &str,
) -> Result<Touched, PayoutError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::PreparePayouts).await?;
    require_reason(reason)?;
    let id = creator_id(&mut tx, creator).await?;
    sqlx::query(
        "UPDATE creators SET payout_hold_reason = NULL, payout_hold_by = NULL, payout_hold_at = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let out = release_lines(&mut tx, id, HOLD_CREATOR, actor).await?;
    crate::store::audit(
        &mut tx,
        &actor.audit_name(),
        "payouts.release",
        "creator",
        &id.to_string(),
        json!({ "reason": reason.trim(), "lines": out.lines }),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// `creators bank CREATOR verify|invalidate --reason`.
pub async fn bank(
    pool: &PgPool,
    actor: &Actor,
    creator: &str,
    verify: bool,
    reason: &str,
) -> Result<Touched, PayoutError> {
    let mut tx = pool.begin().await?;
    authz::authorize(&mut tx, actor, Permission::PreparePayouts).await?;
    require_reason(reason)?;
    let id = creator_id(&mut tx, creator).await?;
    let (recipient, before): (Option<i64>, String) =
        sqlx::query_as("SELECT wise_recipient_id, recipient_status FROM creators WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let out = if verify {
        if recipient.is_none() {
            return refused(format!(
                "creator {creator} has no Wise recipient account on file: nothing to verify"
            ));
        }
        sqlx::query(
            "UPDATE creators SET recipient_status = 'verified', recipient_verified_at = now() WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        release_lines(&mut tx, id, HOLD_BANK, actor).await?
    } else {
        sqlx::query(
            "UPDATE creators SET recipient_status = 'invalid', recipient_verified_at = NULL WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        hold_lines(&mut tx, id, &format!("{HOLD_BANK}invalid"), actor).await?
    };
    crate::store::audit(
        &mut tx,
        &actor.audit_name(),
        if verify {
            "creators.bank.verify"
        } else {
            "creators.bank.invalidate"
        },
        "creator",
        &id.to_string(),
        json!({ "reason": reason.trim(), "before": before, "lines": out.lines }),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}
