-- +goose Up
-- No query reads audit events by import, and every imported customer's
-- creation wrote an entry (an eighth of the btree inserts per new
-- customer). A feature that needs it (undoing an import) brings it back.
DROP INDEX audit_events_import;

-- +goose Down
CREATE INDEX audit_events_import ON audit_events (organization_id, import_id) WHERE import_id IS NOT NULL;
