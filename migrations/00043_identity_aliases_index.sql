-- +goose Up
-- A customer's aliases are its identities that are not primary (postgres:
-- relationColumns), read for every customer of a list or search page. The
-- index by customer held the primary email and phone too, so each page row
-- fetched two heap tuples to find none (issue 24: relations cost a search
-- page ~0.1–0.3 ms of PostgreSQL). This index holds only the non-primary
-- identities: for a customer without aliases the probe ends in the index.
CREATE INDEX IF NOT EXISTS customer_identities_aliases ON customer_identities (organization_id, customer_id) WHERE NOT is_primary;

-- +goose Down
DROP INDEX IF EXISTS customer_identities_aliases;
