-- +goose Up
-- Identifiers several people carry (SPEC §10.1): blocklisted ones, and those
-- found on two customers whose names clearly differ. customer_identities
-- keeps one owner per identifier (the first carrier), so lookups and the
-- database's uniqueness of every other identifier stay as they were; the
-- carriers, owner included, are listed beside it. Imports and upserts that
-- never meet a shared identifier read one empty index probe more.
CREATE TABLE shared_identifiers (
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind            text NOT NULL,
    value           text NOT NULL,
    reason          text NOT NULL,
    since           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, kind, value)
);

CREATE TABLE shared_identifier_carriers (
    organization_id text NOT NULL,
    kind            text NOT NULL,
    value           text NOT NULL,
    customer_id     text NOT NULL,
    display         text NOT NULL DEFAULT '',
    created         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, kind, value, customer_id),
    FOREIGN KEY (organization_id, kind, value) REFERENCES shared_identifiers ON DELETE CASCADE
);
CREATE INDEX shared_identifier_carriers_customer ON shared_identifier_carriers (organization_id, customer_id);

-- +goose Down
DROP TABLE shared_identifier_carriers;
DROP TABLE shared_identifiers;
