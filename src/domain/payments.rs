//! PayPal payments: what a refund does to the captured payment.
//!
//! A capture (`payments` row) records what was captured and what has been
//! refunded of it. A refund, whether lsn-ops asked for it (the executor records
//! PayPal's answer) or PayPal reports it (the applier's refund and reversal
//! webhooks), moves the payment the same way: [`after_refund`].
//!
//! What may still be refunded ([`refundable`]) counts the refunds already
//! asked for and not yet answered, so several partial refunds never add up
//! to more than the capture (the database checks the same sum, trigger
//! `refunds_within_capture`). PayPal's 422 refusals become one line an
//! operator understands ([`refusal_line`]), never a retry.

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

/// What may still be refunded of a capture of `captured` (minor units): less
/// what has been refunded and what open refunds (requested, pending) ask for.
pub fn refundable(captured: i64, refunded: i64, open: i64) -> i64 {
    captured
        .saturating_sub(refunded)
        .saturating_sub(open)
        .max(0)
}

/// The 422 issues PayPal answers a refund with, as one clear line each.
pub const REFUSALS: &[(&str, &str)] = &[
    (
        "CAPTURE_FULLY_REFUNDED",
        "the capture is already fully refunded",
    ),
    (
        "REFUND_AMOUNT_EXCEEDED",
        "the amount exceeds what is left of the capture",
    ),
    (
        "REFUND_TIME_LIMIT_EXCEEDED",
        "the capture is too old to refund (time limit exceeded); refund the buyer another way",
    ),
    (
        "REFUND_NOT_ALLOWED",
        "refunds are not allowed for this capture",
    ),
    (
        "TRANSACTION_DISPUTED",
        "the payment is disputed; settle it in the dispute",
    ),
    (
        "REFUND_FAILED_INSUFFICIENT_FUNDS",
        "not enough funds in the PayPal balance",
    ),
    (
        "PARTIAL_REFUND_NOT_ALLOWED",
        "this capture can only be refunded in full",
    ),
    ("DUPLICATE_INVOICE_ID", "its invoice id was already used"),
];

/// One line for a refund PayPal refused with `issue` (a 422 `details[].issue`):
/// what happened, with PayPal's name for it.
pub fn refusal_line(issue: &str) -> String {
    let issue = issue.trim();
    match REFUSALS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(issue))
    {
        Some((name, why)) => format!("PayPal refused the refund (422 {name}): {why}"),
        None => format!("PayPal refused the refund (422 {issue})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_refunds_count_against_what_is_left() {
        assert_eq!(refundable(10_000, 0, 0), 10_000);
        assert_eq!(refundable(10_000, 2_500, 2_500), 5_000);
        assert_eq!(refundable(10_000, 10_000, 0), 0);
        assert_eq!(refundable(10_000, 9_000, 5_000), 0, "never negative");
    }

    #[test]
    fn refusals_are_one_clear_line() {
        assert!(refusal_line("CAPTURE_FULLY_REFUNDED").contains("already fully refunded"));
        assert!(refusal_line("REFUND_AMOUNT_EXCEEDED").contains("exceeds"));
        assert!(refusal_line("REFUND_TIME_LIMIT_EXCEEDED").contains("too old"));
        assert_eq!(
            refusal_line("SOMETHING_NEW"),
            "PayPal refused the refund (422 SOMETHING_NEW)"
        );
        assert!(REFUSALS.iter().all(|(_, l)| !l.contains('\n')));
    }

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
