-- +goose Up
-- An organization's matching settings (SPEC §10.1, customer.Settings), one
-- typed column each on organizations: every request already reads this row
-- with its API key, so the settings come in the same query, and the types
-- are the database's to keep. default_region (00001) is settings.default_region.
-- Existing organizations get customer.DefaultSettings() with the region they
-- have. The jsonb settings column of 00001 was never read or written.
ALTER TABLE organizations
    ADD COLUMN match_keys text[] NOT NULL DEFAULT '{external_id,email,phone}',
    ADD COLUMN email_canonicalization boolean NOT NULL DEFAULT false,
    ADD COLUMN default_merge_policy text NOT NULL DEFAULT 'fill_blanks',
    ADD COLUMN name_check boolean NOT NULL DEFAULT true,
    ADD COLUMN blocklist_emails text[] NOT NULL DEFAULT '{}',
    ADD COLUMN blocklist_phones text[] NOT NULL DEFAULT '{}',
    ADD COLUMN settings_updated timestamptz,
    DROP COLUMN settings;
UPDATE organizations SET settings_updated = created;
ALTER TABLE organizations
    ALTER COLUMN settings_updated SET NOT NULL,
    ALTER COLUMN settings_updated SET DEFAULT now();

-- +goose Down
ALTER TABLE organizations
    DROP COLUMN match_keys,
    DROP COLUMN email_canonicalization,
    DROP COLUMN default_merge_policy,
    DROP COLUMN name_check,
    DROP COLUMN blocklist_emails,
    DROP COLUMN blocklist_phones,
    DROP COLUMN settings_updated,
    ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';
