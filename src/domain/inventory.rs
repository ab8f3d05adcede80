//! Inventory: what is available to sell, when stock is low or oversold, how
//! many units a refund releases or a return brings back, what to reorder, and
//! the stock ledger those rules keep consistent ([`Ledger`], property-tested).
//!
//! A product has units **on hand** (in the warehouse) and **reserved** (promised
//! to paid orders not yet shipped); **sold** units have shipped. A capture
//! reserves an order line's units; a refund, decline or cancel of a line not
//! yet shipped releases them (whole units, each once); shipping turns the
//! remaining reservation into sold units leaving the warehouse; a return
//! received brings units back on hand (a defective one goes to quality review
//! instead). Reserved above on hand is an oversell, reported the moment it
//! happens (the database trigger `products_oversold`).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StockLevel {
    /// Reserved beyond what is on hand: orders were taken that cannot ship.
    Oversold,
    Out,
    /// At or under the reorder point.
    Low,
    Ok,
}

/// Units that can still be sold.
pub fn available(on_hand: i32, reserved: i32) -> i32 {
    on_hand - reserved
}

pub fn stock_level(on_hand: i32, reserved: i32, reorder_point: i32) -> StockLevel {
    let free = available(on_hand, reserved);
    if free < 0 {
        StockLevel::Oversold
    } else if free == 0 {
        StockLevel::Out
    } else if free <= reorder_point {
        StockLevel::Low
    } else {
        StockLevel::Ok
    }
}

/// Reserved beyond what is on hand.
pub fn oversold(on_hand: i32, reserved: i32) -> bool {
    reserved > on_hand
}

/// Units of a line of `quantity` that a refund asking for `asked` releases,
/// `released` of them having been released before: whole units, each once.
pub fn release_units(quantity: i32, released: i32, asked: i32) -> i32 {
    asked.clamp(0, (quantity - released).max(0))
}

/// Units a return may bring back of a line of which `kept` units were sold
/// (not released) and `returned` came back already.
pub fn return_units(kept: i32, returned: i32, asked: i32) -> i32 {
    asked.clamp(0, (kept - returned).max(0))
}

/// Suggested purchase quantity: enough to cover the last 14 days' sales again
/// on top of the reorder point, less what is still available; 0 when enough.
pub fn reorder_quantity(on_hand: i32, reserved: i32, reorder_point: i32, sold_14d: i64) -> i64 {
    let target = i64::from(reorder_point) + sold_14d.max(0);
    (target - i64::from(available(on_hand, reserved))).max(0)
}

/// One order line in the [`Ledger`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineUnits {
    pub quantity: i32,
    pub captured: bool,
    pub released: i32,
    pub shipped: bool,
    pub returned: i32,
}

/// What happens to stock, in the runbook's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockEvent {
    /// The line's payment was captured: its units are reserved.
    Capture { line: usize },
    /// A refund of `units` of the line (whole items).
    Refund { line: usize, units: i32 },
    /// A fraud decline: the whole line is released.
    Decline { line: usize },
    /// The order was cancelled (or its checkout expired): the line is released.
    Cancel { line: usize },
    /// The line shipped: what is still reserved leaves the warehouse as sold.
    Ship { line: usize },
    /// A return of `units` was received.
    Return {
        line: usize,
        units: i32,
        defective: bool,
    },
    /// Units delivered by a supplier or counted in.
    Restock { units: i32 },
}

/// One product's stock ledger: the levels and the lines that move them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ledger {
    pub on_hand: i32,
    pub reserved: i32,
    pub sold: i32,
    pub lines: Vec<LineUnits>,
    /// The oversell alert is open (raised when reserved went above on hand).
    pub oversell_reported: bool,
    /// How many oversell reports were raised.
    pub reports: u32,
    /// Units received from suppliers and good returns (for the invariant).
    pub received: i32,
    pub initial: i32,
}

impl Ledger {
    pub fn new(on_hand: i32, lines: Vec<LineUnits>) -> Ledger {
        Ledger {
            on_hand,
            initial: on_hand,
            lines,
            ..Ledger::default()
        }
    }

