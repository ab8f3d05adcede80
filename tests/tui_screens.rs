//! Whole-screen snapshots of the dashboard (insta over ratatui's TestBackend)
//! at 80x24, 120x40 and 200x60, normal and wall mode, from the fixed fixture
//! snapshot and a fixed clock; plus the screens behind the keys, the outage
//! header, and "no panic at any size".

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use lsn_ops::store::snapshot::fixture;
use lsn_ops::tui::action::{Action, Nav, PaneAction};
use lsn_ops::tui::app::{App, Settings};
use lsn_ops::tui::poller::DataState;
use lsn_ops::tui::theme::{ColorMode, Theme};
use lsn_ops::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

fn now() -> DateTime<Utc> {
    // Tuesday 24 Nov 2026, 09:30 in Los Angeles.
    Utc.with_ymd_and_hms(2026, 11, 24, 17, 30, 0).unwrap()
}

fn tz() -> chrono_tz::Tz {
    chrono_tz::America::Los_Angeles
}

fn app(wall: bool, w: u16, h: u16) -> App {
    let mut app = App::new(
        Settings {
            wall,
            readonly: false,
            operator: "maria".into(),
            tz: tz(),
            threshold: 70,
            wall_cycle: Duration::seconds(15),
            mouse: false,
            keys: Default::default(),
        },
        now(),
        (w, h),
    );
    app.set_data(DataState {
        snapshot: Some(Arc::new(fixture(now() - Duration::seconds(2), &tz()))),
        connected: true,
        last_success: Some(now() - Duration::seconds(2)),
        role: Some(lsn_ops::domain::operators::Role::Agent),
        listening: true,
        ..Default::default()
    });
    app
}

/// New data saying the operator's role is `role` (the keymap follows it).
fn set_role(app: &mut App, role: lsn_ops::domain::operators::Role) {
    let data = DataState {
        role: Some(role),
        ..app.data.clone()
    };
    app.set_data(data);
}

fn theme() -> Theme {
    Theme::load("default", ColorMode::Full, false).expect("default theme")
}

fn render(app: &App, theme: &Theme) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).expect("terminal");
    terminal.draw(|f| ui::draw(f, app, theme)).expect("draw");
    terminal
}

fn text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

macro_rules! screen {
    ($name:ident, $wall:expr, $w:expr, $h:expr) => {
        #[test]
        fn $name() {
            let t = render(&app($wall, $w, $h), &theme());
            insta::assert_snapshot!(t.backend());
        }
    };
}

screen!(normal_80x24, false, 80, 24);
screen!(normal_120x40, false, 120, 40);
screen!(normal_200x60, false, 200, 60);
screen!(wall_80x24, true, 80, 24);
screen!(wall_120x40, true, 120, 40);
screen!(wall_200x60, true, 200, 60);

#[test]
fn every_pane_shows_its_fixture_rows_at_200x60() {
    let s = text(&render(&app(false, 200, 60), &theme()));
    for needle in [
        "Live show cannot start",
        "Kitchen Gadget",
        "NO ROOM",
        "EVIDENCE_REQUIRED",
        "Ava Chen",
        "LSN-1009000",
        "GMV $482,130.77",
        "db ok, live",
    ] {
        assert!(s.contains(needle), "{needle} missing from\n{s}");
    }
}

