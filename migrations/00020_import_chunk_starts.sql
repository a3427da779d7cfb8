-- +goose Up
-- Where each natural chunk of an import starts (row numbers, chunk = index),
-- cut while staging by rows and by bytes: a file of fat rows merges in
-- chunks of bounded size. NULL for imports staged before: row / chunk_rows.
ALTER TABLE imports ADD COLUMN chunk_starts integer[];

-- +goose Down
ALTER TABLE imports DROP COLUMN chunk_starts;
