-- +goose Up
-- The chunk size the rows were staged with: the planner (another process,
-- possibly configured differently) must number chunks the same way, or
-- rows would sit in chunks nobody runs. 0: staged before this column.
ALTER TABLE imports ADD COLUMN chunk_rows integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE imports DROP COLUMN chunk_rows;
