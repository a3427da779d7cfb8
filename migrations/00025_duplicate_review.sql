-- +goose Up
-- Duplicate review (SPEC §10.2): every suggested pair gets a public id
-- (dup_…), and the queue reads best score first per status. Pairs are stored
-- ordered (customer_a < customer_b); dismissed pairs stay so that no rescan
-- suggests them again. Every writer of a pair (the engine's conflicts and
-- shared identifiers, the fuzzy scorer) goes through this one table.
ALTER TABLE duplicate_suggestions
    ADD COLUMN id text NOT NULL DEFAULT 'dup_' || replace(gen_random_uuid()::text, '-', ''),
    -- "engine" (conflict or shared identifier found while matching) or "fuzzy"
    ADD COLUMN source text NOT NULL DEFAULT 'engine',
    -- when the pair left the open queue (dismissed, merged, or a customer deleted)
    ADD COLUMN resolved timestamptz;
CREATE UNIQUE INDEX duplicate_suggestions_id ON duplicate_suggestions (organization_id, id);
CREATE INDEX duplicate_suggestions_queue ON duplicate_suggestions (organization_id, status, score DESC, id);
CREATE INDEX duplicate_suggestions_customer_b ON duplicate_suggestions (organization_id, customer_b);

-- +goose Down
DROP INDEX duplicate_suggestions_customer_b;
DROP INDEX duplicate_suggestions_queue;
DROP INDEX duplicate_suggestions_id;
ALTER TABLE duplicate_suggestions DROP COLUMN resolved, DROP COLUMN source, DROP COLUMN id;
