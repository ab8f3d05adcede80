-- A show's sales on the dashboard read only this index (index-only scan).
DROP INDEX IF EXISTS orders_show_idx;
CREATE INDEX orders_show_idx ON orders (show_id) INCLUDE (status, total_minor, currency)
    WHERE show_id IS NOT NULL;
