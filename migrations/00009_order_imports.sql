-- +goose Up
-- Order imports (kind=orders): the rows of one order share order_key (its
-- order number), which the plan uses to keep an order's rows in one chunk;
-- raw keeps an order row's original cells, for problems found only when the
-- whole order is merged (NULL for customer imports, whose problems are all
-- found while reading).
ALTER TABLE import_rows
    ADD COLUMN order_key text NOT NULL DEFAULT '',
    ADD COLUMN raw text[];

ALTER TABLE imports
    ADD COLUMN orders_created integer NOT NULL DEFAULT 0,
    ADD COLUMN orders_skipped integer NOT NULL DEFAULT 0,
    ADD COLUMN orders_invalid integer NOT NULL DEFAULT 0;

-- The import that created an order (NULL for orders posted through the API),
-- for undoing an import and for support.
ALTER TABLE orders ADD COLUMN import_id text;

-- +goose Down
ALTER TABLE orders DROP COLUMN import_id;
ALTER TABLE imports DROP COLUMN orders_invalid, DROP COLUMN orders_skipped, DROP COLUMN orders_created;
ALTER TABLE import_rows DROP COLUMN raw, DROP COLUMN order_key;
