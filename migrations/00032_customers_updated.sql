-- +goose Up
-- Incremental sync (SPEC §10.4): GET /customers?sort=updated pages through
-- an organization's customers by (updated, id) with a keyset cursor, and
-- updated_since starts there; this index serves both without a sort.
CREATE INDEX customers_updated ON customers (organization_id, updated, id);

-- +goose Down
DROP INDEX customers_updated;
