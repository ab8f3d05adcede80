//! Which pane: the five panes in key order (1-5), with their names. A leaf
//! module, so that actions, key bindings and panes can all name a pane
//! without depending on one another.

/// The panes, in key order (1-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaneId {
    Alerts,
    Shows,
    Disputes,
    Payouts,
    Fraud,
}

impl PaneId {
    pub const ALL: [PaneId; 5] = [
        Self::Alerts,
        Self::Shows,
        Self::Disputes,
        Self::Payouts,
        Self::Fraud,
    ];

    pub fn index(self) -> usize {
        match self {
            Self::Alerts => 0,
            Self::Shows => 1,
            Self::Disputes => 2,
            Self::Payouts => 3,
            Self::Fraud => 4,
        }
    }

    pub fn from_index(i: usize) -> PaneId {
        Self::ALL[i % Self::ALL.len()]
    }

    pub fn next(self) -> PaneId {
        Self::from_index(self.index() + 1)
    }

    pub fn prev(self) -> PaneId {
        Self::from_index(self.index() + Self::ALL.len() - 1)
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Alerts => "Alerts & incidents",
            Self::Shows => "Live shows (today)",
            Self::Disputes => "Disputes (SLA queue)",
            Self::Payouts => "Payouts (this week)",
            Self::Fraud => "Fraud (highest first)",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Self::Alerts => "Alerts",
            Self::Shows => "Shows",
            Self::Disputes => "Disputes",
            Self::Payouts => "Payouts",
            Self::Fraud => "Fraud",
        }
    }

    pub fn empty_text(self) -> &'static str {
        match self {
            Self::Alerts => "No open alerts or incidents.",
            Self::Shows => "No shows scheduled today.",
            Self::Disputes => "No active disputes.",
            Self::Payouts => "No payout batch yet this week.",
            Self::Fraud => "Fraud queue is empty.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panes_cycle_in_key_order() {
        assert_eq!(PaneId::Fraud.next(), PaneId::Alerts);
        assert_eq!(PaneId::Alerts.prev(), PaneId::Fraud);
        for id in PaneId::ALL {
            assert_eq!(PaneId::from_index(id.index()), id);
        }
    }
}
