-- +goose Up
-- The trigram index splits search_text into words: a term spanning a
-- separator ("a.sm", "n_tho", "al-") kept only its word-start and word-end
-- trigrams, shared by a large part of the customers, and a search rechecked
-- tens of thousands of them. Indexed with each separator turned into a
-- letter of its own, a term's trigrams span the separators and the index
-- proposes the matches and few more (postgres/customers.go: searchFold).
DROP INDEX customers_search;
CREATE INDEX customers_search ON customers
    USING gin (translate(search_text, ' .@-_''', 'ǂǁʘǃǀʗ') gin_trgm_ops)
    WITH (gin_pending_list_limit = 16384);

-- +goose Down
DROP INDEX customers_search;
CREATE INDEX customers_search ON customers USING gin (search_text gin_trgm_ops)
    WITH (gin_pending_list_limit = 16384);
