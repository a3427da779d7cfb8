-- +goose Up
-- Per-organization overrides of the per-API-key rate limits (requests per
-- minute by bucket, customer.RateLimits). NULL takes the server's default
-- (LINKIT_RATE_LIMIT*), so changing the defaults reaches every organization
-- that never chose its own. Read with the API key, like the other settings.
ALTER TABLE organizations
    ADD COLUMN rate_limit_default integer CHECK (rate_limit_default > 0),
    ADD COLUMN rate_limit_upsert integer CHECK (rate_limit_upsert > 0),
    ADD COLUMN rate_limit_import integer CHECK (rate_limit_import > 0);

-- +goose Down
ALTER TABLE organizations
    DROP COLUMN rate_limit_default,
    DROP COLUMN rate_limit_upsert,
    DROP COLUMN rate_limit_import;
