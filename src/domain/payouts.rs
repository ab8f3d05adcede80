//! Creator payouts: the runbook's earnings formula and the weekly schedule.
//!
//! Creator earnings = (order total − product cost − shipping − platform fee)
//! × commission rate by tier (10–30%). Each order's earnings are rounded half
//! to even to the minor unit; an order whose costs exceed its total earns zero
//! (a creator never owes money on one order). A payout line is the exact sum of
//! its orders' earnings.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::money::{Money, MoneyError, Rounding};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Bronze,
    Silver,
    Gold,
    Platinum,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Self::Bronze, Self::Silver, Self::Gold, Self::Platinum];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Bronze => "bronze",
            Self::Silver => "silver",
            Self::Gold => "gold",
            Self::Platinum => "platinum",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Commission rate of the tier in basis points (10%–30%).
    pub fn commission_bps(&self) -> u32 {
        match self {
            Self::Bronze => 1000,
            Self::Silver => 1500,
            Self::Gold => 2000,
            Self::Platinum => 3000,
        }
    }
}

/// The money figures of one attributed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFigures {
    pub total: Money,
    pub product_cost: Money,
    pub shipping: Money,
    pub platform_fee: Money,
}

impl OrderFigures {
    /// Order total minus costs, floored at zero.
    pub fn net(&self) -> Result<Money, MoneyError> {
        let net = self
            .total
            .checked_sub(self.product_cost)?
            .checked_sub(self.shipping)?
            .checked_sub(self.platform_fee)?;
        Ok(if net.minor < 0 {
            Money::zero(net.currency)
        } else {
            net
        })
    }

    /// This order's earnings for a creator at `commission_bps`.
    pub fn earnings(&self, commission_bps: u32) -> Result<Money, MoneyError> {
        self.net()?.apply_bps(commission_bps, Rounding::HalfEven)
    }
}

pub fn parse_weekday(s: &str) -> Option<Weekday> {
    s.trim().parse::<Weekday>().ok()
}

/// The weekly batch time at or after `now`: `weekday` at `time` in `tz`.
/// Daylight-saving gaps take the earliest valid instant after the gap.
pub fn next_batch_at<Tz: TimeZone>(
    now: DateTime<Utc>,
    tz: &Tz,
    weekday: Weekday,
    time: NaiveTime,
) -> DateTime<Utc> {
    let local_today = now.with_timezone(tz).date_naive();
    let days_ahead = (7 + weekday.num_days_from_monday() as i64
        - local_today.weekday().num_days_from_monday() as i64)
        % 7;
    for extra_weeks in 0..2 {
        let date = local_today + Duration::days(days_ahead + 7 * extra_weeks);
        let naive = date.and_time(time);
        let instant = tz
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(naive + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc));
        if let Some(at) = instant.filter(|at| *at >= now) {
            return at;
        }
    }
    // Unreachable in practice: two weeks ahead is always in the future.
    now + Duration::weeks(1)
}

/// The sum of a payout line over its orders: what `generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSum {
    pub orders: i32,
    /// Sum of the order totals.
    pub gross: Money,
    /// Sum of product cost + shipping + platform fee.
    pub costs: Money,
    /// Sum of the orders' earnings: the amount paid.
    pub amount: Money,
}

/// Adds up one creator's orders at `commission_bps`: each order's earnings
/// ([`OrderFigures::earnings`]) and the line's totals. Returns the line and
/// each order's earnings, in order.
pub fn line_for(
    orders: &[OrderFigures],
    commission_bps: u32,
    currency: super::money::Currency,
) -> Result<(LineSum, Vec<Money>), MoneyError> {
    let mut sum = LineSum {
        orders: 0,
        gross: Money::zero(currency),
        costs: Money::zero(currency),
        amount: Money::zero(currency),
    };
    let mut each = Vec::with_capacity(orders.len());
    for o in orders {
        let earnings = o.earnings(commission_bps)?;
        sum.orders += 1;
        sum.gross = sum.gross.checked_add(o.total)?;
        sum.costs = sum
            .costs
            .checked_add(o.product_cost)?
            .checked_add(o.shipping)?
            .checked_add(o.platform_fee)?;
        sum.amount = sum.amount.checked_add(earnings)?;
        each.push(earnings);
    }
    Ok((sum, each))
}

