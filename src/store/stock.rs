//! Stock in the store: every change of a product's units on hand or reserved
//! goes through [`move_stock`], which writes the `stock_movements` row (who,
//! why, the levels after) in the caller's transaction, following the rules of
//! [`crate::domain::inventory`]: a capture reserves an order's lines, a refund
//! (once completed), a decline or a cancel releases whole units of lines not
//! yet shipped (each unit once: `order_items.released_qty`), a return received
//! brings units back on hand (`returned_qty`; a defective one flags the product
//! for quality review instead). Oversell is raised by the database trigger
//! `products_oversold` the moment reserved exceeds on hand, whoever writes.
//!
//! An order cancelled (`store::cancel`) or a checkout expired
//! ([`expire_checkouts`], the worker) releases every unit it holds at once.
//!
//! The read side: [`oversold`], [`low`] and [`reorder`] for `lsn-ops
//! inventory`, bounded.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::domain::inventory::{self, StockLevel};

/// Which way a movement goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Reserve,
    Release,
    Return,
    ReturnDefective,
}

impl Movement {
    fn as_str(self) -> &'static str {
        match self {
            Movement::Reserve => "reserve",
            Movement::Release => "release",
            Movement::Return => "return",
            Movement::ReturnDefective => "return_defective",
        }
    }
}

