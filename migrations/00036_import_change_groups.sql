-- +goose Up
-- A revert restores the customers an import merged (issue 20): merge_group
-- names the customers one chunk's merges joined (the smallest id among
-- them), so that the group is undone together or, when one of them changed
-- since, kept together. NULL for customers no merge of the import touched.
ALTER TABLE import_changes ADD COLUMN merge_group text;

-- A customer's before-images across imports: a revert hands a customer
-- back to the import that wrote it before (sqlRevertHandBack), and
-- erasure deletes them.
CREATE INDEX import_changes_customer ON import_changes (organization_id, customer_id);

-- Retention of the before-images (LINKIT_RETENTION_IMPORT_CHANGES): ''
-- while kept, 'purging' from the first deleted batch (a revert is refused
-- from then on), 'purged' once none is left.
ALTER TABLE imports ADD COLUMN changes_purge text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE imports DROP COLUMN changes_purge;
DROP INDEX import_changes_customer;
ALTER TABLE import_changes DROP COLUMN merge_group;
