//! The hand-built [`Snapshot`] of the screen tests, the dashboard unit tests and
//! the frame benchmark: every pane filled, deterministic for a given `now`.
//! Test and bench support only: compiled for `cargo test` and with the
//! `fixtures` feature (which the crate's tests, benches and examples enable
//! through its dev-dependency on itself), never into the release binary.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::{
    AlertRow, BlockRow, DisputeRow, FraudRow, HourlyGmv, IncidentRow, IndicatorRow, PayoutItemRow,
    ShowRow, Snapshot,
};
use crate::domain::money::{Currency, Money};
use crate::store::status::{
    AlertCounts, DisputeCounts, FraudCounts, IncidentCounts, MorningFacts, OrderFacts,
    PayoutBatchFacts, ShowsToday, WebhookCounts, ops_day_bounds,
};

/// A fixed, hand-built snapshot at `now` (ops day in `tz`): the data of the
/// screen tests and the benchmark without a database. Deterministic for a given `now`.
#[allow(clippy::type_complexity)]
pub fn fixture(now: DateTime<Utc>, tz: &chrono_tz::Tz) -> Snapshot {
    let usd = Currency::USD;
    let m = |minor: i64| Money::new(minor, usd);
    let mins = Duration::minutes;
    let hours = Duration::hours;
    let (day_start, _) = ops_day_bounds(now, tz);
    let local_day = now.with_timezone(tz).date_naive();

    let mut alerts = vec![
        alert(
            1,
            "critical",
            Some("P0"),
            "show_cannot_start",
            "Live show cannot start: \"Sneaker Drop Friday\" has no video room",
            now - mins(7),
            "open",
            1,
            None,
        ),
        alert(
            2,
            "critical",
            Some("P1"),
            "payment_failure_rate",
            "Payment failure rate 6.20% over 15 min (> 5%)",
            now - mins(23),
            "acknowledged",
            4,
            Some("maria"),
        ),
        alert(
            3,
            "warning",
            Some("P1"),
            "dispute_sla_at_risk",
            "3 disputes within 4h of their evidence deadline",
            now - mins(41),
            "open",
            2,
            None,
        ),
        alert(
            4,
            "warning",
            Some("P2"),
            "api_p95",
            "API p95 612 ms (> 500 ms)",
            now - hours(2),
            "open",
            9,
            None,
        ),
        alert(
            5,
            "warning",
            Some("P2"),
            "low_stock",
            "Low stock for today's shows: 4 products at or under reorder point",
            now - hours(3),
            "acknowledged",
            1,
            Some("devon"),
        ),
        alert(
            6,
            "info",
            Some("P3"),
            "fraud_backlog",
            "High-risk queue backlog: 12 orders waiting over 2h",
            now - hours(5),
            "open",
            1,
            None,
        ),
    ];
    // A silenced alert and one recovering (its condition clear, not yet for recover_s).
    alerts[3].silenced_until = Some(now + hours(1));
    alerts[5].recovering = true;
    let incidents = vec![
        IncidentRow {
            id: 41,
            priority: "P0".into(),
            title: "Sneaker Drop Friday cannot start (no Twilio room)".into(),
            state: "investigating".into(),
            commander: Some("maria".into()),
            opened_at: now - mins(6),
            due_at: now + mins(54),
            summary: String::new(),
            alert_id: None,
            escalation_level: 0,
            last_event: None,
        },
        IncidentRow {
            id: 40,
            priority: "P1".into(),
            title: "PayPal capture failures above 5%".into(),
            state: "identified".into(),
            commander: None,
            opened_at: now - hours(3) - mins(50),
            due_at: now + mins(10),
            summary: String::new(),
            alert_id: None,
            escalation_level: 0,
            last_event: None,
        },
        IncidentRow {
            id: 37,
            priority: "P2".into(),
            title: "Slow seller dashboard".into(),
            state: "monitoring".into(),
            commander: Some("devon".into()),
            opened_at: now - hours(20),
            due_at: now + hours(4),
            summary: "Index added, watching".into(),
            alert_id: None,
            escalation_level: 1,
            last_event: Some("status: identified → monitoring".into()),
        },
    ];
    let creators = [
        "Ava Chen",
        "Marcus Bell",
        "Priya Raman",
        "Leo Ortiz",
        "Sam Okafor",
        "Nina Petrova",
        "Jules Martin",
        "Kenji Mori",
    ];
    let show_specs: [(&str, i64, &str, bool, i32, i64, i64); 7] = [
        (
            "Morning Makeup Must-Haves",
            -300,
            "ended",
            true,
            0,
            212,
            1_934_550,
        ),
        ("Vintage Denim Hour", -150, "ended", true, 0, 98, 742_300),
        (
            "Kitchen Gadget Blitz",
            -35,
            "live",
            true,
            1_284,
            57,
            402_150,
        ),
        ("Sneaker Drop Friday", -7, "scheduled", false, 0, 0, 0),
        ("Skincare Q&A", 20, "preshow", true, 0, 0, 0),
        ("Gaming Gear Deals", 95, "scheduled", false, 0, 0, 0),
        ("Late Night Jewelry", 260, "scheduled", false, 0, 0, 0),
    ];
    let shows: Vec<ShowRow> = show_specs
        .iter()
        .enumerate()
        .map(
            |(i, &(title, start_min, status, room, viewers, orders, sales))| {
                let start = now + mins(start_min);
                let start = if start < day_start {
                    day_start + mins(i as i64)
                } else {
                    start
                };
                ShowRow {
                    id: 100 + i as i64,
                    title: title.into(),
                    creator: creators[i % creators.len()].into(),
                    scheduled_start: start,
                    scheduled_end: start + hours(1),
                    status: status.into(),
                    started_at: matches!(status, "live" | "ended").then(|| start + mins(1)),
                    has_room: room,
                    current_viewers: viewers,
                    peak_viewers: viewers.max(if status == "ended" {
                        2_310 - 300 * i as i32
                    } else {
                        0
                    }),
                    orders,
                    sales: m(sales),
                    pinned_products: 6 + i as i64,
                    low_stock_products: if i == 2 || i == 4 { 2 } else { 0 },
                    // The live show's half hour: a ramp to its peak, a dip.
                    viewer_trend: if status == "live" {
                        (0..30u32)
                            .map(|m| {
                                if m < 20 {
                                    200 + m * 55
                                } else {
                                    1_284 - (m - 20) * 20
                                }
                            })
                            .collect()
                    } else {
                        Vec::new()
                    },
                    recording_status: if status == "live" {
                        "recording"
                    } else if status == "ended" {
                        "saved"
                    } else {
                        "none"
                    }
                    .into(),
                }
            },
        )
        .collect();
    let dispute_specs: [(&str, i64, Option<i64>, &str, i64, &str, i64); 9] = [
        (
            "EVIDENCE_REQUIRED",
            -23 * 60 - 30,
            Some(3 * 24 * 60),
            "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
            18_999,
            "maria",
            2,
        ),
        (
            "OPEN",
            -22 * 60,
            Some(6 * 24 * 60),
            "UNAUTHORISED",
            24_900,
            "",
            0,
        ),
        (
            "EVIDENCE_BUILDING",
            -20 * 60,
            Some(26 * 60),
            "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
            7_450,
            "devon",
            4,
        ),
        (
            "EVIDENCE_REQUIRED",
            -14 * 60,
            Some(9 * 60),
            "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
            132_000,
            "",
            1,
        ),
        (
            "EVIDENCE_READY",
            -6 * 60,
            Some(10 * 24 * 60),
            "DUPLICATE_TRANSACTION",
            5_600,
            "maria",
            7,
        ),
        ("OPEN", -90, None, "INCORRECT_AMOUNT", 3_125, "", 0),
        (
            "SUBMITTED",
            -30 * 60,
            Some(5 * 24 * 60),
            "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
            45_000,
            "devon",
            7,
        ),
        (
            "EVIDENCE_REQUIRED",
            -25 * 60,
            Some(2 * 24 * 60),
            "CREDIT_NOT_PROCESSED",
            8_800,
            "",
            3,
        ),
        (
            "OPEN",
            -10,
            Some(9 * 24 * 60),
            "UNAUTHORISED",
            1_234_567,
            "",
            0,
        ),
    ];
    let mut disputes: Vec<DisputeRow> = dispute_specs
        .iter()
        .enumerate()
        .map(
            |(i, &(state, opened_min, hard_min, reason, amount, who, evidence))| {
                let opened = now + mins(opened_min);
                DisputeRow {
                    id: 500 + i as i64,
                    paypal_dispute_id: format!("PP-D-{:05}", 48_210 + i * 7),
                    order_number: Some(format!("LSN-{:07}", 1_004_200 + i * 13)),
                    state: state.into(),
                    reason: reason.into(),
                    stage: Some(if i % 3 == 0 { "CHARGEBACK" } else { "INQUIRY" }.into()),
                    amount: m(amount),
                    opened_at: opened,
                    sla_due_at: opened + hours(24),
                    seller_response_due_at: hard_min.map(|h| opened + mins(h)),
                    assigned_to: (!who.is_empty()).then(|| who.to_string()),
                    evidence_done: evidence,
                    creator: Some(["ava", "marcus", "lena"][i % 3].to_string()),
                    submitted_by: (state == "SUBMITTED").then(|| who.to_string()),
                    submitted_at: (state == "SUBMITTED").then(|| opened + hours(20)),
                    auto_submitted: false,
                    manual_reason: (state == "EVIDENCE_READY").then(|| {
                        format!(
                            "auto-submits at the internal deadline, {} (until then evidence may be added)",
                            (opened + hours(24)).format("%Y-%m-%d %H:%M UTC")
                        )
                    }),
                }
            },
        )
        .collect();
    disputes.sort_by_key(|d| (d.state == "SUBMITTED", d.deadline(), d.id));

    let payout_specs: [(&str, &str, i32, i64, i64, i32, &str, &str); 8] = [
        (
            "Ava Chen", "platinum", 412, 2_843_000, 1_620_000, 3000, "failed", "verified",
        ),
        (
            "Marcus Bell",
            "gold",
            230,
            1_512_500,
            880_000,
            2500,
            "held",
            "unverified",
        ),
        (
            "Priya Raman",
            "gold",
            198,
            1_320_000,
            760_000,
            2500,
            "pending",
            "verified",
        ),
        (
            "Leo Ortiz",
            "silver",
            120,
            702_400,
            398_000,
            1500,
            "pending",
            "verified",
        ),
        (
            "Sam Okafor",
            "silver",
            96,
            551_000,
            315_000,
            1500,
            "pending",
            "verified",
        ),
        (
            "Nina Petrova",
            "bronze",
            40,
            189_900,
            120_000,
            1000,
            "pending",
            "verified",
        ),
        (
            "Jules Martin",
            "bronze",
            22,
            98_000,
            61_000,
            1000,
            "pending",
            "verified",
        ),
        ("Kenji Mori", "bronze", 0, 0, 0, 1000, "pending", "verified"),
    ];
    let payout_items: Vec<PayoutItemRow> = payout_specs
        .iter()
        .enumerate()
        .map(
            |(i, &(creator, tier, n, total, costs, bps, state, recipient))| {
                let adjustment = i == 7;
                let amount = if adjustment {
                    2_500
                } else {
                    (total - costs) * i64::from(bps) / 10_000
                };
                PayoutItemRow {
                    id: 900 + i as i64,
                    creator: creator.into(),
                    tier: tier.into(),
                    kind: if adjustment { "adjustment" } else { "earnings" }.into(),
                    order_count: n,
                    order_total: m(total),
                    costs: m(costs),
                    commission_bps: bps,
                    amount: m(amount),
                    state: state.into(),
                    recipient_status: recipient.into(),
                    hold_reason: (state == "held")
                        .then(|| "bank details changed 2 days ago".to_string()),
                    failure_reason: (state == "failed")
                        .then(|| "Wise: recipient account closed".to_string()),
                    attempts: if state == "failed" { 2 } else { 0 },
                }
            },
        )
        .collect();
    let payout_total = payout_items.iter().map(|p| p.amount.minor).sum::<i64>();
    let friday = {
        use chrono::Datelike;
        let ahead = (4 + 7 - i64::from(local_day.weekday().num_days_from_monday())) % 7;
        let date = local_day + Duration::days(ahead);
        tz.from_local_datetime(&date.and_hms_opt(14, 0, 0).unwrap_or_default())
            .earliest()
            .map_or(now, |t| t.with_timezone(&Utc))
    };

    let emails = [
        "buyer.fast@tempmail.io",
        "j.smith@example.com",
        "deals4u@mailinator.com",
        "anna.k@example.org",
        "x9x9@proton.me",
        "mike.r@example.com",
        "new.user@example.net",
        "carla@example.com",
        "zz@guerrilla.biz",
        "tom.b@example.com",
    ];
    // Each queue row's signals, one letter per indicator; its indicators,
    // evidence and score come from the real rules, so the fixture adds up.
    // v velocity, d shared device, r IP reputation, p proxy, g geo mismatch,
    // s shipping != billing, e disposable email, f failed payments, h
    // high-value first order, y payment history.
    let signals = [
        "vdpgse", "vdrpg", "vrphg", "yvrp", "vfrp", "vdpg", "vdps", "vdf", "vdp", "vds",
    ];
    let rules = crate::domain::fraud::Rules::default();
    let fraud: Vec<FraudRow> = signals
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let has = |c: char| code.contains(c);
            let total = m(12_000 + 31_337 * i as i64);
            let ip = format!("203.0.113.{}", 10 + i);
            let sig = crate::domain::fraud::Signals {
                ip: Some(ip.clone()),
                orders_from_ip: if has('v') { 3 + i as u32 } else { 1 },
                device: Some("fp_fixture_shared".into()),
                other_accounts_on_device: if has('d') { 3 } else { 0 },
                ip_abuse_score: has('r').then_some(85),
                proxy_range: has('p').then(|| "203.0.113.0/24 (fixture VPN)".into()),
                // Shipping elsewhere always differs from an IP country too, so
                // a row with `s` but no `g` has no known IP country.
                ip_country: if has('g') {
                    Some("NL".into())
                } else if has('s') {
                    None
                } else {
                    Some("US".into())
                },
                billing_country: Some("US".into()),
                shipping_country: Some(if has('s') { "NG" } else { "US" }.into()),
                payer_disputes: u32::from(has('y')),
                previous_orders: if has('h') { 0 } else { 2 },
                total_minor: total.minor,
                total_display: total.display(),
                email_domain: emails[i].rsplit_once('@').map(|(_, d)| d.to_string()),
                email_domain_disposable: has('e'),
                failed_payments: if has('f') { 3 } else { 0 },
                blocklisted: None,
            };
            let hits = crate::domain::fraud::hits(&sig, &rules);
            let score = i16::from(crate::domain::fraud::score(&hits));
            // Row 5 is on a running review hold; rows 6-9 came back when theirs ended.
            let state = if i >= 5 { "review" } else { "pending" };
            let hold_until = match i {
                5 => Some(now + hours(20)),
                6.. => Some(now - mins(10 * i as i64)),
                _ => None,
            };
            FraudRow {
                order_id: 70_000 + i as i64,
                order_number: format!("LSN-{:07}", 1_009_000 + i * 31),
                score,
                state: state.into(),
                total,
                email: emails[i].into(),
                ip: Some(ip),
                created_at: now - mins(5 + 17 * i as i64),
                hold_until,
                indicators: hits
                    .into_iter()
                    .map(|h| IndicatorRow {
                        indicator: h.indicator.as_str().into(),
                        points: i16::from(h.points),
                        evidence: h.evidence,
                    })
                    .collect(),
                claimed_by: (i == 2).then(|| "dana".to_string()),
                // The last order came from the storefront, not a show.
                show: (i < 9).then(|| show_specs[i % show_specs.len()].0.to_string()),
                creator: (i < 9).then(|| {
                    creators[i % creators.len()]
                        .to_lowercase()
                        .replace(' ', "_")
                }),
            }
        })
        .collect();
    debug_assert!(fraud.windows(2).all(|w| w[0].score > w[1].score));

    let gmv = m(48_213_077);
    let paid = 1_043;
    let facts = MorningFacts {
        generated_at: now,
        timezone: tz.name().to_string(),
        ops_day: local_day.to_string(),
        alerts: AlertCounts {
            critical: 2,
            warning: 3,
            info: 1,
            unacknowledged: 4,
        },
        incidents: IncidentCounts {
            open: 3,
            overdue: 0,
            p0: 1,
            p1: 1,
        },
        disputes: DisputeCounts {
            active: disputes.len() as i64,
            due_within_24h: 4,
            overdue: 0,
        },
        payout_batch: Some(PayoutBatchFacts {
            id: 12,
            state: "generated".into(),
            scheduled_for: friday,
            total: m(payout_total),
            items: payout_items.len() as i64,
            failed_items: 1,
            held_items: 1,
            pending_items: 2,
            pending_total: m(payout_total / 2),
            older_failed_items: 0,
        }),
        fraud: FraudCounts {
            threshold: 70,
            high_risk_pending: 7,
            review_holds_expired: 0,
        },
        shows_today: ShowsToday {
            total: 7,
            live: 1,
            upcoming: 3,
            ended: 2,
            cannot_start: 1,
            shows: Vec::new(),
        },
        orders_today: OrderFacts {
            orders: 1_118,
            paid,
            payment_failed: 41,
            gmv,
            aov: gmv.divide(paid),
            conversion_bps: Some(327),
        },
        webhooks: WebhookCounts {
            pending: 3,
            failed: 1,
            dead: 0,
        },
        low_stock_for_today: 4,
        checklist: Some(crate::store::checklists::ChecklistCount {
            list: crate::domain::checklists::List::Morning,
            done: 5,
            total: 7,
        }),
    };
    Snapshot {
        taken_at: now,
        sales_read_at: now,
        rates_read_at: now,
        facts,
        alerts,
        incidents,
        shows,
        disputes,
        dispute_rates: fixture_dispute_rates(),
        payout_items,
        fraud,
        fraud_queue_total: 23,
        blocklist: fixture_blocklist(now),
        blocklist_total: 25,
        gmv_by_hour: fixture_gmv_by_hour(now, tz),
    }
}