/// A payout line's state as operators and `payouts show` name it: the schema's
/// `sent` (Wise's `outgoing_payment_sent`) is "paid".
pub fn line_state_label(db_state: &str) -> &str {
    match db_state {
        "sent" => "paid",
        other => other,
    }
}

/// Hold reasons are prefixed so a release or a bank verification lifts only its own.
pub const HOLD_CREATOR: &str = "on hold: ";
pub const HOLD_BANK: &str = "bank details ";

/// The hold a line gets from its creator, if any: the creator's own hold
/// first, then bank details that are not verified.
pub fn hold_reason(creator_hold: Option<&str>, recipient_status: &str) -> Option<String> {
    if let Some(reason) = creator_hold {
        return Some(format!("{HOLD_CREATOR}{reason}"));
    }
    (recipient_status != "verified").then(|| format!("{HOLD_BANK}{recipient_status}"))
}

/// An ISO week, "2026-W48".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IsoWeek {
    pub year: i32,
    pub week: u32,
}

impl IsoWeek {
    /// Parses "YYYY-Www" (also "YYYYWww" and lower-case w).
    pub fn parse(s: &str) -> Option<IsoWeek> {
        let s = s.trim();
        let (y, w) = s.split_once(['W', 'w'])?;
        let year: i32 = y.trim_end_matches('-').parse().ok()?;
        if w.len() != 2 {
            return None;
        }
        let week: u32 = w.parse().ok()?;
        chrono::NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)?;
        Some(IsoWeek { year, week })
    }

    pub fn of(date: chrono::NaiveDate) -> IsoWeek {
        let w = date.iso_week();
        IsoWeek {
            year: w.year(),
            week: w.week(),
        }
    }

    /// The week's batch instant: `weekday` of this ISO week at `time` in `tz`.
    pub fn batch_at<Tz: TimeZone>(
        &self,
        tz: &Tz,
        weekday: Weekday,
        time: NaiveTime,
    ) -> DateTime<Utc> {
        let date =
            chrono::NaiveDate::from_isoywd_opt(self.year, self.week, weekday).unwrap_or_default();
        let naive = date.and_time(time);
        tz.from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(naive + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| naive.and_utc())
    }

    /// The week before.
    pub fn previous(&self) -> IsoWeek {
        let monday = chrono::NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon)
            .unwrap_or_default();
        IsoWeek::of(monday - Duration::days(7))
    }

    /// The week after.
    pub fn next(&self) -> IsoWeek {
        let monday = chrono::NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon)
            .unwrap_or_default();
        IsoWeek::of(monday + Duration::days(7))
    }
}

impl std::fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