    /// Applies one event (an event that does not apply changes nothing).
    pub fn apply(&mut self, event: StockEvent) {
        let line = |l: usize, lines: &mut Vec<LineUnits>| -> Option<usize> {
            (l < lines.len()).then_some(l)
        };
        match event {
            StockEvent::Capture { line: l } => {
                if let Some(l) = line(l, &mut self.lines)
                    && !self.lines[l].captured
                {
                    self.lines[l].captured = true;
                    self.reserved += self.lines[l].quantity - self.lines[l].released;
                }
            }
            StockEvent::Refund { line: l, units } => self.release(l, units),
            StockEvent::Decline { line: l } | StockEvent::Cancel { line: l } => {
                self.release(l, i32::MAX)
            }
            StockEvent::Ship { line: l } => {
                if let Some(l) = line(l, &mut self.lines) {
                    let u = self.lines[l];
                    let units = u.quantity - u.released;
                    // Only what is on hand can leave the warehouse.
                    if u.captured && !u.shipped && units <= self.on_hand {
                        self.lines[l].shipped = true;
                        self.reserved -= units;
                        self.on_hand -= units;
                        self.sold += units;
                    }
                }
            }
            StockEvent::Return {
                line: l,
                units,
                defective,
            } => {
                if let Some(l) = line(l, &mut self.lines) {
                    let u = self.lines[l];
                    if u.shipped {
                        let k = return_units(u.quantity - u.released, u.returned, units);
                        self.lines[l].returned += k;
                        self.sold -= k;
                        if !defective {
                            self.on_hand += k;
                            self.received += k;
                        }
                    }
                }
            }
            StockEvent::Restock { units } => {
                let units = units.max(0);
                self.on_hand += units;
                self.received += units;
            }
        }
        // Reported the moment reserved exceeds on hand; the report stays open
        // until the product is no longer oversold.
        if oversold(self.on_hand, self.reserved) {
            if !self.oversell_reported {
                self.oversell_reported = true;
                self.reports += 1;
            }
        } else {
            self.oversell_reported = false;
        }
    }

    /// Releases up to `units` of a captured line not yet shipped.
    fn release(&mut self, l: usize, units: i32) {
        let Some(u) = self.lines.get(l).copied() else {
            return;
        };
        if !u.captured || u.shipped {
            return;
        }
        let k = release_units(u.quantity, u.released, units);
        self.lines[l].released += k;
        self.reserved -= k;
    }

    /// The ledger's invariants, or what broke.
    pub fn check(&self) -> Result<(), String> {
        let reserved: i32 = self
            .lines
            .iter()
            .filter(|u| u.captured && !u.shipped)
            .map(|u| u.quantity - u.released)
            .sum();
        let shipped: i32 = self
            .lines
            .iter()
            .filter(|u| u.shipped)
            .map(|u| u.quantity - u.released)
            .sum();
        let returned: i32 = self.lines.iter().map(|u| u.returned).sum();
        if self.reserved != reserved {
            return Err(format!("reserved {} != lines {reserved}", self.reserved));
        }
        if self.sold != shipped - returned {
            return Err(format!("sold {} != shipped - returned", self.sold));
        }
        if self.on_hand != self.initial + self.received - shipped {
            return Err(format!("on hand {} does not add up", self.on_hand));
        }
        if self.reserved < 0 || self.on_hand < 0 || self.sold < 0 {
            return Err("a level went negative".into());
        }
        if self
            .lines
            .iter()
            .any(|u| u.released > u.quantity || u.returned > u.quantity - u.released)
        {
            return Err("a line released or returned more than it has".into());
        }
        if oversold(self.on_hand, self.reserved) && !self.oversell_reported {
            return Err("oversold without a report".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_and_returns_are_whole_units_each_once() {
        assert_eq!(release_units(3, 0, 1), 1);
        assert_eq!(release_units(3, 2, 5), 1);
        assert_eq!(release_units(3, 3, 1), 0);
        assert_eq!(release_units(3, 0, -2), 0);
        assert_eq!(return_units(2, 1, 5), 1);
    }

    #[test]
    fn reorder_covers_two_weeks_of_sales_above_the_reorder_point() {
        // 20 sold in 14 days, reorder point 5, 3 available: 25 - 3.
        assert_eq!(reorder_quantity(10, 7, 5, 20), 22);
        assert_eq!(reorder_quantity(100, 0, 5, 20), 0);
        // Oversold: what is owed is bought too.
        assert_eq!(reorder_quantity(2, 4, 0, 0), 2);
    }

    #[test]
    fn levels() {
        assert_eq!(stock_level(10, 12, 5), StockLevel::Oversold);
        assert_eq!(stock_level(10, 10, 5), StockLevel::Out);
        assert_eq!(stock_level(10, 5, 5), StockLevel::Low);
        assert_eq!(stock_level(10, 4, 5), StockLevel::Ok);
    }
}
