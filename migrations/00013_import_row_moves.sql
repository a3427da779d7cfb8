-- +goose Up
-- The plan records the rows it moves to another chunk here instead of
-- updating import_rows.chunk: that UPDATE rewrote every moved row (and its
-- index entries), minutes for a 2 GB file whose repeats move millions of
-- rows. import_rows.chunk stays the row's natural chunk.
CREATE TABLE import_row_moves (
    organization_id text NOT NULL,
    import_id       text NOT NULL,
    row_num         integer NOT NULL,
    chunk           integer NOT NULL,
    PRIMARY KEY (organization_id, import_id, row_num)
);
CREATE INDEX import_row_moves_chunk ON import_row_moves (organization_id, import_id, chunk);

-- +goose Down
DROP TABLE import_row_moves;
