//! PayPal payments: what a refund does to the captured payment.
//!
//! A capture (`payments` row) records what was captured and what has been
//! refunded of it. A refund, whether lsn-ops asked for it (the executor records
//! PayPal's answer) or PayPal reports it (the applier's refund and reversal
//! webhooks), moves the payment the same way: [`after_refund`].

/// A payment after one more refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterRefund {
    /// What has been refunded in all, never more than was captured.
    pub refunded_minor: i64,
    /// The payment's status: `REVERSED`, `REFUNDED` or `PARTIALLY_REFUNDED`.
    pub status: &'static str,
    /// Everything captured has gone back: the order is refunded.
    pub in_full: bool,
}

/// The payment after refunding `amount` (minor units) of a capture of
/// `captured`, of which `refunded_before` was already refunded. A reversed
/// payment (a chargeback: `reversed`) stays `REVERSED` whatever the amounts.
pub fn after_refund(
    captured: i64,
    refunded_before: i64,
    amount: i64,
    reversed: bool,
) -> AfterRefund {
    let refunded_minor = refunded_before.saturating_add(amount).min(captured);
    let in_full = refunded_minor >= captured;
    let status = if reversed {
        "REVERSED"
    } else if in_full {
        "REFUNDED"
    } else {
        "PARTIALLY_REFUNDED"
    };
    AfterRefund {
        refunded_minor,
        status,
        in_full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_refund_leaves_the_rest_captured() {
        assert_eq!(
            after_refund(10_000, 0, 2_500, false),
            AfterRefund {
                refunded_minor: 2_500,
                status: "PARTIALLY_REFUNDED",
                in_full: false
            }
        );
        assert_eq!(
            after_refund(10_000, 2_500, 2_500, false).refunded_minor,
            5_000
        );
    }

    #[test]
    fn the_last_refund_refunds_the_payment_in_full() {
        let r = after_refund(10_000, 7_500, 2_500, false);
        assert_eq!(
            (r.refunded_minor, r.status, r.in_full),
            (10_000, "REFUNDED", true)
        );
    }

    #[test]
    fn more_than_was_captured_is_capped() {
        let r = after_refund(10_000, 9_000, 5_000, false);
        assert_eq!(
            (r.refunded_minor, r.status, r.in_full),
            (10_000, "REFUNDED", true)
        );
        assert_eq!(
            after_refund(10_000, 0, i64::MAX, false).refunded_minor,
            10_000
        );
    }

    #[test]
    fn a_reversed_payment_stays_reversed() {
        let partial = after_refund(10_000, 0, 1_000, true);
        assert_eq!((partial.status, partial.in_full), ("REVERSED", false));
        let full = after_refund(10_000, 0, 10_000, true);
        assert_eq!((full.status, full.in_full), ("REVERSED", true));
    }
}