#[test]
fn help_overlay_lists_every_binding_and_command() {
    use lsn_ops::tui::panes::PaneId;
    // The whole keymap of each pane fits, from the smallest common terminal up.
    for (w, h) in [(80, 24), (120, 40), (200, 60)] {
        for id in PaneId::ALL {
            let mut a = app(false, w, h);
            // The payout keys are finance's; the rest an agent may all use.
            if id == PaneId::Payouts {
                set_role(&mut a, lsn_ops::domain::operators::Role::Finance);
            }
            a.update(Action::Focus(id));
            a.update(Action::ToggleHelp);
            let s = text(&render(&a, &theme()));
            // Every binding of the app and of the pane this operator may use,
            // and every `:` command.
            for b in a
                .help_sections()
                .flat_map(|s| s.bindings.iter())
                .filter(|b| a.keymap.allows(b))
            {
                assert!(
                    s.contains(b.help),
                    "{w}x{h} {id:?}: help lacks {:?}\n{s}",
                    b.help
                );
                if let Some(name) = b.commands.first() {
                    assert!(
                        s.contains(&format!(":{name}")),
                        "{w}x{h}: help lacks :{name}"
                    );
                }
            }
        }
    }
    let mut a = app(false, 120, 40);
    a.update(Action::Focus(lsn_ops::tui::panes::PaneId::Fraud));
    a.update(Action::ToggleHelp);
    insta::assert_snapshot!(render(&a, &theme()).backend());
}

/// What the operations task answers for an open dispute: its seven items
/// (some collected from the data, one an operator's note, one missing) and
/// its pack's text.
fn dispute_detail(id: i64) -> lsn_ops::store::disputes::Detail {
    use lsn_ops::domain::evidence::{self, ItemStatus};
    use lsn_ops::store::disputes::{Detail, EvidenceItem, PackInfo, Summary};
    let snap = fixture(now() - Duration::seconds(2), &tz());
    let row = snap
        .disputes
        .iter()
        .find(|d| d.id == id)
        .expect("the open dispute");
    let statuses = [
        ItemStatus::Collected,
        ItemStatus::Collected,
        ItemStatus::Missing,
        ItemStatus::Collected,
        ItemStatus::Collected,
        ItemStatus::Collected,
        ItemStatus::Collected,
    ];
    let items: Vec<EvidenceItem> = lsn_ops::domain::disputes::EVIDENCE_ITEMS
        .iter()
        .zip(statuses)
        .map(|((key, label), status)| EvidenceItem {
            item: key.to_string(),
            label,
            status,
            source: (status == ItemStatus::Collected).then(|| match *key {
                "refund_policy" => "assets/policies/refund-policy-2026-06-01.md".to_string(),
                "customer_communication" => "note by maria".to_string(),
                _ => format!("orders {}", row.order_number.clone().unwrap_or_default()),
            }),
            required: evidence::is_required(&row.reason, key),
            lines: Vec::new(),
            note: (*key == "customer_communication")
                .then(|| "Buyer called on Nov 23; parcel shown as in transit.".to_string()),
            file_name: None,
            file_bytes: None,
            collected_by: None,
            collected_at: None,
        })
        .collect();
    let case = evidence::Case {
        paypal_dispute_id: row.paypal_dispute_id.clone(),
        order_number: row.order_number.clone(),
        reason: row.reason.clone(),
        stage: row.stage.clone(),
        amount: row.amount.display(),
        opened: "2026-11-23 18:00 UTC".into(),
        deadline: "2026-11-24 18:00 UTC".into(),
        customer: Some("ana@example.com".into()),
        creator: Some("@ava".into()),
        tracking: Some(("UPS".into(), "1Z999AA10123456784".into())),
    };
    let domain_items: Vec<_> = items.iter().map(EvidenceItem::as_domain).collect();
    Detail {
        summary: Summary {
            id,
            paypal_dispute_id: row.paypal_dispute_id.clone(),
            order_number: row.order_number.clone(),
            creator: row.creator.clone(),
            state: row.state.clone(),
            reason: row.reason.clone(),
            amount: row.amount,
            opened_at: row.opened_at,
            deadline: row.deadline(),
            assigned_to: row.assigned_to.clone(),
            evidence_done: 6,
            submitted_by: None,
            submitted_at: None,
            auto_submitted: false,
            outcome: None,
        },
        stage: row.stage.clone(),
        paypal_status: Some("WAITING_FOR_SELLER_RESPONSE".into()),
        sla_due_at: row.sla_due_at,
        seller_response_due_at: row.seller_response_due_at,
        customer: Some("ana@example.com".into()),
        missing_required: evidence::missing_required(
            &row.reason,
            &items
                .iter()
                .map(|i| (i.item.as_str(), i.status))
                .collect::<Vec<_>>(),
        ),
        evidence: items,
        manual_reason: None,
        submit_requested_at: None,
        submit_command_state: None,
        submit_error: None,
        accepted_by: None,
        accepted_at: None,
        accept_reason: None,
        lost: None,
        resolved_at: None,
        closed_at: None,
        pack: Some(PackInfo {
            id: 7,
            sha256: "9f2c4e1a7b3d".repeat(5) + "abcd",
            bytes: 3_412,
            created_at: now() - Duration::minutes(4),
            created_by: "maria".into(),
            text: evidence::pack_text(&case, &domain_items).join("\n"),
        }),
    }
}

