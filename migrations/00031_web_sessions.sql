-- +goose Up
-- The web app's sign-in sessions (SPEC §10.5): a browser holds a random token
-- in an HttpOnly cookie, the database only its SHA-256, so a copy of this
-- table signs nobody in. A session names the API key it was opened with:
-- revoking the key ends the session (the lookup joins unrevoked keys).
CREATE TABLE web_sessions (
    token_hash      bytea PRIMARY KEY,
    organization_id text NOT NULL,
    key_id          text NOT NULL,
    -- sent back by every form and htmx request (X-CSRF-Token)
    csrf_token      text NOT NULL,
    created         timestamptz NOT NULL DEFAULT now(),
    expires         timestamptz NOT NULL,
    FOREIGN KEY (organization_id, key_id) REFERENCES api_keys (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX web_sessions_expires ON web_sessions (expires);

-- +goose Down
DROP TABLE web_sessions;