/// Ninety days of decided disputes: 31 won of 50, by reason and by creator.
fn fixture_dispute_rates() -> crate::store::disputes::rates::Rates {
    use crate::store::disputes::rates::{Rate, Rates};
    let rate = |key: &str, decided, won, disputed_minor, won_minor| Rate {
        key: key.into(),
        decided,
        won,
        disputed_minor,
        won_minor,
    };
    Rates {
        since: None,
        overall: rate("all", 50, 31, 2_450_000, 1_390_000),
        by_reason: vec![
            rate(
                "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
                22,
                16,
                1_100_000,
                810_000,
            ),
            rate("UNAUTHORISED", 12, 5, 640_000, 190_000),
            rate(
                "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
                9,
                6,
                420_000,
                260_000,
            ),
            rate("DUPLICATE_TRANSACTION", 7, 4, 290_000, 130_000),
        ],
        by_creator: vec![
            rate("ava", 14, 10, 700_000, 520_000),
            rate("marcus", 9, 4, 380_000, 150_000),
            rate("lena", 6, 5, 240_000, 210_000),
        ],
    }
}

/// A shopping day's shape: quiet nights, a lunch bump, the evening shows;
/// today so far and the same weekday last week (a little lower).
fn fixture_gmv_by_hour(now: DateTime<Utc>, tz: &chrono_tz::Tz) -> HourlyGmv {
    let shape = [
        2, 1, 1, 1, 1, 2, 4, 7, 9, 12, 14, 18, 21, 17, 15, 16, 20, 26, 34, 41, 38, 27, 15, 6,
    ];
    let (day_start, _) = ops_day_bounds(now, tz);
    let hours = usize::try_from((now - day_start).num_hours() + 1)
        .unwrap_or(1)
        .min(24);
    HourlyGmv {
        today: shape[..hours].iter().map(|&k| k * 21_500).collect(),
        last_week: shape.iter().map(|&k| k * 18_900).collect(),
    }
}