#[test]
fn dispute_detail_at_120x40() {
    use lsn_ops::tui::disputes_task::{Answer, Request};
    let mut a = app(false, 120, 40);
    a.update(Action::Focus(lsn_ops::tui::panes::PaneId::Disputes));
    a.update(Action::Nav(Nav::Open));
    let s = text(&render(&a, &theme()));
    assert!(s.contains("Internal SLA"), "{s}");
    assert!(s.contains("Loading"), "{s}");
    // Opening it asked the operations task for its evidence and pack.
    let asked = std::mem::take(&mut a.requests.disputes);
    let [Request::Load(id)] = asked.as_slice() else {
        panic!("{asked:?}");
    };
    a.on_ops(lsn_ops::tui::ops_task::Outcome::Dispute(Answer::Loaded(
        *id,
        Ok(Box::new(dispute_detail(*id))),
    )));
    let s = text(&render(&a, &theme()));
    assert!(s.contains("Evidence: 6/7"), "{s}");
    assert!(s.contains("[ ] 3. Delivery confirmation"), "{s}");
    assert!(s.contains("note: Buyer called on Nov 23"), "{s}");
    insta::assert_snapshot!(render(&a, &theme()).backend());
    // Scrolled down: the pack, as text.
    for _ in 0..3 {
        a.update(Action::Nav(Nav::PageDown));
    }
    let s = text(&render(&a, &theme()));
    assert!(s.contains("Evidence pack #7"), "{s}");
    assert!(s.contains("Dispute evidence pack:"), "{s}");
}

#[test]
fn filter_line_and_filtered_pane_at_80x24() {
    let mut a = app(false, 80, 24);
    a.update(Action::Focus(lsn_ops::tui::panes::PaneId::Fraud));
    a.update(Action::StartFilter);
    for c in "MAILINATOR".chars() {
        a.update(Action::Type(c));
    }
    let s = text(&render(&a, &theme()));
    assert!(s.contains("/MAILINATOR"), "{s}");
    // deals4u@mailinator.com's order stays, j.smith@example.com's goes.
    assert!(s.contains("LSN-1009062"), "{s}");
    assert!(!s.contains("LSN-1009031"), "{s}");
}

#[test]
fn outage_turns_the_header_red_and_keeps_the_data() {
    let mut a = app(false, 120, 40);
    let mut data = a.data.clone();
    data.connected = false;
    data.listening = false;
    data.down_since = Some(now() - Duration::seconds(40));
    data.last_success = Some(now() - Duration::seconds(47));
    data.error = Some("connection refused".into());
    a.set_data(data);
    let t = render(&a, &theme());
    let s = text(&t);
    assert!(
        s.contains("database unreachable since 09:29, data 47 s old"),
        "{s}"
    );
    assert!(
        s.contains("Kitchen Gadget"),
        "the last data stays on screen:\n{s}"
    );
    // The message is white on red.
    let buf = t.backend().buffer();
    let row: String = (0..buf.area.width)
        .map(|x| buf[(x, 0)].symbol().to_string())
        .collect();
    let x = row.find("database unreachable").expect("message") as u16;
    let x = row[..x as usize].chars().count() as u16;
    assert_eq!(buf[(x, 0)].bg, Color::Red);
    // So is the rest of the header: no one misses it.
    assert_eq!(buf[(0, 1)].bg, Color::Red);
    assert_eq!(buf[(buf.area.width - 1, 1)].bg, Color::Red);
}

