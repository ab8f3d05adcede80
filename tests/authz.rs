//! The one authorization point, on a real PostgreSQL: every store function
//! that changes data on an operator's behalf refuses a viewer, a read-only
//! session (even an admin's), an operator without the role, and a non-admin
//! acting as someone else, with a message that says why, and writes nothing
//! (every table of the public schema is the same, row for row, before and
//! after). An agent over the refund limit is refused the same way. The
//! allowed operator gets the change (so these tests can fail), and the first
//! admin of an empty operators table bootstraps, once, even when two try at
//! the same time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use lsn_ops::domain::operators::{Actor, Role};
use lsn_ops::store::fraud::{self, BlockToggles, Decision, DecisionRequest};
use lsn_ops::store::operators;
use lsn_ops::worker::{apply, reconcile, scoring};
use sqlx::PgPool;

/// Every table in the public schema: its row count and a digest of its rows.
/// Two snapshots are equal only when nothing was inserted, updated or deleted.
async fn tables(pool: &PgPool) -> BTreeMap<String, (i64, String)> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    assert!(names.len() > 20, "the schema is there: {names:?}");
    let mut out = BTreeMap::new();
    for name in names {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let row: (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {quoted} t"
        )))
        .fetch_one(pool)
        .await
        .expect("table digest");
        out.insert(name, row);
    }
    out
}

