//! How disputes end: the win rate (won ÷ decided) and the recovery rate
//! (value won ÷ value disputed) over decided disputes, overall, by reason and
//! by creator. Shown in pane 3's footer and in `lsn-ops report disputes`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

/// Decided disputes of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rate {
    /// The reason, the creator's handle, or "all".
    pub key: String,
    pub decided: i64,
    pub won: i64,
    /// Minor units of the ops currency (disputes in others are left out).
    pub disputed_minor: i64,
    pub won_minor: i64,
}

impl Rate {
    /// Won ÷ decided, in percent (rounded down); `None` before any decision.
    pub fn win_pct(&self) -> Option<i64> {
        (self.decided > 0).then(|| self.won * 100 / self.decided)
    }

    /// Value won ÷ value disputed, in percent (rounded down).
    pub fn recovery_pct(&self) -> Option<i64> {
        (self.disputed_minor > 0).then(|| self.won_minor * 100 / self.disputed_minor)
    }

    /// "won 3/5 (60%), recovered 41%".
    pub fn describe(&self) -> String {
        match (self.win_pct(), self.recovery_pct()) {
            (Some(w), Some(r)) => {
                format!("won {}/{} ({w}%), recovered {r}%", self.won, self.decided)
            }
            (Some(w), None) => format!("won {}/{} ({w}%)", self.won, self.decided),
            _ => "no decided disputes".into(),
        }
    }
}

/// The three views of the same decided disputes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rates {
    pub since: Option<DateTime<Utc>>,
    pub overall: Rate,
    pub by_reason: Vec<Rate>,
    pub by_creator: Vec<Rate>,
}

impl Rates {
    pub fn reason(&self, reason: &str) -> Option<&Rate> {
        self.by_reason.iter().find(|r| r.key == reason)
    }

    pub fn creator(&self, handle: &str) -> Option<&Rate> {
        self.by_creator.iter().find(|r| r.key == handle)
    }
}

/// Decided disputes (an outcome recorded) opened since `since`, in
/// `currency`. By creator: the `creators_limit` creators with the most.
pub async fn rates(
    pool: &PgPool,
    since: Option<DateTime<Utc>>,
    currency: &str,
    creators_limit: i64,
) -> Result<Rates, sqlx::Error> {
    type Row = (String, i64, i64, i64, i64);
    let rows: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT 'reason', d.reason, count(*), count(*) FILTER (WHERE d.outcome = 'WON'),
                COALESCE(sum(d.amount_minor), 0)::bigint,
                COALESCE(sum(d.amount_minor) FILTER (WHERE d.outcome = 'WON'), 0)::bigint
           FROM disputes d
          WHERE d.outcome IS NOT NULL AND d.currency = $2 AND ($1::timestamptz IS NULL OR d.opened_at >= $1)
          GROUP BY d.reason
         UNION ALL
         SELECT 'all', 'all', count(*), count(*) FILTER (WHERE d.outcome = 'WON'),
                COALESCE(sum(d.amount_minor), 0)::bigint,
                COALESCE(sum(d.amount_minor) FILTER (WHERE d.outcome = 'WON'), 0)::bigint
           FROM disputes d
          WHERE d.outcome IS NOT NULL AND d.currency = $2 AND ($1::timestamptz IS NULL OR d.opened_at >= $1)",
    )
    .bind(since)
    .bind(currency)
    .fetch_all(pool)
    .await?;
    let creators: Vec<Row> = sqlx::query_as(
        "SELECT c.handle, count(*), count(*) FILTER (WHERE d.outcome = 'WON'),
                COALESCE(sum(d.amount_minor), 0)::bigint,
                COALESCE(sum(d.amount_minor) FILTER (WHERE d.outcome = 'WON'), 0)::bigint
           FROM disputes d JOIN orders o ON o.id = d.order_id JOIN creators c ON c.id = o.creator_id
          WHERE d.outcome IS NOT NULL AND d.currency = $2 AND ($1::timestamptz IS NULL OR d.opened_at >= $1)
          GROUP BY c.handle
          ORDER BY count(*) DESC, c.handle
          LIMIT $3",
    )
    .bind(since)
    .bind(currency)
    .bind(creators_limit)
    .fetch_all(pool)
    .await?;
    let rate = |key: String, decided, won, disputed_minor, won_minor| Rate {
        key,
        decided,
        won,
        disputed_minor,
        won_minor,
    };
    let mut out = Rates {
        since,
        ..Rates::default()
    };
    for (kind, key, decided, won, disputed, won_minor) in rows {
        let r = rate(key, decided, won, disputed, won_minor);
        if kind == "all" {
            out.overall = r;
        } else {
            out.by_reason.push(r);
        }
    }
    out.overall.key = "all".into();
    out.by_reason
        .sort_by(|a, b| b.decided.cmp(&a.decided).then(a.key.cmp(&b.key)));
    out.by_creator = creators
        .into_iter()
        .map(|(k, d, w, dm, wm)| rate(k, d, w, dm, wm))
        .collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_in_percent_rounded_down() {
        let r = Rate {
            key: "UNAUTHORISED".into(),
            decided: 3,
            won: 2,
            disputed_minor: 30_000,
            won_minor: 12_345,
        };
        assert_eq!(r.win_pct(), Some(66));
        assert_eq!(r.recovery_pct(), Some(41));
        assert_eq!(r.describe(), "won 2/3 (66%), recovered 41%");
        assert_eq!(Rate::default().describe(), "no decided disputes");
    }
}
