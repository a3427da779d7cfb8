-- +goose Up
-- A revert restores the customers an import merged (issue 20): merge_group
-- names the customers one chunk's merges joined (the smallest id among
-- them), so that the group is undone together or, when one of them changed
-- since, kept together. NULL for customers no merge of the import touched.
ALTER TABLE import_changes ADD COLUMN merge_group text;

-- Retention of the before-images (LINKIT_RETENTION_IMPORT_CHANGES): ''
-- while kept, 'purging' from the first deleted batch (a revert is refused
-- from then on), 'purged' once none is left.
ALTER TABLE imports ADD COLUMN changes_purge text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE imports DROP COLUMN changes_purge;
ALTER TABLE import_changes DROP COLUMN merge_group;
