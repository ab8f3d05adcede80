//! Inventory levels: what is available to sell, and when stock is low.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(stock_level(10, 12, 5), StockLevel::Oversold);
        assert_eq!(stock_level(10, 10, 5), StockLevel::Out);
        assert_eq!(stock_level(10, 5, 5), StockLevel::Low);
        assert_eq!(stock_level(10, 4, 5), StockLevel::Ok);
    }
}
