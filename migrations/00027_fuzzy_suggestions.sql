-- +goose Up
-- Fuzzy duplicate suggestions (SPEC §10.2). Blocking keys are computed in
-- SQL (dmetaphone from fuzzystrmatch, a contrib extension like pg_trgm) and
-- kept per customer in fuzzy_keys, written only by the background scorer:
-- no index on customers, so upserts and imports pay nothing for them.
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;

-- One row per customer: its blocking keys, each a hash of the rule and the
-- rule's key text (a collision only adds a candidate, which the scorer
-- rejects). One row rather than one per key keeps a scan's writes to a
-- row per customer; the GIN index finds the customers sharing a key.
CREATE TABLE fuzzy_keys (
    organization_id text NOT NULL,
    customer_id     text NOT NULL,
    keys            bigint[] NOT NULL,
    PRIMARY KEY (organization_id, customer_id)
);
CREATE INDEX fuzzy_keys_keys ON fuzzy_keys USING gin (keys);

-- The organization's Fellegi–Sunter model (m, u, lambda), estimated by the
-- last scan; the incremental scorer reads it.
CREATE TABLE fuzzy_models (
    organization_id text PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    model           jsonb NOT NULL,
    estimated       timestamptz NOT NULL DEFAULT now()
);

-- Customers created or changed since they were last scored. Filled by
-- statement triggers (one INSERT … SELECT per statement, whatever the
-- path: upsert, import, API), drained by the "suggest" queue. No unique
-- key: an insert never waits on a drain holding the same customer.
CREATE TABLE suggest_pending (
    organization_id text NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    customer_id     text NOT NULL,
    since           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);

-- +goose StatementBegin
CREATE FUNCTION suggest_pending_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO suggest_pending (organization_id, customer_id)
    SELECT organization_id, id FROM new_rows WHERE merged_into IS NULL;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION suggest_pending_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only what the model compares: rollups (orders, totals) change nothing.
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
CREATE FUNCTION suggest_pending_addresses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO suggest_pending (organization_id, customer_id)
    SELECT DISTINCT organization_id, customer_id FROM new_rows WHERE is_default;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER customers_suggest_inserted AFTER INSERT ON customers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION suggest_pending_inserted();
CREATE TRIGGER customers_suggest_updated AFTER UPDATE ON customers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION suggest_pending_updated();
CREATE TRIGGER customer_addresses_suggest_inserted AFTER INSERT ON customer_addresses
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION suggest_pending_addresses();
CREATE TRIGGER customer_addresses_suggest_updated AFTER UPDATE ON customer_addresses
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION suggest_pending_addresses();

-- +goose Down
DROP TRIGGER customer_addresses_suggest_updated ON customer_addresses;
DROP TRIGGER customer_addresses_suggest_inserted ON customer_addresses;
DROP TRIGGER customers_suggest_updated ON customers;
DROP TRIGGER customers_suggest_inserted ON customers;
DROP FUNCTION suggest_pending_addresses();
DROP FUNCTION suggest_pending_updated();
DROP FUNCTION suggest_pending_inserted();
DROP TABLE suggest_pending;
DROP TABLE fuzzy_models;
DROP TABLE fuzzy_keys;
