-- +goose Up
-- The customers an import created (and no merge of it involved) are recorded
-- as arrays: one row per chunk statement, of up to a revert batch's ids,
-- instead of one import_changes row and primary-key entry (~300 bytes) per
-- customer that only said "created by this import, in this transaction".
-- written is the chunk's transaction, as in import_changes. A revert takes
-- one row per transaction (postgres/import_revert_created.go), deletes its
-- customers not changed since and records each kept one as an
-- import_changes row (outcome 'kept', with its reason): an array row is
-- reverted whole or not at all, so a revert that dies resumes with the
-- rows not yet reverted. deleted counts what it deleted, for the summary.
-- A customer of an array that also has an import_changes row of the same
-- import (a later chunk or a retried row changed it) is reverted by that
-- row, as created.
CREATE TABLE import_created (
    organization_id text NOT NULL,
    import_id       text NOT NULL,
    first_id        text NOT NULL, -- the smallest id when written: the row's key
    customer_ids    text[] NOT NULL,
    written         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    reverted        boolean NOT NULL DEFAULT false,
    deleted         integer NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, import_id, first_id)
);

-- Existing marks not yet reverted become arrays (those of one transaction
-- together); the reverted ones stay rows, counted by the summary as before.
INSERT INTO import_created (organization_id, import_id, first_id, customer_ids, written)
SELECT organization_id, import_id, min(customer_id), array_agg(customer_id ORDER BY customer_id), written
FROM (SELECT organization_id, import_id, customer_id, written,
        (row_number() OVER (PARTITION BY organization_id, import_id, written ORDER BY customer_id) - 1) / 4000 AS part
    FROM import_changes WHERE created AND NOT merged AND outcome IS NULL) r
GROUP BY organization_id, import_id, written, part;
DELETE FROM import_changes WHERE created AND NOT merged AND outcome IS NULL;

-- +goose Down
INSERT INTO import_changes (organization_id, import_id, customer_id, created, written)
SELECT organization_id, import_id, unnest(customer_ids), true, written FROM import_created WHERE NOT reverted
ON CONFLICT DO NOTHING;
DROP TABLE import_created;
