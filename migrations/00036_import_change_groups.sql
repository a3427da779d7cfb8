-- +goose Up
-- A revert restores the customers an import merged (issue 20): merge_group
-- names the customers one chunk's merges joined (the smallest id among
-- them), so that the group is undone together or, when one of them changed
-- since, kept together. NULL for customers no merge of the import touched.
ALTER TABLE import_changes ADD COLUMN merge_group text;

-- +goose Down
ALTER TABLE import_changes DROP COLUMN merge_group;
