-- +goose Up
-- import_changes_pending held exactly the primary key's columns, and every
-- row is pending (outcome IS NULL) when an import writes it: each imported
-- customer paid a second index entry (~170 bytes, as much as the primary
-- key's) for an index only a revert reads. The revert now walks the primary
-- key from where its previous batch stopped (postgres/import_revert.go:
-- sqlRevertNext), which reads each row once as the partial index did.
DROP INDEX import_changes_pending;

-- +goose Down
CREATE INDEX import_changes_pending ON import_changes (organization_id, import_id, customer_id) WHERE outcome IS NULL;