fn fixture_blocklist(now: DateTime<Utc>) -> Vec<BlockRow> {
    let specs: [(&str, &str, &str, &str, i64, i64, bool); 5] = [
        (
            "ip",
            "203.0.113.77",
            "Velocity from one IP / device across accounts",
            "maria",
            12,
            14,
            true,
        ),
        (
            "email",
            "deals4u@mailinator.com",
            "Disposable email and VPN on a high-value first order",
            "dana",
            95,
            3,
            true,
        ),
        (
            "device",
            "fp_shared_15",
            "Card testing ring, 40 accounts on one device",
            "devon",
            26 * 60,
            203,
            false,
        ),
        (
            "payer",
            "PAYER2115503571",
            "Chargeback fraud confirmed by PayPal",
            "maria",
            3 * 24 * 60,
            6,
            false,
        ),
        (
            "ip",
            "198.51.100.23",
            "Known proxy exit node",
            "dana",
            9 * 24 * 60,
            1_000,
            false,
        ),
    ];
    specs
        .iter()
        .enumerate()
        .map(
            |(i, &(kind, value, reason, by, ago_min, orders, decided))| BlockRow {
                id: 300 - i as i64,
                kind: kind.into(),
                value: value.into(),
                reason: reason.into(),
                added_by: by.into(),
                added_at: now - Duration::minutes(ago_min),
                orders,
                decision_id: decided.then_some(8_000 + i as i64),
            },
        )
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn alert(
    id: i64,
    severity: &str,
    priority: Option<&str>,
    rule: &str,
    title: &str,
    opened_at: DateTime<Utc>,
    state: &str,
    occurrences: i32,
    acked_by: Option<&str>,
) -> AlertRow {
    AlertRow {
        id,
        severity: severity.into(),
        priority: priority.map(str::to_string),
        rule_key: rule.into(),
        title: title.into(),
        details: String::new(),
        state: state.into(),
        opened_at,
        last_seen_at: opened_at,
        occurrences,
        acked_by: acked_by.map(str::to_string),
        dedup_key: format!("{rule}:{id}"),
        source: "lsn-ops".into(),
        silenced_until: None,
        recovering: false,
    }
}