#[test]
fn p0_rows_are_white_on_red() {
    let t = render(&app(false, 200, 60), &theme());
    let buf = t.backend().buffer();
    let mut found = false;
    for y in 0..buf.area.height {
        let row: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        if let Some(pos) = row.find("P0  INC") {
            let x = row[..pos].chars().count() as u16;
            assert_eq!(buf[(x, y)].bg, Color::Red, "row {y}: {row}");
            found = true;
        }
    }
    assert!(found, "no P0 incident row on screen");
}

#[test]
fn ascii_and_no_color_render_without_unicode_or_colour() {
    let theme = Theme::load("default", ColorMode::None, true).expect("theme");
    let t = render(&app(false, 120, 40), &theme);
    let buf = t.backend().buffer();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            assert!(
                c.symbol().is_ascii(),
                "non-ASCII {:?} at {x},{y}",
                c.symbol()
            );
            assert!(matches!(c.fg, Color::Reset) && matches!(c.bg, Color::Reset));
        }
    }
}

#[test]
fn too_small_screen_names_the_minimum() {
    let s = text(&render(&app(false, 20, 5), &theme()));
    assert!(s.contains("terminal too small"), "{s}");
    assert!(s.contains("60x15"), "{s}");
}

#[test]
fn no_panic_at_any_size() {
    let theme = theme();
    let mut rendered = 0;
    for w in (1..=130)
        .step_by(3)
        .chain([1, 2, 59, 60, 99, 100, 159, 160, 300])
    {
        for h in (1..=50).step_by(2).chain([1, 14, 15, 27, 28, 35, 36, 80]) {
            for wall in [false, true] {
                let mut a = app(wall, w, h);
                a.update(Action::Focus(lsn_ops::tui::panes::PaneId::Fraud));
                a.update(Action::Nav(Nav::Bottom));
                a.update(Action::Nav(Nav::Open));
                let t = render(&a, &theme);
                assert_eq!(t.backend().buffer().area.width, w);
                a.update(Action::ToggleHelp);
                a.update(Action::StartFilter);
                for c in "a very long filter that does not fit anywhere".chars() {
                    a.update(Action::Type(c));
                }
                let t = render(&a, &theme);
                assert_eq!(t.backend().buffer().area.height, h);
                rendered += 1;
            }
        }
    }
    assert!(rendered > 1000);
}

#[test]
fn a_database_without_the_schema_says_what_to_do() {
    let mut a = App::new(
        Settings {
            wall: false,
            readonly: false,
            operator: "maria".into(),
            tz: tz(),
            threshold: 70,
            wall_cycle: Duration::seconds(15),
            mouse: false,
            keys: Default::default(),
        },
        now(),
        (120, 40),
    );
    a.set_data(DataState {
        down_since: Some(now() - Duration::seconds(3)),
        error: Some("no schema, run `lsn-ops migrate`".into()),
        query_failed: true,
        ..Default::default()
    });
    let s = text(&render(&a, &theme()));
    assert!(
        s.contains("db error: no schema, run `lsn-ops migrate` (since 09:29)"),
        "{s}"
    );
    assert!(
        s.contains("No data: the database answered with an error"),
        "{s}"
    );
}

