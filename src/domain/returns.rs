//! Returns: the return window (the runbook's 30 days from delivery,
//! `[ops] return_window_days`) and RMA numbers.

use chrono::{DateTime, Duration, Utc};

/// Why a return cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error(
        "the order has not been delivered yet: nothing to return (cancel or refund it instead)"
    )]
    NotDelivered,
    #[error("the return window closed on {0} ({1} days from delivery)")]
    Closed(DateTime<Utc>, i64),
}

/// The end of the return window of an order delivered at `delivered_at`.
pub fn window_end(delivered_at: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    delivered_at + Duration::days(days.max(0))
}

/// Whether a return may be opened `now`: the window's end if so.
pub fn check_window(
    delivered_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    days: i64,
) -> Result<DateTime<Utc>, WindowError> {
    let delivered = delivered_at.ok_or(WindowError::NotDelivered)?;
    let end = window_end(delivered, days);
    if now > end {
        return Err(WindowError::Closed(end, days));
    }
    Ok(end)
}

/// The RMA number of the `n`th return (1-based) of an order.
pub fn rma_number(order_number: &str, n: i64) -> String {
    format!("RMA-{order_number}-{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_days_from_delivery_and_not_a_second_more() {
        let delivered = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        let end = window_end(delivered, 30);
        assert_eq!(check_window(Some(delivered), end, 30), Ok(end));
        assert_eq!(
            check_window(Some(delivered), end + Duration::seconds(1), 30),
            Err(WindowError::Closed(end, 30))
        );
        assert_eq!(check_window(None, end, 30), Err(WindowError::NotDelivered));
        assert_eq!(rma_number("LSN-0000042", 2), "RMA-LSN-0000042-2");
    }
}
