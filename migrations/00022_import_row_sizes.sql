-- +goose Up
-- The bytes of a staged row's values when they are many (postgres.FatRowBytes;
-- NULL otherwise): the plan weighs the groups holding such rows and spreads
-- them over chunks of bounded size. Without it, 4,000 small rows whose people
-- each came back later on a 100 KB row pulled 4,000 fat customers into one
-- chunk (~0.5 GB). The partial index holds only those rows: ordinary files
-- add nothing to it.
ALTER TABLE import_rows ADD COLUMN size_bytes integer;
CREATE INDEX import_rows_fat ON import_rows (organization_id, import_id, row_num) INCLUDE (size_bytes)
    WHERE size_bytes IS NOT NULL;

-- +goose Down
DROP INDEX import_rows_fat;
ALTER TABLE import_rows DROP COLUMN size_bytes;
