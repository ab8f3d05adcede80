//! Which layout a terminal size gets, and where everything goes: pure
//! functions of the size (and of focus, zoom and the wall banner), so the key
//! and mouse handling can use the same geometry as the drawing.

use ratatui::layout::{Constraint, Layout, Rect};

use super::panes::PaneId;

/// Below this the dashboard shows "terminal too small" instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

/// The arrangement of the five panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    TooSmall,
    /// One pane at a time with a tab strip (under 100 columns, or short terminals).
    Tabs,
    /// Two columns of stacked panes.
    TwoColumns,
    /// All five at once: three on top, two below.
    Grid,
}

pub fn choose(width: u16, height: u16) -> LayoutKind {
    if width < MIN_WIDTH || height < MIN_HEIGHT {
        LayoutKind::TooSmall
    } else if width >= 160 && height >= 36 {
        LayoutKind::Grid
    } else if width >= 100 && height >= 28 {
        LayoutKind::TwoColumns
    } else {
        LayoutKind::Tabs
    }
}

/// Where each part of the screen goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Screen {
    pub header: Rect,
    pub banner: Option<Rect>,
    pub tabs: Option<Rect>,
    pub body: Rect,
    pub footer: Rect,
    /// One rectangle per pane, in [`PaneId::ALL`] order; `None` when not shown.
    pub panes: [Option<Rect>; 5],
}

impl Screen {
    pub fn pane(&self, id: PaneId) -> Option<Rect> {
        self.panes[id.index()]
    }

    /// The pane under a screen position (mouse).
    pub fn pane_at(&self, x: u16, y: u16) -> Option<(PaneId, Rect)> {
        PaneId::ALL.into_iter().find_map(|id| {
            self.pane(id)
                .filter(|r| x >= r.x && x < r.right() && y >= r.y && y < r.bottom())
                .map(|r| (id, r))
        })
    }
}

pub const HEADER_HEIGHT: u16 = 2;

/// Rows of data a pane of this height shows (borders and the column header off).
pub fn rows_in(pane: Rect) -> usize {
    usize::from(pane.height.saturating_sub(3))
}

pub fn compute(area: Rect, focus: PaneId, zoomed: bool, banner: bool) -> Screen {
    let kind = choose(area.width, area.height);
    let mut screen = Screen::default();
    if kind == LayoutKind::TooSmall {
        screen.body = area;
        return screen;
    }
    let [header, banner_area, rest, footer] = Layout::vertical([
        Constraint::Length(HEADER_HEIGHT),
        Constraint::Length(u16::from(banner)),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    screen.header = header;
    screen.banner = banner.then_some(banner_area);
    screen.footer = footer;
    if zoomed || kind == LayoutKind::Tabs {
        let [tabs, body] =
            Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(rest);
        screen.tabs = Some(tabs);
        screen.body = body;
        screen.panes[focus.index()] = Some(body);
        return screen;
    }
    screen.body = rest;
    let set = |s: &mut Screen, id: PaneId, r: Rect| s.panes[id.index()] = Some(r);
    match kind {
        LayoutKind::Grid => {
            let [top, bottom] =
                Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(rest);
            let [a, s, d] = Layout::horizontal([
                Constraint::Percentage(38),
                Constraint::Percentage(31),
                Constraint::Fill(1),
            ])
            .areas(top);
            let [p, f] =
                Layout::horizontal([Constraint::Percentage(45), Constraint::Fill(1)]).areas(bottom);
            set(&mut screen, PaneId::Alerts, a);
            set(&mut screen, PaneId::Shows, s);
            set(&mut screen, PaneId::Disputes, d);
            set(&mut screen, PaneId::Payouts, p);
            set(&mut screen, PaneId::Fraud, f);
        }
        _ => {
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)]).areas(rest);
            let [a, d, f] = Layout::vertical([
                Constraint::Ratio(1, 3),
                Constraint::Ratio(1, 3),
                Constraint::Fill(1),
            ])
            .areas(left);
            let [s, p] =
                Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(right);
            set(&mut screen, PaneId::Alerts, a);
            set(&mut screen, PaneId::Disputes, d);
            set(&mut screen, PaneId::Fraud, f);
            set(&mut screen, PaneId::Shows, s);
            set(&mut screen, PaneId::Payouts, p);
        }
    }
    screen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_choice_per_size() {
        assert_eq!(choose(1, 1), LayoutKind::TooSmall);
        assert_eq!(choose(20, 5), LayoutKind::TooSmall);
        assert_eq!(choose(59, 24), LayoutKind::TooSmall);
        assert_eq!(choose(80, 14), LayoutKind::TooSmall);
        assert_eq!(choose(60, 15), LayoutKind::Tabs);
        assert_eq!(choose(80, 24), LayoutKind::Tabs);
        assert_eq!(choose(99, 50), LayoutKind::Tabs);
        assert_eq!(choose(100, 28), LayoutKind::TwoColumns);
        assert_eq!(choose(120, 40), LayoutKind::TwoColumns);
        assert_eq!(choose(200, 30), LayoutKind::TwoColumns);
        assert_eq!(choose(160, 36), LayoutKind::Grid);
        assert_eq!(choose(200, 60), LayoutKind::Grid);
        assert_eq!(choose(300, 80), LayoutKind::Grid);
        assert_eq!(choose(150, 25), LayoutKind::Tabs);
    }

    #[test]
    fn every_pane_is_placed_and_inside_the_screen() {
        for (w, h) in [(120, 40), (200, 60), (300, 80), (100, 28)] {
            let area = Rect::new(0, 0, w, h);
            let s = compute(area, PaneId::Alerts, false, true);
            for id in PaneId::ALL {
                let r = s.pane(id).expect("placed");
                assert!(r.width >= 10 && r.height >= 5, "{w}x{h} {id:?} {r:?}");
                assert_eq!(area.intersection(r), r);
            }
        }
    }

    #[test]
    fn tabs_and_zoom_show_only_the_focused_pane() {
        let s = compute(Rect::new(0, 0, 80, 24), PaneId::Disputes, false, false);
        assert!(s.tabs.is_some());
        assert_eq!(s.panes.iter().flatten().count(), 1);
        assert!(s.pane(PaneId::Disputes).is_some());
        let z = compute(Rect::new(0, 0, 200, 60), PaneId::Fraud, true, false);
        assert_eq!(z.pane(PaneId::Fraud), Some(z.body));
        assert_eq!(z.panes.iter().flatten().count(), 1);
    }

    #[test]
    fn pane_at_finds_the_pane_under_the_mouse() {
        let s = compute(Rect::new(0, 0, 200, 60), PaneId::Alerts, false, false);
        let fraud = s.pane(PaneId::Fraud).expect("fraud");
        assert_eq!(
            s.pane_at(fraud.x + 1, fraud.y + 1).map(|(id, _)| id),
            Some(PaneId::Fraud)
        );
        assert_eq!(s.pane_at(0, 0), None);
    }
}
