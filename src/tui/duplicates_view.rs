//! The duplicates view: `:duplicates` (`:dup`) from any pane lists the
//! captures of the last [`DAYS`] days by one payer for one amount within
//! `[ops] duplicate_window_minutes` of an earlier one (what `lsn-ops orders
//! duplicates` finds), newest first. `R` refunds the later charge of the
//! selected pair in one key: a confirmation shows the amount (everything left
//! of that capture), the order and the reason, pre-filled "duplicate charge of
//! ORDER"; `y` or Enter sends it to the orders task, which asks the store
//! (`store::refunds::refund_duplicate`: authorization, agent limit, outbox,
//! audit; the amount confirmed is checked again). The list is read in the
//! background when it opens, after a refund, and as data changes (at most
//! every 30 s: at the 1M scale the search reads a week of captures);
//! drawing is a pure function of this state.

use chrono::{DateTime, Duration, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::orders_task::{Outcome, Request};
use super::panes::table::centered;
use super::theme::Theme;
use crate::domain::money::display_minor as money;
use crate::store::orders::Duplicate;

/// How far back the view looks (days), as `orders duplicates` by default.
pub const DAYS: i64 = 7;

/// A reload asked for on new data at most this often.
const RELOAD_EVERY: Duration = Duration::seconds(30);

/// What the overlay's keys ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    /// `R`: refund the later charge (a confirmation first).
    Refund,
    /// `y` or Enter in the confirmation: send it.
    Yes,
    /// `n` or Esc in the confirmation: back to the list.
    No,
    Close,
}

/// The refund waiting for `y`: what will go, said in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub capture_id: String,
    pub later_order: String,
    pub first_order: String,
    pub amount_minor: i64,
    pub currency: String,
}

impl Confirm {
    pub fn reason(&self) -> String {
        format!("duplicate charge of {}", self.first_order)
    }
}

/// The overlay's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicatesOverlay {
    /// `None` until the first answer; then the list or why it failed.
    pub shown: Option<Result<Vec<Duplicate>, String>>,
    pub selected: usize,
    pub confirm: Option<Confirm>,
    /// The last outcome (a refund queued, a refusal).
    pub note: Option<String>,
    /// When the list was last asked for.
    pub requested_at: DateTime<Utc>,
}

impl DuplicatesOverlay {
    /// Opens: the list is requested now.
    pub fn open(now: DateTime<Utc>, requests: &mut Vec<Request>) -> DuplicatesOverlay {
        requests.push(Request::Duplicates);
        DuplicatesOverlay {
            shown: None,
            selected: 0,
            confirm: None,
            note: None,
            requested_at: now,
        }
    }

    fn list(&self) -> &[Duplicate] {
        match &self.shown {
            Some(Ok(list)) => list,
            _ => &[],
        }
    }

    /// The pair under the selection.
    pub fn current(&self) -> Option<&Duplicate> {
        self.list().get(self.selected)
    }

    /// New data arrived: the list is read again, at most every 30 seconds.
    pub fn refresh(&mut self, now: DateTime<Utc>, requests: &mut Vec<Request>) {
        if now - self.requested_at >= RELOAD_EVERY {
            self.requested_at = now;
            requests.push(Request::Duplicates);
        }
    }

    /// An answer of the orders task.
    pub fn on_outcome(&mut self, out: Outcome, now: DateTime<Utc>, requests: &mut Vec<Request>) {
        match out {
            Outcome::Duplicates(list) => {
                // The selection follows its capture when the list moves.
                let keep = self.current().map(|d| d.later_capture.clone());
                if let (Some(keep), Ok(new)) = (&keep, &list)
                    && let Some(i) = new.iter().position(|d| &d.later_capture == keep)
                {
                    self.selected = i;
                }
                let len = list.as_ref().map_or(0, Vec::len);
                self.selected = self.selected.min(len.saturating_sub(1));
                self.shown = Some(list);
            }
            Outcome::DuplicateRefunded(Ok(line)) => {
                self.note = Some(line);
                self.requested_at = now;
                requests.push(Request::Duplicates);
            }
            Outcome::DuplicateRefunded(Err(line)) => self.note = Some(line),
            _ => {}
        }
    }

