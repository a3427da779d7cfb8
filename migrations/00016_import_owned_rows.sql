-- +goose Up
-- Rows whose email, phone or external id an existing customer owned when
-- the import was planned. A chunk probes only those rows' keys: the other
-- keys were free a moment ago, and one claimed since makes the chunk's
-- identity write fail and the chunk retry with every key probed.
CREATE TABLE import_owned_rows (
    organization_id text NOT NULL,
    import_id       text NOT NULL,
    row_num         integer NOT NULL,
    PRIMARY KEY (organization_id, import_id, row_num)
);
-- Imports planned before this table existed probe every key.
ALTER TABLE imports ADD COLUMN owned_rows_planned boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE imports DROP COLUMN owned_rows_planned;
DROP TABLE import_owned_rows;