/// The ISO week (in `tz`) a batch scheduled at `at` belongs to.
pub fn week_of<Tz: TimeZone>(at: DateTime<Utc>, tz: &Tz) -> IsoWeek {
    IsoWeek::of(at.with_timezone(tz).date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::USD)
    }

    #[test]
    fn earnings_follow_the_runbook_formula() {
        let order = OrderFigures {
            total: usd(10_000),
            product_cost: usd(4_000),
            shipping: usd(500),
            platform_fee: usd(500),
        };
        assert_eq!(order.net(), Ok(usd(5_000)));
        assert_eq!(order.earnings(Tier::Bronze.commission_bps()), Ok(usd(500)));
        assert_eq!(
            order.earnings(Tier::Platinum.commission_bps()),
            Ok(usd(1_500))
        );
    }

    #[test]
    fn loss_making_orders_earn_zero_and_rounding_is_half_even() {
        let loss = OrderFigures {
            total: usd(1_000),
            product_cost: usd(1_200),
            shipping: usd(0),
            platform_fee: usd(0),
        };
        assert_eq!(loss.earnings(3000), Ok(usd(0)));
        // net 125 at 10% = 12.5 → 12 ; net 135 at 10% = 13.5 → 14
        let a = OrderFigures {
            total: usd(125),
            product_cost: usd(0),
            shipping: usd(0),
            platform_fee: usd(0),
        };
        let b = OrderFigures {
            total: usd(135),
            ..a
        };
        assert_eq!(a.earnings(1000), Ok(usd(12)));
        assert_eq!(b.earnings(1000), Ok(usd(14)));
    }

    #[test]
    fn mixed_currencies_are_refused() {
        let bad = OrderFigures {
            total: usd(1_000),
            product_cost: Money::new(1, Currency::EUR),
            shipping: usd(0),
            platform_fee: usd(0),
        };
        assert!(bad.earnings(1000).is_err());
    }

    #[test]
    fn next_friday_two_pm_in_the_ops_zone() {
        let tz: chrono_tz::Tz = "America/Los_Angeles".parse().unwrap();
        let two_pm = NaiveTime::from_hms_opt(14, 0, 0).unwrap();
        // Tuesday 2026-11-24 17:00 UTC = 09:00 PST → Friday 2026-11-27 14:00 PST = 22:00 UTC
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 17, 0, 0).unwrap();
        assert_eq!(
            next_batch_at(now, &tz, Weekday::Fri, two_pm),
            Utc.with_ymd_and_hms(2026, 11, 27, 22, 0, 0).unwrap()
        );
        // Friday 15:00 local is past this week's batch → next week
        let after = Utc.with_ymd_and_hms(2026, 11, 27, 23, 0, 0).unwrap();
        assert_eq!(
            next_batch_at(after, &tz, Weekday::Fri, two_pm),
            Utc.with_ymd_and_hms(2026, 12, 4, 22, 0, 0).unwrap()
        );
        // Summer time: 14:00 PDT = 21:00 UTC
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(
            next_batch_at(summer, &tz, Weekday::Fri, two_pm),
            Utc.with_ymd_and_hms(2026, 7, 3, 21, 0, 0).unwrap()
        );
        assert_eq!(parse_weekday("Friday"), Some(Weekday::Fri));
        assert_eq!(parse_weekday("fryday"), None);
    }

    #[test]
    fn iso_weeks_parse_and_schedule_in_the_ops_zone() {
        let w = IsoWeek::parse("2026-W48").unwrap();
        assert_eq!(w.to_string(), "2026-W48");
        assert_eq!(IsoWeek::parse("2026w48"), Some(w));
        assert_eq!(IsoWeek::parse("2026-W54"), None);
        assert_eq!(IsoWeek::parse("2026-48"), None);
        assert_eq!(IsoWeek::parse("2026-W4"), None);
        let tz: chrono_tz::Tz = "America/Los_Angeles".parse().unwrap();
        let two_pm = NaiveTime::from_hms_opt(14, 0, 0).unwrap();
        // Friday 2026-11-27 14:00 PST = 22:00 UTC
        let at = w.batch_at(&tz, Weekday::Fri, two_pm);
        assert_eq!(at, Utc.with_ymd_and_hms(2026, 11, 27, 22, 0, 0).unwrap());
        assert_eq!(week_of(at, &tz), w);
        assert_eq!(w.previous().to_string(), "2026-W47");
        assert_eq!(w.next().to_string(), "2026-W49");
        assert_eq!(
            IsoWeek::parse("2026-W53"),
            Some(IsoWeek {
                year: 2026,
                week: 53
            })
        );
        assert_eq!(
            IsoWeek::parse("2026-W53").unwrap().next().to_string(),
            "2027-W01"
        );
        // The batch time agrees with the schedule's next_batch_at.
        let tuesday = Utc.with_ymd_and_hms(2026, 11, 24, 17, 0, 0).unwrap();
        assert_eq!(next_batch_at(tuesday, &tz, Weekday::Fri, two_pm), at);
    }

    #[test]
    fn lines_add_up_their_orders_and_states_read_as_operators_say_them() {
        let o = |t, c| OrderFigures {
            total: usd(t),
            product_cost: usd(c),
            shipping: usd(0),
            platform_fee: usd(0),
        };
        let (line, each) =
            line_for(&[o(125, 0), o(135, 0), o(100, 500)], 1000, Currency::USD).unwrap();
        assert_eq!(each, vec![usd(12), usd(14), usd(0)]);
        assert_eq!(line.amount, usd(26));
        assert_eq!(line.gross, usd(360));
        assert_eq!(line.costs, usd(500));
        assert_eq!(line.orders, 3);
        assert_eq!(line_state_label("sent"), "paid");
        assert_eq!(line_state_label("held"), "held");
        assert_eq!(hold_reason(None, "verified"), None);
        assert_eq!(
            hold_reason(None, "missing").as_deref(),
            Some("bank details missing")
        );
        assert_eq!(
            hold_reason(Some("tax form"), "invalid").as_deref(),
            Some("on hold: tax form")
        );
    }

    #[test]
    fn tier_boundaries_are_ten_and_thirty_percent() {
        let net = OrderFigures {
            total: usd(10_000),
            product_cost: usd(0),
            shipping: usd(0),
            platform_fee: usd(0),
        };
        let rates: Vec<u32> = Tier::ALL.iter().map(Tier::commission_bps).collect();
        assert_eq!(rates.iter().min(), Some(&1000));
        assert_eq!(rates.iter().max(), Some(&3000));
        assert!(rates.windows(2).all(|w| w[0] < w[1]), "tiers rise");
        assert_eq!(net.earnings(1000), Ok(usd(1_000)));
        assert_eq!(net.earnings(3000), Ok(usd(3_000)));
        for t in Tier::ALL {
            assert_eq!(Tier::parse(t.as_str()), Some(t));
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn figures() -> impl Strategy<Value = OrderFigures> {
            (
                0i64..10_000_000,
                0i64..5_000_000,
                0i64..100_000,
                0i64..1_000_000,
            )
                .prop_map(|(t, c, s, f)| OrderFigures {
                    total: usd(t),
                    product_cost: usd(c),
                    shipping: usd(s),
                    platform_fee: usd(f),
                })
        }

        proptest! {
            #[test]
            fn earnings_are_never_negative_and_never_above_the_net(o in figures(), bps in 1000u32..=3000) {
                let e = o.earnings(bps).unwrap();
                let net = o.net().unwrap();
                prop_assert!(e.minor >= 0);
                prop_assert!(e.minor <= net.minor);
                // Exactly the rate, rounded once: within half a minor unit.
                let exact = i128::from(net.minor) * i128::from(bps);
                prop_assert!((i128::from(e.minor) * 10_000 - exact).abs() <= 5_000);
            }

            #[test]
            fn a_higher_tier_never_earns_less(o in figures()) {
                let mut last = -1i64;
                for t in Tier::ALL {
                    let e = o.earnings(t.commission_bps()).unwrap().minor;
                    prop_assert!(e >= last);
                    last = e;
                }
            }

            #[test]
            fn a_line_is_the_exact_integer_sum_of_its_orders(orders in proptest::collection::vec(figures(), 0..40), bps in 1000u32..=3000) {
                let (line, each) = line_for(&orders, bps, Currency::USD).unwrap();
                prop_assert_eq!(each.len(), orders.len());
                prop_assert_eq!(line.amount.minor, each.iter().map(|m| m.minor).sum::<i64>());
                prop_assert!(line.amount.minor >= 0);
                prop_assert_eq!(line.gross.minor, orders.iter().map(|o| o.total.minor).sum::<i64>());
            }
        }
    }
}
