//! `lsn-ops report daily|weekly [--date D] [--format text|json|csv]`: the
//! runbook's metrics over one ops day or seven ([`crate::store::reports`]).
//! Reading needs no role beyond being able to reach the database.

use chrono::{Duration, NaiveDate, Utc};

use crate::cli::{Failure, Format, ReportPeriod, StatusFormat};
use crate::config::Loaded;
use crate::domain::Currency;
use crate::housekeeping::render::{render_csv, render_show, render_text};
use crate::store::reports::{self, Period};

pub async fn run(loaded: &Loaded, period: ReportPeriod) -> Result<u8, Failure> {
    let tz = loaded.timezone;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let (kind, date, format) = match period {
        ReportPeriod::Daily { date, format } => ("daily", date, format),
        ReportPeriod::Weekly { date, format } => ("weekly", date, format),
        ReportPeriod::Show { id, format } => return show(loaded, id, format).await,
        ReportPeriod::Disputes { days, format } => {
            let pool = crate::store::connect_migrated(&loaded.config.database).await?;
            return super::disputes::rates(loaded, &pool, days, format).await;
        }
    };
    let last = match date.as_deref() {
        None => today - Duration::days(1),
        Some(text) => parse_date(text, today).ok_or_else(|| Failure {
            code: 2,
            message: format!("--date \"{text}\": expected YYYY-MM-DD, \"today\" or \"yesterday\""),
        })?,
    };
    let first = if kind == "weekly" {
        last - Duration::days(6)
    } else {
        last
    };
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let currency = Currency::parse(&loaded.config.payouts.currency).unwrap_or(Currency::USD);
    let report = reports::build(
        &pool,
        kind,
        Period::days(&tz, first, last),
        currency,
        Utc::now(),
    )
    .await
    .map_err(|e| Failure {
        code: 1,
        message: format!("report query failed: {e}"),
    })?;
    let out = match format {
        Format::Text => render_text(&report),
        Format::Json => {
            serde_json::to_string_pretty(&report).map_err(|e| Failure {
                code: 1,
                message: format!("cannot encode the report: {e}"),
            })? + "\n"
        }
        Format::Csv => render_csv(&report),
    };
    print!("{out}");
    Ok(0)
}

/// `report show ID`: one show's performance.
async fn show(loaded: &Loaded, id: i64, format: StatusFormat) -> Result<u8, Failure> {
    let pool = crate::store::connect_migrated(&loaded.config.database).await?;
    let currency = Currency::parse(&loaded.config.payouts.currency).unwrap_or(Currency::USD);
    let report = crate::store::show_report::build(&pool, id, currency)
        .await
        .map_err(|e| Failure {
            code: 1,
            message: format!("show report query failed: {e}"),
        })?
        .ok_or_else(|| Failure {
            code: 1,
            message: format!("show #{id} does not exist"),
        })?;
    match format {
        StatusFormat::Json => {
            let json = serde_json::to_string_pretty(&report).map_err(|e| Failure {
                code: 1,
                message: format!("cannot encode the report: {e}"),
            })?;
            println!("{json}");
        }
        StatusFormat::Text => print!("{}", render_show(&report, &loaded.timezone)),
    }
    Ok(0)
}

/// `YYYY-MM-DD`, `today` or `yesterday` (ops days).
pub fn parse_date(text: &str, today: NaiveDate) -> Option<NaiveDate> {
    match text.trim().to_ascii_lowercase().as_str() {
        "today" => Some(today),
        "yesterday" => Some(today - Duration::days(1)),
        other => NaiveDate::parse_from_str(other, "%Y-%m-%d").ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso_or_words() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert_eq!(parse_date("today", today), Some(today));
        assert_eq!(
            parse_date("Yesterday", today),
            NaiveDate::from_ymd_opt(2026, 12, 1)
        );
        assert_eq!(
            parse_date("2026-11-30", today),
            NaiveDate::from_ymd_opt(2026, 11, 30)
        );
        assert_eq!(parse_date("30/11/2026", today), None);
    }
}