    /// A key. `may_refund`: the operator's role allows refunds here (the
    /// store checks again). Returns false when the overlay closes; an error
    /// is the footer's message.
    pub fn key(
        &mut self,
        key: Key,
        may_refund: bool,
        requests: &mut Vec<Request>,
    ) -> Result<bool, String> {
        if self.confirm.is_some() {
            match key {
                Key::Yes => {
                    if let Some(c) = self.confirm.take() {
                        self.note = Some(format!(
                            "refund of {} for {} sent...",
                            money(c.amount_minor, &c.currency),
                            c.later_order
                        ));
                        requests.push(Request::RefundDuplicate {
                            capture_id: c.capture_id,
                            later_order: c.later_order,
                            expected_minor: c.amount_minor,
                        });
                    }
                }
                Key::No | Key::Close => self.confirm = None,
                _ => {}
            }
            return Ok(true);
        }
        let len = self.list().len();
        match key {
            Key::Close => return Ok(false),
            Key::Up => self.selected = self.selected.saturating_sub(1),
            Key::Down => self.selected = (self.selected + 1).min(len.saturating_sub(1)),
            Key::Refund => {
                if !may_refund {
                    return Err(
                        "duplicate_refund: refunds need an agent, finance or admin role".into(),
                    );
                }
                let Some(d) = self.current() else {
                    return Err("no duplicate charge selected".into());
                };
                if d.refundable_minor <= 0 {
                    return Err(format!(
                        "{} ({}): nothing left to refund (asked for or refunded already)",
                        d.later_order, d.later_capture
                    ));
                }
                self.confirm = Some(Confirm {
                    capture_id: d.later_capture.clone(),
                    later_order: d.later_order.clone(),
                    first_order: d.first_order.clone(),
                    amount_minor: d.refundable_minor,
                    currency: d.currency.clone(),
                });
            }
            Key::Yes | Key::No => {}
        }
        Ok(true)
    }

    /// The footer hints of the overlay.
    pub fn hints(&self, may_refund: bool) -> Vec<String> {
        if self.confirm.is_some() {
            return vec!["y/Enter send".into(), "n/Esc back".into()];
        }
        let mut h = vec!["j/k pick".to_string()];
        if may_refund {
            h.push("R refund later".into());
        }
        h.push("Esc close".into());
        h
    }

    /// Draws the overlay over `body`.
    pub fn draw(&self, f: &mut Frame, body: Rect, theme: &Theme, tz: &chrono_tz::Tz) {
        let area = centered(body, body.width.saturating_sub(4).min(110), body.height);
        let keys = if self.confirm.is_some() {
            " y/Enter send to PayPal  n/Esc back "
        } else {
            " j/k pick  R refund the later charge  Esc close "
        };
        let block = Block::bordered()
            .border_set(theme.sym.focus_border)
            .border_style(theme.border_focus)
            .title(Line::styled(
                format!(" Duplicate charges, last {DAYS} days "),
                theme.title,
            ))
            .title_bottom(Line::styled(keys, theme.muted));
        let mut lines = Vec::new();
        if let Some(note) = &self.note {
            lines.push(Line::styled(note.clone(), theme.warning));
        }
        match &self.shown {
            None => lines.push(Line::styled("looking...", theme.muted)),
            Some(Err(e)) => lines.push(Line::styled(e.clone(), theme.critical)),
            Some(Ok(list)) if list.is_empty() => lines.push(Line::styled(
                "no duplicate charges: no payer paid the same amount twice within the window",
                theme.ok,
            )),
            Some(Ok(list)) => {
                lines.push(Line::styled(
                    format!(
                        "{} later capture(s) of a payer for the same amount, newest first:",
                        list.len()
                    ),
                    theme.muted,
                ));
                for (i, d) in list.iter().enumerate() {
                    lines.push(pair_line(d, i == self.selected, theme));
                }
                if let Some(d) = self.current() {
                    lines.push(Line::raw(""));
                    lines.extend(detail_lines(d, theme, tz));
                }
            }
        }
        let anchor = self.selected + 2;
        let visible = area.height.saturating_sub(2) as usize;
        let scroll = (anchor + 2).saturating_sub(visible);
        f.render_widget(Clear, area);
        f.render_widget(
            Paragraph::new(lines)
                .block(block)
                .wrap(Wrap { trim: false })
                .scroll((u16::try_from(scroll).unwrap_or(0), 0)),
            area,
        );
        if let Some(c) = &self.confirm {
            draw_confirm(f, area, c, theme);
        }
    }
}

fn local(t: DateTime<Utc>, tz: &chrono_tz::Tz) -> String {
    t.with_timezone(tz).format("%a %m-%d %H:%M").to_string()
}

/// "40s", "3m", "1h05m": how long after the first charge.
fn gap(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

fn pair_line(d: &Duplicate, selected: bool, theme: &Theme) -> Line<'static> {
    let state = if d.refundable_minor > 0 {
        format!("left {}", money(d.refundable_minor, &d.currency))
    } else {
        "refund asked or done".to_string()
    };
    let same = if d.first_order == d.later_order {
        "charged twice".to_string()
    } else {
        format!("after {}", d.first_order)
    };
    Line::styled(
        format!(
            "{}{:<12} {:>10}  {:>5} {:<19} {}",
            if selected { "> " } else { "  " },
            d.later_order,
            money(d.amount_minor, &d.currency),
            gap(d.later_at - d.first_at),
            same,
            state
        ),
        if selected {
            theme.selected
        } else if d.refundable_minor > 0 {
            theme.text
        } else {
            theme.muted
        },
    )
}