/// Moves one product's stock and records the movement. Reserved never goes
/// below zero (data from before the ledger may have reserved less than an
/// order now releases); the row records the change actually made.
#[allow(clippy::too_many_arguments)]
pub async fn move_stock(
    conn: &mut PgConnection,
    product_id: i64,
    order: Option<(i64, i64)>,
    kind: Movement,
    on_hand_delta: i32,
    reserved_delta: i32,
    reason: &str,
    operator: &str,
) -> Result<(), sqlx::Error> {
    let row: Option<(i32, i32, i32, i32)> = sqlx::query_as(
        "WITH before AS (SELECT stock_on_hand, stock_reserved FROM products WHERE id = $1 FOR UPDATE)
         UPDATE products p SET stock_on_hand = GREATEST(p.stock_on_hand + $2, 0),
                               stock_reserved = GREATEST(p.stock_reserved + $3, 0)
           FROM before WHERE p.id = $1
         RETURNING p.stock_on_hand, p.stock_reserved, before.stock_on_hand, before.stock_reserved",
    )
    .bind(product_id)
    .bind(on_hand_delta)
    .bind(reserved_delta)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((on_hand, reserved, on_hand_before, reserved_before)) = row else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO stock_movements (product_id, order_id, order_item_id, kind, on_hand_delta, reserved_delta,
                                      on_hand_after, reserved_after, reason, operator)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(product_id)
    .bind(order.map(|o| o.0))
    .bind(order.map(|o| o.1))
    .bind(kind.as_str())
    .bind(on_hand - on_hand_before)
    .bind(reserved - reserved_before)
    .bind(on_hand)
    .bind(reserved)
    .bind(reason)
    .bind(operator)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A captured order's lines are reserved (the applier, on the first capture).
pub async fn reserve_order(
    conn: &mut PgConnection,
    order_id: i64,
    operator: &str,
) -> Result<(), sqlx::Error> {
    let lines: Vec<(i64, i64, i32, i32)> = sqlx::query_as(
        "SELECT id, product_id, quantity, released_qty FROM order_items WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    for (item, product, quantity, released) in lines {
        let units = quantity - released;
        if units > 0 {
            move_stock(
                conn,
                product,
                Some((order_id, item)),
                Movement::Reserve,
                0,
                units,
                "payment captured",
                operator,
            )
            .await?;
        }
    }
    Ok(())
}

/// Releases up to `units` of each `(order_item_id, units)` of an order whose
/// goods have not shipped. Returns the units released in all.
pub async fn release_lines(
    conn: &mut PgConnection,
    order_id: i64,
    lines: &[(i64, i32)],
    reason: &str,
    operator: &str,
) -> Result<i32, sqlx::Error> {
    let holds: Option<bool> = sqlx::query_scalar(
        "SELECT paid_at IS NOT NULL AND shipped_at IS NULL FROM orders WHERE id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    if holds != Some(true) {
        // Not captured (nothing reserved) or shipped (the units left with it).
        return Ok(0);
    }
    let mut total = 0;
    for &(item, asked) in lines {
        let row: Option<(i64, i32, i32)> = sqlx::query_as(
            "SELECT product_id, quantity, released_qty FROM order_items
              WHERE id = $1 AND order_id = $2 FOR UPDATE",
        )
        .bind(item)
        .bind(order_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((product, quantity, released)) = row else {
            continue;
        };
        let units = inventory::release_units(quantity, released, asked);
        if units == 0 {
            continue;
        }
        sqlx::query("UPDATE order_items SET released_qty = released_qty + $2 WHERE id = $1")
            .bind(item)
            .bind(units)
            .execute(&mut *conn)
            .await?;
        move_stock(
            conn,
            product,
            Some((order_id, item)),
            Movement::Release,
            0,
            -units,
            reason,
            operator,
        )
        .await?;
        total += units;
    }
    Ok(total)
}

/// Releases every line of an order not shipped (a decline, a cancel).
pub async fn release_order(
    conn: &mut PgConnection,
    order_id: i64,
    reason: &str,
    operator: &str,
) -> Result<i32, sqlx::Error> {
    let lines: Vec<(i64, i32)> =
        sqlx::query_as("SELECT id, quantity FROM order_items WHERE order_id = $1 ORDER BY id")
            .bind(order_id)
            .fetch_all(&mut *conn)
            .await?;
    release_lines(conn, order_id, &lines, reason, operator).await
}

/// A completed refund's items go back to stock, once (`refunds.stock_released_at`).
/// Returns the units released (0 when already done or nothing to release).
pub async fn release_refund(
    conn: &mut PgConnection,
    refund_id: i64,
    operator: &str,
) -> Result<i32, sqlx::Error> {
    let order: Option<i64> = sqlx::query_scalar(
        "UPDATE refunds SET stock_released_at = now()
          WHERE id = $1 AND stock_released_at IS NULL AND status = 'completed'
          RETURNING order_id",
    )
    .bind(refund_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(order_id) = order else {
        return Ok(0);
    };
    let lines: Vec<(i64, i32)> = sqlx::query_as(
        "SELECT order_item_id, quantity FROM refund_items WHERE refund_id = $1 ORDER BY order_item_id",
    )
    .bind(refund_id)
    .fetch_all(&mut *conn)
    .await?;
    release_lines(
        conn,
        order_id,
        &lines,
        &format!("refund #{refund_id} completed"),
        operator,
    )
    .await
}

/// A checkout that expired: the order cancelled and the units it held released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expired {
    pub order_id: i64,
    pub order_number: String,
    pub released: i32,
}

/// Checkouts not paid within `timeout` (orders still `pending_payment`
/// created before `now - timeout`), at most `limit`, oldest first, in one
/// transaction: each order is cancelled ("checkout expired"), every unit it
/// holds is released through [`release_order`] (each with its
/// `stock_movements` row) and an audit row says so. Several workers never
/// take the same order (`SKIP LOCKED`). Under the runbook's flow units are
/// reserved at capture, so an unpaid checkout normally holds none; the sweep
/// closes the checkout, and a capture arriving after it revives the order
/// (the applier) rather than being lost.
pub async fn expire_checkouts(
    pool: &PgPool,
    now: DateTime<Utc>,
    timeout: chrono::Duration,
    limit: i64,
    operator: &str,
) -> Result<Vec<Expired>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let due: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, order_number FROM orders
          WHERE status = 'pending_payment' AND created_at < $1 - $2::interval
          ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(timeout)
    .bind(limit.clamp(1, 10_000))
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Vec::with_capacity(due.len());
    for (order_id, order_number) in due {
        sqlx::query(
            "UPDATE orders SET status = 'cancelled', cancelled_at = $2, cancel_reason = 'checkout expired'
              WHERE id = $1",
        )
        .bind(order_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let released = release_order(&mut tx, order_id, "checkout expired", operator).await?;
        super::audit(
            &mut tx,
            operator,
            "order.checkout_expired",
            "order",
            &order_id.to_string(),
            serde_json::json!({ "order_number": order_number,
                                "timeout_minutes": timeout.num_minutes(),
                                "units_released": released }),
        )
        .await?;
        out.push(Expired {
            order_id,
            order_number,
            released,
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// A product reserved beyond what is on hand, with the orders holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Oversold {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub on_hand: i32,
    pub reserved: i32,
    /// Orders reserving it (paid, not shipped), newest first.
    pub orders: Vec<String>,
}

/// Oversold products (most over first) and their affected orders (newest first).
pub async fn oversold(pool: &PgPool, limit: i64) -> Result<Vec<Oversold>, sqlx::Error> {
    let products: Vec<(i64, String, String, i32, i32)> = sqlx::query_as(
        "SELECT id, sku, name, stock_on_hand, stock_reserved FROM products
          WHERE stock_reserved > stock_on_hand
          ORDER BY stock_reserved - stock_on_hand DESC, id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(products.len());
    for (product_id, sku, name, on_hand, reserved) in products {
        let orders: Vec<String> = sqlx::query_scalar(
            "SELECT o.order_number FROM order_items i JOIN orders o ON o.id = i.order_id
              WHERE i.product_id = $1 AND i.quantity > i.released_qty
                AND o.paid_at IS NOT NULL AND o.shipped_at IS NULL
                AND o.status IN ('paid', 'on_hold', 'fulfilling')
              ORDER BY o.created_at DESC, o.id DESC LIMIT 200",
        )
        .bind(product_id)
        .fetch_all(pool)
        .await?;
        out.push(Oversold {
            product_id,
            sku,
            name,
            on_hand,
            reserved,
            orders,
        });
    }
    Ok(out)
}

/// A product at or below its reorder point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Low {
    pub sku: String,
    pub name: String,
    pub on_hand: i32,
    pub reserved: i32,
    pub available: i32,
    pub reorder_point: i32,
    pub level: StockLevel,
    /// The earliest show today or tomorrow that pins it.
    pub pinned_in: Option<String>,
    pub show_starts: Option<DateTime<Utc>>,
}

/// Products at or below their reorder point: those pinned in a show between
/// `from` and `until` (today and tomorrow in ops time) first, by show start;
/// then the rest, least available first.
pub async fn low(
    pool: &PgPool,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Low>, sqlx::Error> {
    type Row = (
        String,
        String,
        i32,
        i32,
        i32,
        Option<String>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.sku, p.name, p.stock_on_hand, p.stock_reserved, p.reorder_point, s.title, s.scheduled_start
           FROM products p
           LEFT JOIN LATERAL (
                SELECT sh.title, sh.scheduled_start FROM show_products sp JOIN shows sh ON sh.id = sp.show_id
                 WHERE sp.product_id = p.id AND sp.pinned
                   AND sh.scheduled_start >= $1 AND sh.scheduled_start < $2
                   AND sh.status NOT IN ('ended', 'cancelled', 'failed')
                 ORDER BY sh.scheduled_start LIMIT 1) s ON true
          WHERE p.stock_on_hand - p.stock_reserved <= p.reorder_point
          ORDER BY s.scheduled_start IS NULL, s.scheduled_start, p.stock_on_hand - p.stock_reserved, p.id
          LIMIT $3",
    )
    .bind(from)
    .bind(until)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(sku, name, on_hand, reserved, reorder_point, pinned_in, show_starts)| Low {
                sku,
                name,
                on_hand,
                reserved,
                available: inventory::available(on_hand, reserved),
                reorder_point,
                level: inventory::stock_level(on_hand, reserved, reorder_point),
                pinned_in,
                show_starts,
            },
        )
        .collect())
}

/// One line of the suggested purchase list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reorder {
    pub sku: String,
    pub name: String,
    pub creator: Option<String>,
    pub on_hand: i32,
    pub reserved: i32,
    pub reorder_point: i32,
    /// Units sold (paid, not refunded) in the 14 days before `now`.
    pub sold_14d: i64,
    pub suggested: i64,
}

/// Suggested purchase quantities for products at or below their reorder
/// point: [`inventory::reorder_quantity`] from the last 14 days' sales.
pub async fn reorder(
    pool: &PgPool,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Reorder>, sqlx::Error> {
    type Row = (String, String, Option<String>, i32, i32, i32, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.sku, p.name, c.handle, p.stock_on_hand, p.stock_reserved, p.reorder_point,
                coalesce((SELECT sum(i.quantity - i.released_qty)::bigint
                            FROM order_items i JOIN orders o ON o.id = i.order_id
                           WHERE i.product_id = p.id AND o.paid_at >= $1 - interval '14 days' AND o.paid_at < $1
                             AND o.status <> 'refunded'), 0)
           FROM products p LEFT JOIN creators c ON c.id = p.creator_id
          WHERE p.stock_on_hand - p.stock_reserved <= p.reorder_point
          ORDER BY p.stock_on_hand - p.stock_reserved, p.id
          LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut out: Vec<Reorder> = rows
        .into_iter()
        .map(
            |(sku, name, creator, on_hand, reserved, reorder_point, sold_14d)| Reorder {
                suggested: inventory::reorder_quantity(on_hand, reserved, reorder_point, sold_14d),
                sku,
                name,
                creator,
                on_hand,
                reserved,
                reorder_point,
                sold_14d,
            },
        )
        .filter(|r| r.suggested > 0)
        .collect();
    out.sort_by(|a, b| b.suggested.cmp(&a.suggested).then(a.sku.cmp(&b.sku)));
    Ok(out)
}
