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
}