fn detail_lines(d: &Duplicate, theme: &Theme, tz: &chrono_tz::Tz) -> Vec<Line<'static>> {
    let kv = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<8}"), theme.muted),
            Span::styled(v, theme.text),
        ])
    };
    vec![
        kv("payer", d.payer_id.clone()),
        kv(
            "first",
            format!(
                "{} capture {} at {} (kept)",
                d.first_order,
                d.first_capture,
                local(d.first_at, tz)
            ),
        ),
        kv(
            "later",
            format!(
                "{} capture {} at {}",
                d.later_order,
                d.later_capture,
                local(d.later_at, tz)
            ),
        ),
        kv(
            "R",
            format!(
                "refunds the later one: reason \"duplicate charge of {}\"",
                d.first_order
            ),
        ),
    ]
}

fn draw_confirm(f: &mut Frame, over: Rect, c: &Confirm, theme: &Theme) {
    let area = centered(over, over.width.saturating_sub(8).min(72), 6);
    let amount = money(c.amount_minor, &c.currency);
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{name:<8}"), theme.muted),
            Span::styled(value, theme.text),
        ])
    };
    let lines = vec![
        field(
            "order",
            format!("{} capture {}", c.later_order, c.capture_id),
        ),
        field(
            "amount",
            format!("{amount} (everything left of this capture)"),
        ),
        field("reason", c.reason()),
        Line::styled(
            format!("Refund {amount} to the buyer through PayPal?"),
            theme.warning,
        ),
    ];
    let block = Block::bordered()
        .border_set(theme.sym.focus_border)
        .border_style(theme.border_focus)
        .title(Line::styled(" Confirm refund of a duplicate ", theme.title))
        .title_bottom(Line::styled(" y/Enter send  n/Esc back ", theme.muted));
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::orders::fixture;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).expect("time")
    }

    fn loaded() -> DuplicatesOverlay {
        let mut reqs = Vec::new();
        let mut o = DuplicatesOverlay::open(now(), &mut reqs);
        assert_eq!(reqs, vec![Request::Duplicates]);
        o.on_outcome(
            Outcome::Duplicates(Ok(fixture::duplicates(now()))),
            now(),
            &mut reqs,
        );
        o
    }

    #[test]
    fn r_confirms_the_amount_then_sends_the_later_capture_once() {
        let mut o = loaded();
        let mut reqs = Vec::new();
        assert_eq!(o.key(Key::Refund, true, &mut reqs), Ok(true));
        let c = o.confirm.clone().expect("confirmation");
        assert_eq!(
            (c.amount_minor, c.reason().as_str()),
            (4_599, "duplicate charge of LSN-0001240")
        );
        assert!(reqs.is_empty(), "nothing goes before y");
        o.key(Key::Yes, true, &mut reqs).expect("sent");
        assert_eq!(
            reqs,
            vec![Request::RefundDuplicate {
                capture_id: "CAP-0001241-A".into(),
                later_order: "LSN-0001241".into(),
                expected_minor: 4_599,
            }]
        );
        assert!(o.confirm.is_none());
        // Its answer reloads the list.
        reqs.clear();
        o.on_outcome(
            Outcome::DuplicateRefunded(Ok("refund #9 queued".into())),
            now(),
            &mut reqs,
        );
        assert_eq!(reqs, vec![Request::Duplicates]);
    }

    #[test]
    fn esc_backs_out_a_viewer_is_refused_and_nothing_left_says_so() {
        let mut o = loaded();
        let mut reqs = Vec::new();
        o.key(Key::Refund, true, &mut reqs).expect("confirm");
        o.key(Key::No, true, &mut reqs).expect("back");
        assert!(o.confirm.is_none() && reqs.is_empty());
        assert!(o.key(Key::Refund, false, &mut reqs).is_err());
        o.key(Key::Down, true, &mut reqs).expect("down");
        let e = o
            .key(Key::Refund, true, &mut reqs)
            .expect_err("nothing left");
        assert!(e.contains("nothing left"), "{e}");
        assert!(o.confirm.is_none() && reqs.is_empty());
        assert_eq!(o.key(Key::Close, true, &mut reqs), Ok(false));
    }

    #[test]
    fn reloads_on_new_data_at_most_every_30_seconds() {
        let mut o = loaded();
        let mut reqs = Vec::new();
        o.refresh(now() + Duration::seconds(1), &mut reqs);
        assert!(reqs.is_empty());
        o.refresh(now() + Duration::seconds(31), &mut reqs);
        assert_eq!(reqs, vec![Request::Duplicates]);
    }
}
