//! The alert and incident lifecycle on a real PostgreSQL, with the clock
//! passed in: acknowledge (who, when), refused for a viewer with nothing
//! changed; an acknowledged alert still firing after the ack timeout fires
//! again; a silence holds the page until it expires; incidents escalate along
//! the runbook's path at 1 h and 4 h (the CEO for a P0); and each transition
//! reaches the Slack and PagerDuty simulators exactly once, even with two
//! workers evaluating and sending at the same time.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use lsn_ops::config::{Config, ProbeConfig};
use lsn_ops::domain::incidents::{Priority, Step};
use lsn_ops::domain::operators::Actor;
use lsn_ops::domain::probes::ProbeKind;
use lsn_ops::simulators::paging::PagingSim;
use lsn_ops::store::alert_actions::{self, AlertError};
use lsn_ops::store::authz::AuthError;
use lsn_ops::store::incidents;
use lsn_ops::store::notify::Targets;
use lsn_ops::store::probes::{Sample, insert};
use lsn_ops::worker::monitor::Monitor;
use lsn_ops::worker::notify::Sender;
use sqlx::PgPool;

fn config() -> Config {
    let mut c = Config::default();
    c.alerts.for_s = 0;
    c.alerts.recover_s = 0;
    c.alerts.window_s = 60;
    c.alerts.ack_timeout_min = 30;
    c.probes = vec![ProbeConfig {
        name: "api".into(),
        kind: ProbeKind::Http,
        target: "http://127.0.0.1:9/health".into(),
        interval_s: 10,
        timeout_ms: 1000,
        expect_status: "200-399".into(),
        for_s: None,
        recover_s: None,
        thresholds: Default::default(),
    }];
    c
}

async fn failing(pool: &PgPool, at: DateTime<Utc>) {
    let s = Sample {
        probe: "api".into(),
        at: at - Duration::seconds(1),
        ok: false,
        reached: true,
        latency_ms: Some(15),
        status: Some(500),
        cert_days: None,
        value: None,
        detail: Some("HTTP 500".into()),
    };
    insert(pool, &[s]).await.expect("sample");
}

async fn operator(pool: &PgPool, name: &str, role: &str) -> Actor {
    sqlx::query("INSERT INTO operators (name, role, created_by) VALUES ($1, $2, 'test')")
        .bind(name)
        .bind(role)
        .execute(pool)
        .await
        .expect("operator");
    Actor::new(name)
}

async fn firing_alert(pool: &PgPool, m: &Monitor, now: DateTime<Utc>) -> i64 {
    failing(pool, now).await;
    let tick = m.tick(pool, now).await.expect("tick");
    assert_eq!(tick.outcome.fired.len(), 1, "{tick:?}");
    tick.outcome.fired[0]
}

/// Every table's rows, digested: equal only when nothing changed.
async fn tables(pool: &PgPool) -> BTreeMap<String, String> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    let mut out = BTreeMap::new();
    for name in names {
        let digest: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*)::text || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM \"{name}\" t"
        )))
        .fetch_one(pool)
        .await
        .expect("digest");
        out.insert(name, digest);
    }
    out
}

