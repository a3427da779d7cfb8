-- +goose Up
-- The unified customer API (seed 001) keeps, per external id, the source
-- system's record: provider/config ids and its free-form data. It lives on
-- the identity row so merges carry it to the survivor; the row's created is
-- when the source record was first seen.
ALTER TABLE customer_identities ADD COLUMN source jsonb;

-- +goose Down
ALTER TABLE customer_identities DROP COLUMN source;
