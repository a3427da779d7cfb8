-- +goose Up
-- Staged rows are only read while an import runs; the reconciler deletes
-- them some time after it ends (LINKIT_IMPORT_STAGING_TTL) and marks the
-- import so finished imports are not probed again.
ALTER TABLE imports ADD COLUMN staging_purged boolean NOT NULL DEFAULT false;
CREATE INDEX imports_unpurged ON imports (finished)
    WHERE NOT staging_purged AND status IN ('completed', 'failed', 'cancelled');

-- +goose Down
DROP INDEX imports_unpurged;
ALTER TABLE imports DROP COLUMN staging_purged;
