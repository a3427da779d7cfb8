-- +goose Up
-- The trigram index's pending-list limit is set per transaction instead
-- (postgres/store.go: sqlBeginWrite, import_chunk.go: sqlChunkPendingList):
-- import chunks merge the list at 128 MB in large batches (a 1M-row import
-- ~11% faster than at 16 MB), and every other transaction of the service —
-- a checkout's upsert — only appends to it, never merging it on a customer's
-- time. The workers flush the list between imports.
ALTER INDEX customers_search RESET (gin_pending_list_limit);

-- +goose Down
ALTER INDEX customers_search SET (gin_pending_list_limit = 16384);
