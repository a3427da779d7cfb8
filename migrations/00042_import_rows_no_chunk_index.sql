-- +goose Up
-- A chunk reads the rows staged in it as a range of row numbers through the
-- primary key (postgres: sqlChunkRows; natural chunks are ranges:
-- imports.chunk_starts). The index by chunk was a second entry per staged
-- row (~70 bytes with the organization and import ids) that only that read
-- used: a million-row file wrote it a million times.
DROP INDEX IF EXISTS import_rows_chunk;

-- +goose Down
CREATE INDEX IF NOT EXISTS import_rows_chunk ON import_rows (organization_id, import_id, chunk, row_num);