/// The tables whose rows differ between two snapshots.
fn changed(
    before: &BTreeMap<String, (i64, String)>,
    after: &BTreeMap<String, (i64, String)>,
) -> Vec<String> {
    after
        .iter()
        .filter(|(name, row)| before.get(*name) != Some(*row))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The data every case works on.
struct Fixture {
    /// A high-risk order pending review, with a completed $40.00 capture.
    order: i64,
    /// Another, claimed by whoever a release case needs.
    claimed: i64,
    /// Another, decided by whoever an undo case needs.
    decided: i64,
    /// A dead inbox event.
    dead_event: i64,
}

async fn fixture(pool: &PgPool) -> Fixture {
    sqlx::query(
        "INSERT INTO operators (name, role, created_by) VALUES ('ada', 'admin', 't'), ('alice', 'agent', 't'),
                ('fin', 'finance', 't'), ('victor', 'viewer', 't')",
    )
    .execute(pool)
    .await
    .expect("operators");
    let customer: i64 = sqlx::query_scalar(
        "INSERT INTO customers (email, name, country) VALUES ('f@mailinator.com', 'F', 'US') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("customer");
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO orders (order_number, customer_id, status, currency, subtotal_minor, total_minor, email, ip,
                             device_fingerprint, paypal_payer_id, fraud_score, fraud_state, created_at, paid_at)
         SELECT 'F-' || k, $1, 'on_hold', 'USD', 4000, 4000, 'f' || k || '@mailinator.com', ('203.0.113.' || k)::inet,
                'fp-' || k, 'PAYER' || k, 85, 'pending', now() - interval '1 hour', now() - interval '1 hour'
           FROM generate_series(1, 4) k ORDER BY k RETURNING id",
    )
    .bind(customer)
    .fetch_all(pool)
    .await
    .expect("orders");
    sqlx::query(
        "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency)
         SELECT id, 'CAP-' || id, 'COMPLETED', 4000, 'USD' FROM orders WHERE id = ANY($1)",
    )
    .bind(&ids[..3])
    .execute(pool)
    .await
    .expect("payments");
    // A capture stuck pending: what `worker sync` asks PayPal about.
    sqlx::query(
        "INSERT INTO payments (order_id, capture_id, status, amount_minor, currency, created_at, updated_at)
         VALUES ($1, 'CAP-STUCK', 'PENDING', 4000, 'USD', now() - interval '30 minutes', now() - interval '30 minutes')",
    )
    .bind(ids[3])
    .execute(pool)
    .await
    .expect("stuck payment");
    sqlx::query(
        "INSERT INTO blocklist (kind, value, reason, added_by) VALUES ('email', 'ring@fraud.test', 'card testing', 'alice')",
    )
    .execute(pool)
    .await
    .expect("blocklist");
    let dead_event: i64 = sqlx::query_scalar(
        "INSERT INTO provider_events (provider, event_id, event_type, payload, status, attempts, last_error)
         VALUES ('paypal', 'WH-DEAD', 'PAYMENT.CAPTURE.COMPLETED', '{}', 'dead', 8, 'unknown order') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("dead event");
    Fixture {
        order: ids[0],
        claimed: ids[1],
        decided: ids[2],
        dead_event,
    }
}

/// Every store function that changes data on an operator's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Claim,
    Release,
    Approve,
    /// A decline that refunds and blocklists the email.
    Decline,
    Undo,
    Block,
    Unblock,
    /// Adds an admin (so a bootstrap cannot slip through either).
    AddOperator,
    RemoveOperator,
    Rescore,
    Replay,
    Sync,
}

const OPS: [Op; 12] = [
    Op::Claim,
    Op::Release,
    Op::Approve,
    Op::Decline,
    Op::Undo,
    Op::Block,
    Op::Unblock,
    Op::AddOperator,
    Op::RemoveOperator,
    Op::Rescore,
    Op::Replay,
    Op::Sync,
];

impl Op {
    /// What the refusal says the permission covers, and who holds it.
    fn needs(self) -> (&'static str, &'static str) {
        match self {
            Op::Block | Op::Unblock => ("change the blocklist", "an agent or an admin"),
            Op::AddOperator | Op::RemoveOperator => ("manage operators", "an admin"),
            Op::Replay | Op::Sync => ("operate the worker", "an admin"),
            _ => ("decide fraud orders", "an agent or an admin"),
        }
    }

    /// Someone whose role does not hold the permission, with their role.
    fn wrong_role(self) -> (&'static str, &'static str) {
        match self.needs().1 {
            "an admin" => ("alice", "an agent"),
            _ => ("fin", "a finance"),
        }
    }

    /// Someone who may.
    fn allowed(self) -> Actor {
        match self.needs().1 {
            "an admin" => Actor::new("ada"),
            _ => Actor::new("alice"),
        }
    }

    /// What the case needs in place for `actor` (before the snapshot).
    async fn prepare(self, pool: &PgPool, f: &Fixture, actor: &Actor) {
        match self {
            Op::Release => {
                sqlx::query(
                    "INSERT INTO fraud_claims (order_id, operator, expires_at) VALUES ($1, $2, now() + interval '5 minutes')
                     ON CONFLICT (order_id) DO UPDATE SET operator = EXCLUDED.operator",
                )
                .bind(f.claimed)
                .bind(&actor.name)
                .execute(pool)
                .await
                .expect("claim to release");
            }
            Op::Undo => {
                sqlx::query(
                    "INSERT INTO fraud_decisions (order_id, decision, reason, operator, score_seen, previous_state)
                     VALUES ($1, 'approve', 'looked fine', $2, 85, 'pending')",
                )
                .bind(f.decided)
                .bind(&actor.name)
                .execute(pool)
                .await
                .expect("decision to undo");
                sqlx::query(
                    "UPDATE orders SET fraud_state = 'approved', status = 'paid' WHERE id = $1",
                )
                .bind(f.decided)
                .execute(pool)
                .await
                .expect("decided order");
            }
            _ => {}
        }
    }

    /// Runs the store function as `actor`; the error as the operator reads it.
    async fn run(
        self,
        pool: &PgPool,
        f: &Fixture,
        actor: &Actor,
        limit: i64,
    ) -> Result<(), String> {
        let now = Utc::now();
        let decide = |decision| DecisionRequest {
            order_id: f.order,
            actor: actor.clone(),
            decision,
            reason: "Proxy IP and throwaway mailbox".into(),
            score_seen: 85,
            agent_refund_limit_minor: limit,
        };
        let text = |e: &dyn std::fmt::Display| e.to_string();
        match self {
            Op::Claim => fraud::claim(pool, f.order, actor, now)
                .await
                .map(drop)
                .map_err(|e| text(&e)),
            Op::Release => fraud::release(pool, f.claimed, actor)
                .await
                .map_err(|e| text(&e)),
            Op::Approve => fraud::decide(pool, &decide(Decision::Approve), now)
                .await
                .map(drop)
                .map_err(|e| text(&e)),
            Op::Decline => {
                let block = BlockToggles {
                    email: true,
                    ..BlockToggles::default()
                };
                fraud::decide(pool, &decide(Decision::Decline { block }), now)
                    .await
                    .map(drop)
                    .map_err(|e| text(&e))
            }
            Op::Undo => fraud::undo_last(pool, actor)
                .await
                .map(drop)
                .map_err(|e| text(&e)),
            Op::Block => fraud::block(pool, "ip", "198.51.100.7", "card testing", actor)
                .await
                .map(drop)
                .map_err(|e| text(&e)),
            Op::Unblock => fraud::unblock(pool, "email", "ring@fraud.test", "verified", actor)
                .await
                .map(drop)
                .map_err(|e| text(&e)),
            Op::AddOperator => operators::upsert(pool, actor, "newbie", Role::Admin)
                .await
                .map_err(|e| text(&e)),
            Op::RemoveOperator => operators::remove(pool, actor, "fin")
                .await
                .map(drop)
                .map_err(|e| text(&e)),
            Op::Rescore => scoring::rescore(pool, f.order, &scoring::Scoring::default(), actor)
                .await
                .map(drop)
                .map_err(|e| text(&e)),
            Op::Replay => apply::replay(pool, f.dead_event, actor)
                .await
                .map(drop)
                .map_err(|e| text(&e)),
            Op::Sync => reconcile::enqueue_due_for(pool, now, actor)
                .await
                .map(drop)
                .map_err(|e| text(&e)),
        }
    }
}

const LIMIT: i64 = 50_000;

/// Runs `op` as `actor`, expecting a refusal that says `says`, and nothing written.
async fn refused(pool: &PgPool, f: &Fixture, op: Op, actor: &Actor, limit: i64, says: &str) {
    op.prepare(pool, f, actor).await;
    let before = tables(pool).await;
    let result = op.run(pool, f, actor, limit).await;
    let after = tables(pool).await;
    assert_eq!(
        result,
        Err(says.to_string()),
        "{op:?} as {actor:?}: the refusal says why"
    );
    assert!(
        changed(&before, &after).is_empty(),
        "{op:?} as {actor:?} was refused but changed {:?}",
        changed(&before, &after)
    );
}

#[sqlx::test]
async fn every_change_refuses_viewers_read_only_sessions_wrong_roles_and_impersonation(
    pool: PgPool,
) {
    let f = fixture(&pool).await;
    for op in OPS {
        let (what, who) = op.needs();
        // A viewer in the table, and someone not in it (a viewer too).
        for viewer in ["victor", "stranger"] {
            let says = format!("{viewer} is a viewer; to {what} you need to be {who}");
            refused(&pool, &f, op, &Actor::new(viewer), LIMIT, &says).await;
        }
        let (name, role) = op.wrong_role();
        let says = format!("{name} is {role}; to {what} you need to be {who}");
        refused(&pool, &f, op, &Actor::new(name), LIMIT, &says).await;
        // Read-only: even an admin, even the operator who could.
        for actor in [Actor::new("ada").read_only(), op.allowed().read_only()] {
            let says = "read-only session: nothing can be changed from here";
            refused(&pool, &f, op, &actor, LIMIT, says).await;
        }
        // Only an admin may act as someone else, even as an admin.
        let says = "alice is not an admin, so cannot act as ada";
        refused(
            &pool,
            &f,
            op,
            &Actor::acting_as("alice", "ada"),
            LIMIT,
            says,
        )
        .await;
        let says = "victor is not an admin, so cannot act as alice";
        refused(
            &pool,
            &f,
            op,
            &Actor::acting_as("victor", "alice"),
            LIMIT,
            says,
        )
        .await;
    }
}

#[sqlx::test]
async fn the_operator_who_may_gets_the_change(pool: PgPool) {
    let f = fixture(&pool).await;
    for op in OPS {
        let actor = op.allowed();
        op.prepare(&pool, &f, &actor).await;
        let before = tables(&pool).await;
        op.run(&pool, &f, &actor, LIMIT)
            .await
            .unwrap_or_else(|e| panic!("{op:?} as {actor:?}: {e}"));
        let after = tables(&pool).await;
        assert!(
            !changed(&before, &after).is_empty(),
            "{op:?} as {actor:?} changed nothing"
        );
        if op == Op::Approve {
            // Back in the queue for the next case.
            sqlx::query(
                "UPDATE orders SET fraud_state = 'pending', status = 'on_hold' WHERE id = $1",
            )
            .bind(f.order)
            .execute(&pool)
            .await
            .expect("requeue");
        }
    }
}

#[sqlx::test]
async fn an_agent_over_the_refund_limit_is_refused_and_nothing_is_written(pool: PgPool) {
    let f = fixture(&pool).await;
    let says = "a refund of 4000 (minor units) is over the agent limit of 1000: finance or an admin must issue it";
    refused(&pool, &f, Op::Decline, &Actor::new("alice"), 1_000, says).await;
    // An admin acting as the agent has the agent's limit.
    let as_alice = Actor::acting_as("ada", "alice");
    refused(&pool, &f, Op::Decline, &as_alice, 1_000, says).await;
    // Within the limit, or with no limit (an admin), the decline goes through.
    Op::Decline
        .run(&pool, &f, &Actor::new("ada"), 1_000)
        .await
        .expect("an admin has no refund limit");
    let refunds: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refunds WHERE requested_by = 'ada'")
            .fetch_one(&pool)
            .await
            .expect("refunds");
    assert_eq!(refunds, 1);
}

#[sqlx::test]
async fn an_admin_acting_as_an_agent_is_audited_as_such(pool: PgPool) {
    let f = fixture(&pool).await;
    let as_alice = Actor::acting_as("ada", "alice");
    Op::Block
        .run(&pool, &f, &as_alice, LIMIT)
        .await
        .expect("block as alice");
    Op::Approve
        .run(&pool, &f, &as_alice, LIMIT)
        .await
        .expect("approve as alice");
    let audit: Vec<(String, String)> = sqlx::query_as(
        "SELECT operator, action FROM audit_log WHERE action IN ('blocklist.add', 'fraud.approve') ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("audit");
    assert_eq!(
        audit,
        [
            ("ada as alice".to_string(), "blocklist.add".to_string()),
            ("ada as alice".to_string(), "fraud.approve".to_string()),
        ]
    );
    // The decision and the entry are alice's: her role applied.
    let (decided_by, added_by): (String, String) = sqlx::query_as(
        "SELECT (SELECT operator FROM fraud_decisions WHERE order_id = $1),
                (SELECT added_by FROM blocklist WHERE value = '198.51.100.7')",
    )
    .bind(f.order)
    .fetch_one(&pool)
    .await
    .expect("rows");
    assert_eq!((decided_by.as_str(), added_by.as_str()), ("alice", "alice"));
}

#[sqlx::test]
async fn the_first_admin_of_an_empty_table_bootstraps_and_only_the_first(pool: PgPool) {
    let before = tables(&pool).await;
    // Only an admin can bootstrap, and not from a read-only session.
    let anyone = Actor::new("root");
    assert_eq!(
        operators::upsert(&pool, &anyone, "root", Role::Agent)
            .await
            .map_err(|e| e.to_string()),
        Err("root is a viewer; to manage operators you need to be an admin".into())
    );
    assert_eq!(
        operators::upsert(&pool, &anyone.clone().read_only(), "root", Role::Admin)
            .await
            .map_err(|e| e.to_string()),
        Err("read-only session: nothing can be changed from here".into())
    );
    assert!(changed(&before, &tables(&pool).await).is_empty());

    operators::upsert(&pool, &anyone, "maria", Role::Admin)
        .await
        .expect("the first admin");
    assert_eq!(
        operators::upsert(&pool, &Actor::new("mallory"), "mallory", Role::Admin)
            .await
            .map_err(|e| e.to_string()),
        Err("mallory is a viewer; to manage operators you need to be an admin".into())
    );
    // The new admin manages from now on; every change is audited.
    operators::upsert(&pool, &Actor::new("maria"), "sam", Role::Agent)
        .await
        .expect("admin adds an agent");
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT name, role, created_by FROM operators ORDER BY name")
            .fetch_all(&pool)
            .await
            .expect("operators");
    assert_eq!(
        rows,
        [
            ("maria".into(), "admin".into(), "root".into()),
            ("sam".into(), "agent".into(), "maria".into())
        ]
    );
    let audit: Vec<String> = sqlx::query_scalar(
        "SELECT operator FROM audit_log WHERE action = 'operator.set_role' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("audit");
    assert_eq!(audit, ["root", "maria"]);
}

#[sqlx::test]
async fn two_bootstraps_at_once_make_one_admin(pool: PgPool) {
    // Both wait behind a lock on the table; released together, they race.
    let mut gate = pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE operators IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *gate)
        .await
        .expect("lock");
    let mut tasks = Vec::new();
    for name in ["first", "second"] {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            operators::upsert(&pool, &Actor::new(name), name, Role::Admin)
                .await
                .map_err(|e| e.to_string())
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'operators'::regclass",
        )
        .fetch_one(&pool)
        .await
        .expect("locks");
        if waiting == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both bootstraps should be waiting"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gate.rollback().await.expect("release");
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "exactly one bootstrap: {results:?}");
    let refusal = results
        .iter()
        .find_map(|r| r.clone().err())
        .expect("one refused");
    assert!(
        refusal.ends_with("is a viewer; to manage operators you need to be an admin"),
        "{refusal}"
    );
    let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM operators")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(admins, 1);
}
