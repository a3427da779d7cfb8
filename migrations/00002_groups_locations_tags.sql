-- +goose Up
CREATE TABLE locations (
    organization_id   text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id                text NOT NULL,
    name              text NOT NULL,
    code              text NOT NULL DEFAULT '',
    default_region    text NOT NULL DEFAULT '',
    timezone          text NOT NULL DEFAULT '',
    default_tags      text[] NOT NULL DEFAULT '{}',
    default_group_ids text[] NOT NULL DEFAULT '{}',
    created           timestamptz NOT NULL DEFAULT now(),
    updated           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX locations_code ON locations (organization_id, lower(code)) WHERE code <> '';

CREATE TABLE customer_groups (
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    created         timestamptz NOT NULL DEFAULT now(),
    updated         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX customer_groups_name ON customer_groups (organization_id, lower(name));

CREATE TABLE group_members (
    organization_id text NOT NULL,
    group_id        text NOT NULL,
    customer_id     text NOT NULL,
    location_id     text,
    added           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, group_id, customer_id),
    FOREIGN KEY (organization_id, group_id) REFERENCES customer_groups (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, customer_id) REFERENCES customers (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_customer ON group_members (organization_id, customer_id);

-- A tag applied to a customer at a location; location_id '' means org-wide.
CREATE TABLE customer_tags (
    organization_id text NOT NULL,
    customer_id     text NOT NULL,
    location_id     text NOT NULL DEFAULT '',
    tag             text NOT NULL,
    tag_key         text GENERATED ALWAYS AS (lower(tag)) STORED,
    created         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, customer_id, location_id, tag_key),
    FOREIGN KEY (organization_id, customer_id) REFERENCES customers (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_tags_tag ON customer_tags (organization_id, tag_key);

-- Where a customer has been seen.
CREATE TABLE customer_locations (
    organization_id text NOT NULL,
    customer_id     text NOT NULL,
    location_id     text NOT NULL,
    first_seen      timestamptz NOT NULL DEFAULT now(),
    last_seen       timestamptz NOT NULL DEFAULT now(),
    source          text NOT NULL DEFAULT '',
    PRIMARY KEY (organization_id, customer_id, location_id),
    FOREIGN KEY (organization_id, customer_id) REFERENCES customers (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_locations_location ON customer_locations (organization_id, location_id, last_seen DESC);

-- +goose Down
DROP TABLE customer_locations;
DROP TABLE customer_tags;
DROP TABLE group_members;
DROP TABLE customer_groups;
DROP TABLE locations;
