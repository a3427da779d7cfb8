-- +goose Up
-- Trigram entries of new customers go to the GIN pending list (16 MB) and are
-- merged in bulk: row-by-row GIN inserts were most of an import's insert
-- cost. Workers flush the list regularly so searches stay fast.
ALTER INDEX customers_search SET (gin_pending_list_limit = 16384);

-- +goose Down
ALTER INDEX customers_search RESET (gin_pending_list_limit);
