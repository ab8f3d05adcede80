//! Money: integer minor units plus an ISO 4217 currency. Never floating point.
//!
//! Rounding rules (tested below):
//! - Converting a provider's decimal string ("12.34") to minor units is exact;
//!   more decimals than the currency has is an error, never a silent rounding.
//! - Applying a rate in basis points ([`Money::apply_bps`]) computes the exact
//!   product in `i128` and rounds once, half to even ("banker's rounding"), so
//!   summing many lines has no upward bias. Payouts apply the rate to a creator's
//!   whole net and round once per payout line, not once per order.
//! - Arithmetic across currencies is refused with [`MoneyError::CurrencyMismatch`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency lsn-ops knows, with its minor-unit exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// Currencies and their exponents (JPY has no minor unit, KWD has three).
const CURRENCIES: &[(&str, u8, &str)] = &[
    ("USD", 2, "$"),
    ("EUR", 2, "€"),
    ("GBP", 2, "£"),
    ("CAD", 2, "CA$"),
    ("AUD", 2, "A$"),
    ("MXN", 2, "MX$"),
    ("JPY", 0, "¥"),
    ("KWD", 3, "KD"),
];

impl Currency {
    pub const USD: Currency = Currency {
        code: *b"USD",
        exponent: 2,
    };
    pub const EUR: Currency = Currency {
        code: *b"EUR",
        exponent: 2,
    };
    pub const GBP: Currency = Currency {
        code: *b"GBP",
        exponent: 2,
    };
    pub const JPY: Currency = Currency {
        code: *b"JPY",
        exponent: 0,
    };
    pub const KWD: Currency = Currency {
        code: *b"KWD",
        exponent: 3,
    };

    /// Parses a three-letter code (case-insensitive, surrounding spaces allowed).
    pub fn parse(code: &str) -> Option<Currency> {
        let code = code.trim();
        CURRENCIES
            .iter()
            .find(|(c, _, _)| c.eq_ignore_ascii_case(code))
            .map(|(c, exponent, _)| {
                let b = c.as_bytes();
                Currency {
                    code: [b[0], b[1], b[2]],
                    exponent: *exponent,
                }
            })
    }

    pub fn code(&self) -> &str {
        // The code bytes come only from the ASCII table above.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Digits after the decimal point.
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// A short symbol for screens ("$", "€"); the code when none is known.
    pub fn symbol(&self) -> &'static str {
        CURRENCIES
            .iter()
            .find(|(c, _, _)| c.as_bytes() == self.code)
            .map(|(_, _, s)| *s)
            .unwrap_or("")
    }

    fn scale(&self) -> i128 {
        10i128.pow(u32::from(self.exponent))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::parse(&value).ok_or(MoneyError::UnknownCurrency(value))
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.code().to_string()
    }
}

/// Minor units of a currency given by its code (a database column): "$12.34";
/// an unknown code is shown as minor units with the code.
pub fn display_minor(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Some(c) => Money::new(minor, c).display(),
        None => format!("{minor} {} (minor units)", currency.trim()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency mismatch: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range")]
    Overflow,
    #[error("unknown currency \"{0}\"")]
    UnknownCurrency(String),
    #[error("\"{value}\" is not an amount in {currency} (at most {exponent} decimals)")]
    BadAmount {
        value: String,
        currency: Currency,
        exponent: u8,
    },
}

/// Rounding of a fractional minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Half to even: 0.5 → 0, 1.5 → 2, -2.5 → -2.
    HalfEven,
    /// Toward zero: what is never overpaid.
    Down,
}

