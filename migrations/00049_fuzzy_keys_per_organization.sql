-- +goose Up
-- A blocking key is now its rule's hash XORed with a hash of its
-- organization (postgres: sqlFuzzyKeys), so that a key's probe of the one
-- GIN index over every organization's keys finds only its own
-- organization's customers: with keys shared across organizations, a small
-- organization's probe for a common birthdate or name read every other
-- organization's customers sharing it before the organization filter. The
-- keys written before are mixed the same way (the XOR keeps the rule in the
-- low four bits and is its own inverse: Down undoes it). The index is built
-- again after the rewrite rather than updated row by row.
DROP INDEX IF EXISTS fuzzy_keys_keys;
UPDATE fuzzy_keys SET keys = ARRAY(
    SELECT k # (hashtextextended(organization_id, 0) & -16) FROM unnest(keys) WITH ORDINALITY AS u(k, n) ORDER BY n);
CREATE INDEX fuzzy_keys_keys ON fuzzy_keys USING gin (keys);

-- +goose Down
DROP INDEX IF EXISTS fuzzy_keys_keys;
UPDATE fuzzy_keys SET keys = ARRAY(
    SELECT k # (hashtextextended(organization_id, 0) & -16) FROM unnest(keys) WITH ORDINALITY AS u(k, n) ORDER BY n);
CREATE INDEX fuzzy_keys_keys ON fuzzy_keys USING gin (keys);
