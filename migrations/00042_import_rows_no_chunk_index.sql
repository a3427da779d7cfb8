-- +goose Up
-- A chunk reads the rows staged in it as a range of row numbers through the
-- primary key (postgres: sqlChunkRows; natural chunks are ranges:
-- imports.chunk_starts, or row / chunk_rows before it). The index by chunk
-- was a second entry per staged row (~70 bytes with the organization and
-- import ids) that only that read used: a million-row file wrote it a
-- million times.
--
-- A retry's rows, staged in a chunk after the natural ones, now reach it as
-- moved-in rows (postgres/import_retry.go): those of retries still staged
-- are recorded so.
INSERT INTO import_row_moves (organization_id, import_id, row_num, chunk)
SELECT r.organization_id, r.import_id, r.row_num, r.chunk
FROM import_rows r JOIN imports i ON i.organization_id = r.organization_id AND i.id = r.import_id
WHERE CASE WHEN i.chunk_starts IS NOT NULL THEN r.chunk >= coalesce(array_length(i.chunk_starts, 1), 0)
    WHEN i.chunk_rows > 0 THEN r.chunk <> r.row_num / i.chunk_rows ELSE false END
ON CONFLICT (organization_id, import_id, row_num) DO UPDATE SET chunk = EXCLUDED.chunk;
DROP INDEX IF EXISTS import_rows_chunk;

-- +goose Down
CREATE INDEX IF NOT EXISTS import_rows_chunk ON import_rows (organization_id, import_id, chunk, row_num);
DELETE FROM import_row_moves m USING import_rows r
WHERE r.organization_id = m.organization_id AND r.import_id = m.import_id AND r.row_num = m.row_num AND r.chunk = m.chunk;
