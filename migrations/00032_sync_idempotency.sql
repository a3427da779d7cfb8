-- +goose Up
-- Incremental sync (SPEC §10.4): GET /customers?sort=updated pages through
-- an organization's customers by (updated, id) with a keyset cursor, and
-- updated_since starts there; this index serves both without a sort.
CREATE INDEX customers_updated ON customers (organization_id, updated, id);

-- Idempotency-Key on the creating POSTs: the first answer, replayed as it
-- was to a retry with the same key and body for 24 hours. status is NULL
-- while the first request is being answered.
CREATE TABLE idempotency_keys (
    organization_id text        NOT NULL,
    key             text        NOT NULL,
    request_hash    text        NOT NULL,
    status          integer,
    location        text,
    body            bytea,
    created         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, key)
);
-- The workers' reconciler deletes keys past 24 hours, oldest first.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created);

-- +goose Down
DROP TABLE idempotency_keys;
DROP INDEX customers_updated;