/// The reason dialog of a decline (blocklist toggles, templates, the
/// "reason is required" line) and of a review (24h/48h), as an analyst sees it.
#[test]
fn fraud_reason_dialog_at_80x24_and_120x40() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use lsn_ops::tui::action::Kind;
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let mut a = app(false, w, h);
        a.update(Action::Focus(lsn_ops::tui::panes::PaneId::Fraud));
        a.update(Action::Pane(PaneAction::Decide(Kind::Decline)));
        a.update(Action::Modal(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        )));
        a.update(Action::Modal(KeyEvent::new(
            KeyCode::Char('i'),
            KeyModifiers::ALT,
        )));
        let s = text(&render(&a, &theme()));
        assert!(s.contains("a reason is required"), "{s}");
        insta::assert_snapshot!(format!("fraud_decline_dialog_{w}x{h}"), s);
        a.update(Action::Modal(KeyEvent::new(
            KeyCode::Esc,
            KeyModifiers::NONE,
        )));
        a.update(Action::Pane(PaneAction::Decide(Kind::Review)));
        a.update(Action::Modal(KeyEvent::new(
            KeyCode::Char('2'),
            KeyModifiers::NONE,
        )));
        a.update(Action::Modal(KeyEvent::new(
            KeyCode::Tab,
            KeyModifiers::NONE,
        )));
        let s = text(&render(&a, &theme()));
        insta::assert_snapshot!(format!("fraud_review_dialog_{w}x{h}"), s);
    }
}

/// A viewer sees the Fraud pane but neither the decision keys in the footer
/// nor in `?`, and the keys do nothing.
#[test]
fn a_viewer_neither_sees_nor_uses_the_decision_keys() {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    let mut a = app(false, 120, 40);
    set_role(&mut a, lsn_ops::domain::operators::Role::Viewer);
    a.update(Action::Focus(lsn_ops::tui::panes::PaneId::Fraud));
    let s = text(&render(&a, &theme()));
    assert!(!s.contains("a approve") && !s.contains("d decline"), "{s}");
    for c in ['a', 'r', 'd', 'u', ' '] {
        let ev = Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        // The key is refused (the footer says why), never acted on.
        let action = a.translate(&ev);
        assert!(
            matches!(action, Some(Action::Refused { .. })),
            "{c:?}: {action:?}"
        );
        a.update(action.unwrap());
        assert!(a.panes.fraud.dialog.is_none() && a.requests.triage.is_empty());
    }
    let s = text(&render(&a, &theme()));
    assert!(
        s.contains("maria is a viewer; to decide fraud orders you need to be an agent or an admin"),
        "{s}"
    );
    a.update(Action::ToggleHelp);
    let s = text(&render(&a, &theme()));
    assert!(!s.contains("approve with a reason"), "{s}");
    assert!(!s.contains("Fraud triage"), "{s}");
}

/// The fraud detail: "loading" until the detail task answers, then the items,
/// the customer's history, the indicators and the related orders (the
/// fixture detail); at 80x24 the rest is a PgDn away.
#[test]
fn fraud_detail_with_history_and_related_orders() {
    use lsn_ops::store::fraud_detail;
    use lsn_ops::tui::detail::Loaded;
    use lsn_ops::tui::panes::PaneId;
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let mut a = app(false, w, h);
        a.update(Action::Focus(PaneId::Fraud));
        a.update(Action::Nav(Nav::Open));
        let first = a
            .panes
            .fraud
            .selected_order(a.snapshot().unwrap())
            .expect("an order");
        // The open order and the next one are asked for at once.
        assert_eq!(a.requests.details.len(), 2, "{:?}", a.requests.details);
        assert_eq!(a.requests.details[0], first);
        let s = text(&render(&a, &theme()));
        assert!(s.contains("Loading items, customer history"), "{s}");
        let number = a.snapshot().unwrap().fraud[a.selected_row(PaneId::Fraud).unwrap()]
            .order_number
            .clone();
        a.on_detail(Loaded {
            order_id: first,
            result: Ok(Arc::new(fraud_detail::fixture(
                first,
                &number,
                now() - Duration::seconds(2),
            ))),
        });
        let s = text(&render(&a, &theme()));
        assert!(!s.contains("Loading items"), "{s}");
        insta::assert_snapshot!(format!("fraud_detail_{w}x{h}"), s);
        if w == 120 {
            for needle in [
                "Customer: Jordan Fast",
                "1 previous paid order, $39.99 spent",
                "1 chargeback",
                "Related orders: ip 7 (3 declined)",
                "ip+device",
                "LSN-1008911",
                "decline by dana",
                "1 x Air Retro High OG",
            ] {
                assert!(s.contains(needle), "{needle} missing:\n{s}");
            }
        } else {
            a.update(Action::Nav(Nav::PageDown));
            let s = text(&render(&a, &theme()));
            insta::assert_snapshot!(format!("fraud_detail_{w}x{h}_page2"), s);
        }
    }
}