#[sqlx::test]
async fn ack_records_who_and_when_and_a_viewer_changes_nothing(pool: PgPool) {
    let m = Monitor::from_config(&config(), chrono_tz::UTC);
    let id = firing_alert(&pool, &m, Utc::now()).await;
    let viewer = operator(&pool, "vera", "viewer").await;
    let agent = operator(&pool, "alice", "agent").await;

    let before = tables(&pool).await;
    for refused in [
        alert_actions::ack(&pool, &viewer, id, Targets::default())
            .await
            .err(),
        alert_actions::resolve(&pool, &viewer, id, "fixed", Targets::default())
            .await
            .err(),
        alert_actions::silence(&pool, &viewer, "probe:api:*", Duration::hours(1), "deploy")
            .await
            .err(),
        incidents::open(&pool, &viewer, None, None, Some(id), Targets::default())
            .await
            .err()
            .map(|e| AlertError::Invalid(e.to_string())),
    ] {
        let message = refused.expect("refused").to_string();
        assert!(message.contains("vera is a viewer"), "{message}");
    }
    let readonly = Actor {
        readonly: true,
        ..Actor::new("alice")
    };
    assert!(matches!(
        alert_actions::ack(&pool, &readonly, id, Targets::default()).await,
        Err(AlertError::Auth(AuthError::Refused(_)))
    ));
    assert_eq!(tables(&pool).await, before, "a refusal writes nothing");

    let at = alert_actions::ack(&pool, &agent, id, Targets::default())
        .await
        .expect("agent acks");
    let (state, by, when): (String, Option<String>, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT state, acked_by, acked_at FROM alerts WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("alert");
    assert_eq!(
        (state.as_str(), by.as_deref(), when),
        ("acknowledged", Some("alice"), Some(at))
    );
    let audit: (String, String) = sqlx::query_as(
        "SELECT operator, action FROM audit_log WHERE entity_type = 'alert' AND entity_id = $1 AND action = 'alert.ack'",
    )
    .bind(id.to_string())
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audit, ("alice".into(), "alert.ack".into()));
    // Twice is a conflict, not a second acknowledgement.
    let again = alert_actions::ack(&pool, &agent, id, Targets::default()).await;
    assert!(
        matches!(again, Err(AlertError::Conflict { .. })),
        "{again:?}"
    );

    // Resolving needs a note and records it.
    assert!(matches!(
        alert_actions::resolve(&pool, &agent, id, " ", Targets::default()).await,
        Err(AlertError::Invalid(_))
    ));
    alert_actions::resolve(
        &pool,
        &agent,
        id,
        "rolled back the deploy",
        Targets::default(),
    )
    .await
    .expect("resolve");
    let (state, by, note): (String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT state, resolved_by, resolve_note FROM alerts WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("alert");
    assert_eq!(
        (state.as_str(), by.as_deref(), note.as_deref()),
        ("resolved", Some("alice"), Some("rolled back the deploy"))
    );
}

#[sqlx::test]
async fn an_acknowledged_alert_still_firing_fires_again_after_the_ack_timeout(pool: PgPool) {
    let m = Monitor::from_config(&config(), chrono_tz::UTC);
    let agent = operator(&pool, "alice", "agent").await;
    let start = Utc::now();
    let id = firing_alert(&pool, &m, start).await;
    let acked_at = alert_actions::ack(&pool, &agent, id, Targets::default())
        .await
        .expect("ack");
    let before_timeout = acked_at + Duration::minutes(30) - Duration::seconds(1);
    failing(&pool, before_timeout).await;
    let tick = m.tick(&pool, before_timeout).await.expect("tick");
    assert!(tick.outcome.refired.is_empty());
    let at_timeout = acked_at + Duration::minutes(30);
    failing(&pool, at_timeout).await;
    let tick = m.tick(&pool, at_timeout).await.expect("tick");
    assert_eq!(tick.outcome.refired, vec![id]);
    let (state, by, seq): (String, Option<String>, i32) =
        sqlx::query_as("SELECT state, acked_by, fire_seq FROM alerts WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("alert");
    assert_eq!((state.as_str(), by, seq), ("open", None, 2), "firing again");
}

#[sqlx::test]
async fn a_silence_holds_the_page_until_it_expires(pool: PgPool) {
    let mut c = config();
    let paging = PagingSim::start().await.expect("paging sim");
    paging.apply_to(&mut c);
    let m = Monitor::from_config(&c, chrono_tz::UTC);
    let sender = Sender::new(&c.escalation).expect("sender");
    let agent = operator(&pool, "alice", "agent").await;
    let silence = alert_actions::silence(
        &pool,
        &agent,
        "probe:api:*",
        Duration::hours(1),
        "deploy window",
    )
    .await
    .expect("silence");
    let start = silence.starts_at;
    let id = firing_alert(&pool, &m, start + Duration::seconds(1)).await;
    let listed = lsn_ops::store::alerts::list(&pool, false, start + Duration::seconds(2), 50)
        .await
        .expect("list");
    let shown = listed.iter().find(|a| a.id == id).expect("listed");
    assert_eq!(shown.state, "silenced");
    assert_eq!(shown.silenced_until, Some(silence.ends_at));
    let inside = start + Duration::minutes(59);
    failing(&pool, inside).await;
    m.tick(&pool, inside).await.expect("tick");
    assert_eq!(
        sender.drain(&pool).await.expect("send"),
        0,
        "nothing paged while silenced"
    );
    assert!(paging.slack_messages().is_empty());

    let after = silence.ends_at + Duration::seconds(1);
    failing(&pool, after).await;
    m.tick(&pool, after).await.expect("tick");
    assert_eq!(sender.drain(&pool).await.expect("send"), 2);
    let events = paging.pagerduty_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_action"], "trigger");
    assert_eq!(events[0]["dedup_key"], "probe:api:error_rate");
    assert_eq!(events[0]["payload"]["severity"], "critical");
    assert!(
        paging.slack_messages()[0].contains("FIRING"),
        "{:?}",
        paging.slack_messages()
    );
    paging.shutdown().await;
}

#[sqlx::test]
async fn incidents_escalate_along_the_runbook_path(pool: PgPool) {
    let mut c = config();
    c.escalation.tech_lead = "tina".into();
    c.escalation.cto = "carl".into();
    c.escalation.ceo = "cleo".into();
    let agent = operator(&pool, "alice", "agent").await;
    let p1 = incidents::open(
        &pool,
        &agent,
        Some(Priority::P1),
        Some("Checkout slow"),
        None,
        Targets::default(),
    )
    .await
    .expect("P1");
    let p0 = incidents::open(
        &pool,
        &agent,
        Some(Priority::P0),
        Some("Site down"),
        None,
        Targets::default(),
    )
    .await
    .expect("P0");
    let opened: DateTime<Utc> = sqlx::query_scalar("SELECT max(opened_at) FROM incidents")
        .fetch_one(&pool)
        .await
        .expect("opened");
    let at = |m: i64| opened + Duration::minutes(m);
    let esc = |m| incidents::escalate_due(&pool, &c.escalation, at(m), Targets::default());
    assert_eq!(esc(59).await.expect("escalate"), vec![]);
    assert_eq!(
        esc(60).await.expect("escalate"),
        vec![
            (p1, Step::TechLead),
            (p0, Step::TechLead),
            (p0, Step::Cto),
            (p0, Step::Ceo)
        ]
    );
    assert_eq!(esc(61).await.expect("escalate"), vec![], "each step once");
    assert_eq!(esc(240).await.expect("escalate"), vec![(p1, Step::Cto)]);
    assert_eq!(
        esc(10_000).await.expect("escalate"),
        vec![],
        "a P1 never reaches the CEO"
    );
    let timeline = incidents::timeline(&pool, p1, 50).await.expect("timeline");
    let kinds: Vec<&str> = timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["opened", "escalated", "escalated"]);
    assert!(
        timeline[1].body.contains("technical lead (tina)"),
        "{}",
        timeline[1].body
    );
    assert!(
        timeline[2].body.contains("CTO (carl)"),
        "{}",
        timeline[2].body
    );
    // A resolved incident escalates no more.
    incidents::resolve(&pool, &agent, p0, "restarted the pods", Targets::default())
        .await
        .expect("resolve");
    let level: i32 = sqlx::query_scalar("SELECT escalation_level FROM incidents WHERE id = $1")
        .bind(p0)
        .fetch_one(&pool)
        .await
        .expect("level");
    assert_eq!(level, 3);
}

#[sqlx::test]
async fn incident_states_assign_and_notes_make_the_timeline(pool: PgPool) {
    let agent = operator(&pool, "alice", "agent").await;
    let id = incidents::open(
        &pool,
        &agent,
        Some(Priority::P2),
        Some("Slow search"),
        None,
        Targets::default(),
    )
    .await
    .expect("open");
    incidents::assign(&pool, &agent, id, "bob")
        .await
        .expect("assign");
    incidents::note(&pool, &agent, id, "index missing on products.name")
        .await
        .expect("note");
    for state in ["identified", "monitoring"] {
        let state = lsn_ops::domain::incidents::IncidentState::parse(state).expect("state");
        incidents::set_status(&pool, &agent, id, state, None, Targets::default())
            .await
            .expect("status");
    }
    incidents::resolve(&pool, &agent, id, "index added", Targets::default())
        .await
        .expect("resolve");
    let again = incidents::note(&pool, &agent, id, "late note").await;
    assert!(
        matches!(again, Err(incidents::IncidentError::Resolved(_))),
        "{again:?}"
    );
    let bodies: Vec<String> = incidents::timeline(&pool, id, 50)
        .await
        .expect("timeline")
        .into_iter()
        .map(|e| format!("{} {}", e.kind, e.body))
        .collect();
    assert_eq!(
        bodies,
        [
            "opened P2 declared: Slow search",
            "assigned assigned to bob",
            "note index missing on products.name",
            "status investigating → identified",
            "status identified → monitoring",
            "resolved index added",
        ]
    );
}

#[sqlx::test]
async fn each_transition_is_told_once_even_with_two_workers(pool: PgPool) {
    let mut c = config();
    let paging = PagingSim::start().await.expect("paging sim");
    paging.apply_to(&mut c);
    let (a, b) = (
        Monitor::from_config(&c, chrono_tz::UTC),
        Monitor::from_config(&c, chrono_tz::UTC),
    );
    let (sa, sb) = (
        Sender::new(&c.escalation).expect("sender"),
        Sender::new(&c.escalation).expect("sender"),
    );
    let agent = operator(&pool, "alice", "agent").await;
    let targets = Targets::from_config(&c.escalation);
    let now = Utc::now();
    failing(&pool, now).await;
    // Two workers evaluate the same tick and send at the same time, several times.
    for s in 0..3 {
        let at = now + Duration::seconds(s);
        let (ra, rb) = tokio::join!(a.tick(&pool, at), b.tick(&pool, at));
        ra.expect("tick a");
        rb.expect("tick b");
        let (x, y) = tokio::join!(sa.drain(&pool), sb.drain(&pool));
        x.expect("send a");
        y.expect("send b");
    }
    let id: i64 =
        sqlx::query_scalar("SELECT id FROM alerts WHERE dedup_key = 'probe:api:error_rate'")
            .fetch_one(&pool)
            .await
            .expect("alert");
    alert_actions::ack(&pool, &agent, id, targets)
        .await
        .expect("ack");
    alert_actions::resolve(&pool, &agent, id, "fixed upstream", targets)
        .await
        .expect("resolve");
    let (x, y) = tokio::join!(sa.drain(&pool), sb.drain(&pool));
    x.expect("send a");
    y.expect("send b");
    let actions: Vec<String> = paging
        .pagerduty_events()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["event_action"].as_str().unwrap_or("?"),
                e["dedup_key"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            "trigger probe:api:error_rate",
            "acknowledge probe:api:error_rate",
            "resolve probe:api:error_rate",
        ]
    );
    let slack = paging.slack_messages();
    assert_eq!(slack.len(), 3, "{slack:?}");
    assert!(
        slack[0].contains("FIRING")
            && slack[1].contains("ACKNOWLEDGED by alice")
            && slack[2].contains("RESOLVED (alice)"),
        "{slack:?}"
    );
    assert_eq!(paging.refused(), 0, "every message in the target's format");
    let sent: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications WHERE state = 'sent'")
        .fetch_one(&pool)
        .await
        .expect("sent");
    assert_eq!(sent, 6);
    paging.shutdown().await;
}