/// An amount of money: integer minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    /// Parses a provider's decimal string ("12.34", "-0.5", "100") exactly.
    pub fn from_major_str(value: &str, currency: Currency) -> Result<Money, MoneyError> {
        let bad = || MoneyError::BadAmount {
            value: value.to_string(),
            currency,
            exponent: currency.exponent,
        };
        let text = value.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let valid = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !valid(whole)
            || !valid(frac)
            || frac.len() > usize::from(currency.exponent)
        {
            return Err(bad());
        }
        if digits.contains('.') && frac.is_empty() {
            return Err(bad());
        }
        let whole: i128 = whole.parse().map_err(|_| bad())?;
        let mut frac_value: i128 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        for _ in frac.len()..usize::from(currency.exponent) {
            frac_value *= 10;
        }
        let minor = whole
            .checked_mul(currency.scale())
            .and_then(|w| w.checked_add(frac_value))
            .ok_or(MoneyError::Overflow)?;
        let minor = if negative { -minor } else { minor };
        let minor = i64::try_from(minor).map_err(|_| MoneyError::Overflow)?;
        Ok(Money { minor, currency })
    }

    /// The provider wire form: "12.34" ("1234" for JPY), no thousands separators.
    pub fn to_major_string(&self) -> String {
        let exponent = usize::from(self.currency.exponent);
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = i128::from(self.minor).unsigned_abs();
        if exponent == 0 {
            return format!("{sign}{abs}");
        }
        let scale = self.currency.scale().unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = exponent
        )
    }

    /// For screens: symbol, thousands separators, all decimals: "$1,234.56".
    pub fn display(&self) -> String {
        let plain = self.to_major_string();
        let (sign, unsigned) = match plain.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", plain.as_str()),
        };
        let (whole, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        let symbol = self.currency.symbol();
        let frac = if frac.is_empty() {
            String::new()
        } else {
            format!(".{frac}")
        };
        if symbol.is_empty() {
            format!("{sign}{grouped}{frac} {}", self.currency)
        } else {
            format!("{sign}{symbol}{grouped}{frac}")
        }
    }

    /// A compact form for narrow cells: "$12.3k", "$4.1M"; exact below 10,000 major units.
    pub fn display_compact(&self) -> String {
        let major = i128::from(self.minor) / self.currency.scale();
        let abs = major.unsigned_abs();
        if abs < 10_000 {
            return self.display();
        }
        let sign = if self.minor < 0 { "-" } else { "" };
        let symbol = self.currency.symbol();
        let (unit, div) = if abs >= 1_000_000 {
            ("M", 1_000_000u128)
        } else {
            ("k", 1_000u128)
        };
        // One decimal, truncated: a compact figure never overstates.
        let tenths = abs * 10 / div;
        format!("{sign}{symbol}{}.{}{unit}", tenths / 10, tenths % 10)
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }

    /// Sums amounts of one currency; an empty list is zero of `currency`.
    pub fn sum<'a>(
        items: impl IntoIterator<Item = &'a Money>,
        currency: Currency,
    ) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(*m))
    }

    /// `self × bps / 10 000`, computed exactly and rounded once.
    pub fn apply_bps(self, bps: u32, rounding: Rounding) -> Result<Money, MoneyError> {
        let minor = div_round(i128::from(self.minor) * i128::from(bps), 10_000, rounding);
        let minor = i64::try_from(minor).map_err(|_| MoneyError::Overflow)?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }

    /// Average of `self` over `count` items (AOV), rounded half to even; `None` for 0.
    pub fn divide(self, count: i64) -> Option<Money> {
        if count <= 0 {
            return None;
        }
        let minor = div_round(
            i128::from(self.minor),
            i128::from(count),
            Rounding::HalfEven,
        );
        i64::try_from(minor).ok().map(|minor| Money {
            minor,
            currency: self.currency,
        })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_major_string(), self.currency)
    }
}

/// Integer division with an explicit rounding of the remainder.
pub fn div_round(numerator: i128, denominator: i128, rounding: Rounding) -> i128 {
    debug_assert!(denominator > 0);
    let quotient = numerator / denominator; // truncates toward zero
    let remainder = numerator % denominator;
    match rounding {
        Rounding::Down => quotient,
        Rounding::HalfEven => {
            let twice = remainder.abs() * 2;
            let away = numerator.signum();
            if twice > denominator || (twice == denominator && quotient % 2 != 0) {
                quotient + away
            } else {
                quotient
            }
        }
    }
}

/// A ratio in basis points (hundredths of a percent), e.g. conversion rate.
pub fn ratio_bps(part: i64, whole: i64) -> Option<i64> {
    if whole <= 0 {
        return None;
    }
    i64::try_from(div_round(
        i128::from(part) * 10_000,
        i128::from(whole),
        Rounding::HalfEven,
    ))
    .ok()
}