/// `b` in the Fraud pane: the active blocklist (kind, value, matching orders,
/// who added it and when in ops time, reason), and the add / remove dialogs.
#[test]
fn blocklist_view_and_its_dialogs() {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    use lsn_ops::tui::panes::PaneId;
    let key = |a: &mut App, code: KeyCode| {
        let ev = Event::Key(KeyEvent::new(code, KeyModifiers::NONE));
        if let Some(action) = a.translate(&ev) {
            a.update(action);
        }
    };
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let mut a = app(false, w, h);
        a.update(Action::Focus(PaneId::Fraud));
        key(&mut a, KeyCode::Char('b'));
        assert!(a.panes.fraud.blocklist_open());
        let s = text(&render(&a, &theme()));
        for needle in [
            "Blocklist",
            "203.0.113.77",
            "maria",
            "fp_shared_15",
            "1000+",
        ] {
            assert!(s.contains(needle), "{w}x{h}: {needle} missing:\n{s}");
        }
        // Added 12 minutes before the fixture's 09:29:58 in Los Angeles.
        if w == 120 {
            assert!(s.contains("Tue 09:17"), "{s}");
            assert!(s.contains("n add") && s.contains("x remove"), "{s}");
        }
        insta::assert_snapshot!(format!("fraud_blocklist_{w}x{h}"), s);
        // j moves the selection; a/r/d do nothing here.
        key(&mut a, KeyCode::Char('j'));
        assert_eq!(a.panes.fraud.blocklist.selected, 1);
        key(&mut a, KeyCode::Char('a'));
        assert!(a.panes.fraud.dialog.is_none());
        // x: remove the selected entry, a reason is required.
        key(&mut a, KeyCode::Char('x'));
        key(&mut a, KeyCode::Enter);
        let s = text(&render(&a, &theme()));
        assert!(s.contains("deals4u@mailinator.com"), "{s}");
        assert!(s.contains("a reason is required"), "{s}");
        if w == 120 {
            insta::assert_snapshot!("fraud_blocklist_remove_dialog_120x40", s);
        }
        key(&mut a, KeyCode::Esc);
        // n: add an entry.
        key(&mut a, KeyCode::Char('n'));
        for c in "i198.51.100.9".chars() {
            key(&mut a, KeyCode::Char(c));
        }
        key(&mut a, KeyCode::Tab);
        for c in "ring".chars() {
            key(&mut a, KeyCode::Char(c));
        }
        let s = text(&render(&a, &theme()));
        assert!(s.contains("198.51.100.9") && s.contains("[x] ip"), "{s}");
        if w == 120 {
            insta::assert_snapshot!("fraud_blocklist_add_dialog_120x40", s);
        }
        key(&mut a, KeyCode::Enter);
        assert!(a.panes.fraud.blocklist.dialog.is_none());
        assert_eq!(
            a.requests.triage.last(),
            Some(&lsn_ops::tui::triage::Request::Block {
                kind: "ip".into(),
                value: "198.51.100.9".into(),
                reason: "ring".into()
            })
        );
        // Esc (or b) goes back to the queue.
        key(&mut a, KeyCode::Esc);
        assert!(!a.panes.fraud.blocklist_open());
    }
}

