-- +goose Up
-- What undoing an import needs (SPEC §10.3), written by each chunk in the
-- transaction of its merge: one row per customer the import created or
-- touched. before is an existing customer as it was (its row, identities,
-- shared-identifier carriers, tags, memberships, visits and addresses).
-- written is the chunk's transaction: a row of the customer (its own, an
-- identifier, tag, membership, address) written by a later transaction
-- means it was changed since by something else, and the revert keeps it —
-- a check on the rows' xmin at revert time instead of a fingerprint of
-- every customer at import time (which slowed the import markedly; see
-- docs/benchmarks.md). outcome is set as the revert goes, batch by batch, so a revert
-- that dies resumes where it stopped.
CREATE TABLE import_changes (
    organization_id text NOT NULL,
    import_id       text NOT NULL,
    customer_id     text NOT NULL,
    created         boolean NOT NULL DEFAULT false, -- the import created the customer
    merged          boolean NOT NULL DEFAULT false, -- a merge of this import involved it
    before          jsonb,                          -- existing customers only
    written         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    outcome         text, -- NULL until reverted: deleted | restored | kept
    reason          text NOT NULL DEFAULT '', -- why a kept customer was kept
    PRIMARY KEY (organization_id, import_id, customer_id)
);
-- The revert's batches: not yet reverted, in customer order.
CREATE INDEX import_changes_pending ON import_changes (organization_id, import_id, customer_id) WHERE outcome IS NULL;

-- revert_job: the job undoing the import (one per import: repeating the
-- request answers it). revert: its outcome, shown on the import object.
ALTER TABLE imports ADD COLUMN revert_job text, ADD COLUMN revert jsonb;

-- +goose Down
ALTER TABLE imports DROP COLUMN revert, DROP COLUMN revert_job;
DROP TABLE import_changes;
