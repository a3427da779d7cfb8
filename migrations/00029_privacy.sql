-- +goose Up
-- Erasure (POST /api/v1/customers/{id}/erase, postgres/erase.go): an erased
-- customer keeps its row, anonymized, because its orders (amounts kept)
-- reference it; merged_into = '' marks it. Every read of live customers
-- already filters merged_into IS NULL, and a read by id answers 410.
COMMENT ON COLUMN customers.merged_into IS
    'the survivor this customer was merged into, or the empty string once the customer was erased';

-- Retention (LINKIT_RETENTION_JOBS) deletes finished jobs by age: rows are
-- written in created order, so a BRIN index finds the old ones for almost
-- nothing on each upsert's insert (a btree would add an entry per job).
CREATE INDEX jobs_created_brin ON jobs USING brin (created);

-- Retention (LINKIT_RETENTION_IMPORT_ERRORS) deletes the error reports and
-- dry-run samples of imports finished long ago and marks them, as
-- staging_purged does for staged rows.
ALTER TABLE imports ADD COLUMN errors_purged boolean NOT NULL DEFAULT false;
CREATE INDEX imports_errors_unpurged ON imports (finished)
    WHERE NOT errors_purged AND status IN ('completed', 'failed', 'cancelled');

-- +goose Down
DROP INDEX imports_errors_unpurged;
ALTER TABLE imports DROP COLUMN errors_purged;
DROP INDEX jobs_created_brin;
COMMENT ON COLUMN customers.merged_into IS NULL;