/// Viewers and the wall see the blocklist but cannot change it: no n/x in
/// the footer or help, and the keys do nothing.
#[test]
fn viewers_and_the_wall_cannot_change_the_blocklist() {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    for wall in [false, true] {
        let mut a = app(wall, 120, 40);
        if !wall {
            set_role(&mut a, lsn_ops::domain::operators::Role::Viewer);
        }
        a.update(Action::Focus(lsn_ops::tui::panes::PaneId::Fraud));
        a.update(Action::Pane(PaneAction::ToggleBlocklist));
        let s = text(&render(&a, &theme()));
        assert!(s.contains("203.0.113.77"), "{s}");
        assert!(!s.contains("n add") && !s.contains("x remove"), "{s}");
        for c in ['n', 'x'] {
            let ev = Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
            let action = a.translate(&ev);
            assert!(
                matches!(action, Some(Action::Refused { .. })),
                "{c:?}: {action:?}"
            );
            a.update(action.unwrap());
        }
        assert!(a.panes.fraud.blocklist.dialog.is_none() && a.requests.triage.is_empty());
        a.update(Action::ToggleHelp);
        let s = text(&render(&a, &theme()));
        assert!(!s.contains("add an entry"), "{s}");
    }
}

/// Every theme in every colour mode at 80x24, styles included (the buffer's
/// Debug lists each style run). The words are the same in all of them: no
/// state is told by colour alone; without colour the selection is reverse
/// video.
#[test]
fn each_theme_at_80x24() {
    use lsn_ops::tui::panes::PaneId;
    let mut a = app(false, 80, 24);
    a.update(Action::Focus(PaneId::Fraud));
    let plain = text(&render(&a, &theme()));
    for name in ["default", "high-contrast", "light"] {
        for (mode, tag) in [
            (ColorMode::Full, "full"),
            (ColorMode::Ansi16, "16"),
            (ColorMode::None, "no_color"),
        ] {
            let t = Theme::load(name, mode, false).expect("theme");
            let term = render(&a, &t);
            assert_eq!(text(&term), plain, "{name} {tag}: the words differ");
            let buf = term.backend().buffer().clone();
            if mode == ColorMode::None {
                // The selected row (the first fraud row) is reversed, not coloured.
                let row = (0..buf.area.height)
                    .find(|&y| (0..buf.area.width).any(|x| buf[(x, y)].symbol() == "▶"))
                    .expect("a selected row");
                let cell = &buf[(buf.area.width / 2, row)];
                assert!(
                    cell.modifier.contains(ratatui::style::Modifier::REVERSED),
                    "{name}: selection without colour must be reversed"
                );
                assert_eq!(cell.fg, ratatui::style::Color::Reset);
            }
            insta::assert_debug_snapshot!(format!("theme_{name}_{tag}_80x24"), buf);
        }
    }
}

/// The order overlay (`:order EMAIL`) over the dashboard: items with their
/// stock, payments and refunds with provider ids, deadlines, the customer's
/// other orders; then the refund dialog confirming its amount.
#[test]
fn order_overlay_and_refund_confirmation_at_120x40() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use lsn_ops::store::orders::fixture as order_fixture;
    use lsn_ops::tui::orders_task::Outcome;
    let mut a = app(false, 120, 40);
    let key = |a: &mut App, code: KeyCode| {
        let ev = crossterm::event::Event::Key(KeyEvent::new(code, KeyModifiers::NONE));
        if let Some(action) = a.translate(&ev) {
            a.update(action);
        }
    };
    for c in ":order jo.buyer@example.com".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    a.on_orders(Outcome::Found {
        query: "jo.buyer@example.com".into(),
        hits: order_fixture::hits(now()),
    });
    a.on_orders(Outcome::Loaded(Some(Box::new(order_fixture::view(now())))));
    let screen = text(&render(&a, &theme()));
    assert!(screen.contains("Order LSN-0001234") && screen.contains("SIMREF0000000042"));
    insta::assert_snapshot!("order_overlay_120x40", screen);
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Char('R'));
    for c in "Dented on arrival".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    let screen = text(&render(&a, &theme()));
    assert!(
        screen.contains("Refund 35.00 USD to the buyer through PayPal?"),
        "{screen}"
    );
    insta::assert_snapshot!("order_refund_confirm_120x40", screen);
    // ASCII and no colour: the overlay too.
    let plain = Theme::load("default", ColorMode::None, true).expect("theme");
    let t = render(&a, &plain);
    let buf = t.backend().buffer();
    assert!(
        (0..buf.area.height).all(|y| (0..buf.area.width).all(|x| buf[(x, y)].symbol().is_ascii()))
    );
}

