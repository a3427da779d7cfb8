-- +goose Up
-- Emails and phones the plan found on rows with many different phones or
-- emails (the store's own number on every walk-in): placeholders of that
-- file, used to match no one; chunks drop them from their rows with a warning.
ALTER TABLE imports ADD COLUMN placeholders jsonb NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE imports DROP COLUMN placeholders;
