-- +goose Up
-- The error summary groups an import's problems by reason. Once they can no
-- longer change it is stored here, so polling a big import (the CLI polls
-- every second) stops re-grouping hundreds of thousands of rows each time.
ALTER TABLE imports ADD COLUMN error_summary jsonb;

-- +goose Down
ALTER TABLE imports DROP COLUMN error_summary;