/// Pane 1 with its lifecycle: silenced and recovering alerts, the mute
/// prompt at 80x24, an incident's detail (escalation, latest timeline entry)
/// at 120x40.
#[test]
fn alerts_pane_states_prompt_and_incident_detail() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut a = app(false, 80, 24);
    a.update(Action::Show(lsn_ops::tui::panes::PaneId::Alerts));
    let s = text(&render(&a, &theme()));
    for needle in ["FIRING", "acked", "silenced", "recovering", "a ack"] {
        assert!(s.contains(needle), "{needle} missing from\n{s}");
    }
    insta::assert_snapshot!("alerts_pane_80x24", s);
    a.update(Action::Pane(PaneAction::AlertSilence));
    for c in "2h deploy".chars() {
        a.update(Action::Modal(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    let s = text(&render(&a, &theme()));
    assert!(s.contains("Mute show_cannot_start:1"), "{s}");
    insta::assert_snapshot!("alerts_mute_prompt_80x24", s);

    let mut a = app(false, 120, 40);
    a.update(Action::Show(lsn_ops::tui::panes::PaneId::Alerts));
    // Down to the P2 incident ("Slow seller dashboard", the third incident), then open it.
    let target = a.snapshot().map(|s| s.alerts.len() + 2);
    for _ in 0..12 {
        if a.panes.alerts.table.selected_row() == target {
            break;
        }
        a.update(Action::Nav(Nav::Down));
    }
    a.update(Action::Nav(Nav::Open));
    let s = text(&render(&a, &theme()));
    assert!(s.contains("Escalated to"), "{s}");
    assert!(s.contains("identified → monitoring"), "{s}");
    insta::assert_snapshot!("alerts_incident_detail_120x40", s);
}

/// The duplicates view (`:dup`) over the dashboard at 80x24: the pairs
/// newest first (one with its refund asked already), the selected pair's
/// captures; then `R`: the one-key refund's confirmation with the amount,
/// the order and the pre-filled reason.
#[test]
fn duplicates_view_and_refund_confirmation_at_80x24() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use lsn_ops::store::orders::fixture as order_fixture;
    use lsn_ops::tui::orders_task::Outcome;
    let mut a = app(false, 80, 24);
    let key = |a: &mut App, code: KeyCode| {
        let ev = crossterm::event::Event::Key(KeyEvent::new(code, KeyModifiers::NONE));
        if let Some(action) = a.translate(&ev) {
            a.update(action);
        }
    };
    for c in ":dup".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    a.on_orders(Outcome::Duplicates(Ok(order_fixture::duplicates(now()))));
    let screen = text(&render(&a, &theme()));
    for needle in [
        "Duplicate charges, last 7 days",
        "LSN-0001241",
        "after LSN-0001240",
        "charged twice",
        "refund asked or done",
        "CAP-0001241-A",
        "R refund later",
    ] {
        assert!(screen.contains(needle), "{needle} missing from\n{screen}");
    }
    insta::assert_snapshot!("duplicates_view_80x24", screen);
    key(&mut a, KeyCode::Char('R'));
    let screen = text(&render(&a, &theme()));
    assert!(
        screen.contains("Refund $45.99 to the buyer through PayPal?")
            && screen.contains("duplicate charge of LSN-0001240"),
        "{screen}"
    );
    insta::assert_snapshot!("duplicates_confirm_80x24", screen);
}