/// "12.34%" from basis points.
pub fn format_bps(bps: i64) -> String {
    let sign = if bps < 0 { "-" } else { "" };
    let abs = bps.unsigned_abs();
    format!("{sign}{}.{:02}%", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::USD)
    }

    #[test]
    fn parses_provider_amounts_exactly() {
        assert_eq!(Money::from_major_str("12.34", Currency::USD), Ok(usd(1234)));
        assert_eq!(Money::from_major_str("12.3", Currency::USD), Ok(usd(1230)));
        assert_eq!(Money::from_major_str("100", Currency::USD), Ok(usd(10000)));
        assert_eq!(Money::from_major_str("-0.05", Currency::USD), Ok(usd(-5)));
        assert_eq!(
            Money::from_major_str("1500", Currency::JPY),
            Ok(Money::new(1500, Currency::JPY))
        );
        assert_eq!(
            Money::from_major_str("1.234", Currency::KWD),
            Ok(Money::new(1234, Currency::KWD))
        );
    }

    #[test]
    fn refuses_amounts_that_would_need_rounding_or_are_not_numbers() {
        for bad in [
            "12.345", "1.5e3", "", ".5", "5.", "12,34", "abc", "--1", "1 000",
        ] {
            assert!(
                Money::from_major_str(bad, Currency::USD).is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(Money::from_major_str("1.5", Currency::JPY).is_err());
        assert_eq!(
            Money::from_major_str("99999999999999999999", Currency::USD),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn wire_form_round_trips() {
        for (minor, text) in [
            (1234, "12.34"),
            (5, "0.05"),
            (-5, "-0.05"),
            (100, "1.00"),
            (0, "0.00"),
        ] {
            assert_eq!(usd(minor).to_major_string(), text);
            assert_eq!(Money::from_major_str(text, Currency::USD), Ok(usd(minor)));
        }
        assert_eq!(Money::new(1500, Currency::JPY).to_major_string(), "1500");
        assert_eq!(Money::new(1234, Currency::KWD).to_major_string(), "1.234");
    }

    #[test]
    fn display_groups_thousands_and_shows_symbol() {
        assert_eq!(usd(123456789).display(), "$1,234,567.89");
        assert_eq!(usd(-100).display(), "-$1.00");
        assert_eq!(usd(99).display(), "$0.99");
        assert_eq!(Money::new(1_000_000, Currency::JPY).display(), "¥1,000,000");
        assert_eq!(usd(123_456_700).display_compact(), "$1.2M");
        assert_eq!(usd(1_234_567).display_compact(), "$12.3k");
        assert_eq!(usd(999_999).display_compact(), "$9,999.99");
    }

    #[test]
    fn currency_mismatch_is_refused() {
        let eur = Money::new(100, Currency::EUR);
        assert_eq!(
            usd(100).checked_add(eur),
            Err(MoneyError::CurrencyMismatch(Currency::USD, Currency::EUR))
        );
        assert_eq!(
            usd(100).checked_sub(eur),
            Err(MoneyError::CurrencyMismatch(Currency::USD, Currency::EUR))
        );
        assert!(Money::sum(&[usd(1), eur], Currency::USD).is_err());
        assert_eq!(Money::sum(&[usd(1), usd(2)], Currency::USD), Ok(usd(3)));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(usd(i64::MAX).checked_add(usd(1)), Err(MoneyError::Overflow));
        assert_eq!(usd(i64::MIN).checked_sub(usd(1)), Err(MoneyError::Overflow));
    }

    #[test]
    fn bps_rounds_half_to_even_once() {
        // 12.5 cents → 12 (even), 13.5 → 14, 12.51 → 13
        assert_eq!(usd(125).apply_bps(1000, Rounding::HalfEven), Ok(usd(12)));
        assert_eq!(usd(135).apply_bps(1000, Rounding::HalfEven), Ok(usd(14)));
        assert_eq!(usd(12510).apply_bps(10, Rounding::HalfEven), Ok(usd(13)));
        assert_eq!(usd(-125).apply_bps(1000, Rounding::HalfEven), Ok(usd(-12)));
        assert_eq!(usd(-135).apply_bps(1000, Rounding::HalfEven), Ok(usd(-14)));
        assert_eq!(usd(199).apply_bps(5000, Rounding::Down), Ok(usd(99)));
        assert_eq!(
            usd(10_000).apply_bps(3000, Rounding::HalfEven),
            Ok(usd(3000))
        );
    }

    #[test]
    fn averages_and_ratios() {
        assert_eq!(usd(1000).divide(3), Some(usd(333)));
        assert_eq!(usd(1000).divide(0), None);
        assert_eq!(ratio_bps(1, 3), Some(3333));
        assert_eq!(ratio_bps(1, 0), None);
        assert_eq!(format_bps(1234), "12.34%");
        assert_eq!(format_bps(5), "0.05%");
    }

    #[test]
    fn currency_codes() {
        assert_eq!(Currency::parse(" usd "), Some(Currency::USD));
        assert_eq!(Currency::parse("XXX"), None);
        assert_eq!(Currency::JPY.exponent(), 0);
        let json = serde_json::to_string(&usd(5)).unwrap_or_default();
        assert_eq!(json, r#"{"minor":5,"currency":"USD"}"#);
    }
}
