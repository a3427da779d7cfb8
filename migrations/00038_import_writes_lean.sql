-- +goose Up
-- import_changes_pending held exactly the primary key's columns, and every
-- row is pending (outcome IS NULL) when an import writes it: each imported
-- customer paid a second index entry (~170 bytes, as much as the primary
-- key's) for an index only a revert reads. The revert now walks the primary
-- key from where its previous batch stopped (postgres/import_revert.go:
-- sqlRevertNext), which reads each row once as the partial index did.
DROP INDEX import_changes_pending;

-- Customers waiting to be scored travel as arrays: one row per statement
-- (and per 500 customers, the scorer's batch) instead of a row and an index
-- entry per customer. An import chunk's 4,000 new customers were 4,000 rows
-- (~160 bytes each with the primary key's entry), each deleted again by the
-- scorer; now they are eight rows. A checkout's upsert still writes one.
ALTER TABLE suggest_pending ADD COLUMN customer_ids text[];
UPDATE suggest_pending SET customer_ids = ARRAY[customer_id];
ALTER TABLE suggest_pending ALTER COLUMN customer_ids SET NOT NULL, DROP COLUMN customer_id;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION suggest_pending_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO suggest_pending (organization_id, customer_ids)
    SELECT organization_id, array_agg(id) FROM (
        SELECT organization_id, id, (row_number() OVER (PARTITION BY organization_id) - 1) / 500 AS part
        FROM new_rows WHERE merged_into IS NULL) r
    GROUP BY organization_id, part;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION suggest_pending_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only what the model compares: rollups (orders, totals) change nothing.
    INSERT INTO suggest_pending (organization_id, customer_ids)
    SELECT organization_id, array_agg(id) FROM (
        SELECT n.organization_id, n.id, (row_number() OVER (PARTITION BY n.organization_id) - 1) / 500 AS part
        FROM new_rows n
        JOIN old_rows o ON o.organization_id = n.organization_id AND o.id = n.id
        WHERE n.merged_into IS NULL
          AND (n.first_name, n.last_name, n.name, n.email, n.phone, n.birthdate, n.company_name)
              IS DISTINCT FROM (o.first_name, o.last_name, o.name, o.email, o.phone, o.birthdate, o.company_name)) r
    GROUP BY organization_id, part;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION suggest_pending_addresses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO suggest_pending (organization_id, customer_ids)
    SELECT organization_id, array_agg(customer_id) FROM (
        SELECT organization_id, customer_id, (row_number() OVER (PARTITION BY organization_id) - 1) / 500 AS part
        FROM (SELECT DISTINCT organization_id, customer_id FROM new_rows WHERE is_default) d) r
    GROUP BY organization_id, part;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION suggest_pending_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO suggest_pending (organization_id, customer_id)
    SELECT organization_id, id FROM new_rows WHERE merged_into IS NULL;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION suggest_pending_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO suggest_pending (organization_id, customer_id)
    SELECT n.organization_id, n.id FROM new_rows n
    JOIN old_rows o ON o.organization_id = n.organization_id AND o.id = n.id
    WHERE n.merged_into IS NULL
      AND (n.first_name, n.last_name, n.name, n.email, n.phone, n.birthdate, n.company_name)
          IS DISTINCT FROM (o.first_name, o.last_name, o.name, o.email, o.phone, o.birthdate, o.company_name);
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION suggest_pending_addresses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO suggest_pending (organization_id, customer_id)
    SELECT DISTINCT organization_id, customer_id FROM new_rows WHERE is_default;
    RETURN NULL;
END $$;
-- +goose StatementEnd

ALTER TABLE suggest_pending ADD COLUMN customer_id text, ALTER COLUMN customer_ids DROP NOT NULL;
INSERT INTO suggest_pending (organization_id, customer_id, since)
    SELECT organization_id, unnest(customer_ids), since FROM suggest_pending;
DELETE FROM suggest_pending WHERE customer_id IS NULL;
ALTER TABLE suggest_pending ALTER COLUMN customer_id SET NOT NULL, DROP COLUMN customer_ids;
CREATE INDEX import_changes_pending ON import_changes (organization_id, import_id, customer_id) WHERE outcome IS NULL;
