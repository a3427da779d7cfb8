-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE organizations (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    default_region text NOT NULL DEFAULT '',
    settings       jsonb NOT NULL DEFAULT '{}',
    created        timestamptz NOT NULL DEFAULT now(),
    updated        timestamptz NOT NULL DEFAULT now()
);

-- Only a SHA-256 of the secret part is kept; the key id is public.
CREATE TABLE api_keys (
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    secret_hash     bytea NOT NULL,
    created         timestamptz NOT NULL DEFAULT now(),
    revoked         timestamptz,
    PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX api_keys_id ON api_keys (id);

CREATE TABLE customers (
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    first_name      text NOT NULL DEFAULT '',
    last_name       text NOT NULL DEFAULT '',
    name            text NOT NULL DEFAULT '',
    email           text NOT NULL DEFAULT '',
    phone           text NOT NULL DEFAULT '',
    phone_valid     boolean NOT NULL DEFAULT false,
    phone_ext       text NOT NULL DEFAULT '',
    birthdate       date,
    gender          text NOT NULL DEFAULT '',
    type            text NOT NULL DEFAULT 'individual',
    status          text NOT NULL DEFAULT 'active',
    company_name    text NOT NULL DEFAULT '',
    avatar_url      text NOT NULL DEFAULT '',
    source          text NOT NULL DEFAULT '',
    notes           text NOT NULL DEFAULT '',
    attributes      jsonb NOT NULL DEFAULT '{}',
    -- B2B (ERP view)
    website            text NOT NULL DEFAULT '',
    tax_id             text NOT NULL DEFAULT '',
    fax                text NOT NULL DEFAULT '',
    billing_address    jsonb,
    shipping_address   jsonb,
    payment_terms      text NOT NULL DEFAULT '',
    currency           text NOT NULL DEFAULT '',
    credit_limit       numeric(14,2) NOT NULL DEFAULT 0,
    current_balance    numeric(14,2) NOT NULL DEFAULT 0,
    discount_rate      numeric(6,2) NOT NULL DEFAULT 0,
    preferred_shipping text NOT NULL DEFAULT '',
    lifetime_value     numeric(14,2) NOT NULL DEFAULT 0,
    total_orders       integer NOT NULL DEFAULT 0,
    customer_since     timestamptz,
    -- set when merged into another customer: GET answers 301 to the survivor
    merged_into     text,
    created         timestamptz NOT NULL DEFAULT now(),
    updated         timestamptz NOT NULL DEFAULT now(),
    -- one lowercase haystack for trigram search over names, email and phone digits
    search_text     text GENERATED ALWAYS AS (lower(
        first_name || ' ' || last_name || ' ' || name || ' ' || company_name || ' ' ||
        email || ' ' || regexp_replace(phone, '[^0-9]', '', 'g'))) STORED,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX customers_created ON customers (organization_id, created DESC, id DESC);
CREATE INDEX customers_search ON customers USING gin (search_text gin_trgm_ops);
CREATE INDEX customers_name ON customers (organization_id, lower(name), id);

-- Every identifier that resolves to a customer: its primary email and phone,
-- aliases left by merges, and external ids. The primary key is what makes
-- "no two customers share an email or phone" true under any concurrency.
-- kind: email | phone | external. value: the match key (phone: digits only).
CREATE TABLE customer_identities (
    organization_id text NOT NULL,
    kind            text NOT NULL,
    value           text NOT NULL,
    customer_id     text NOT NULL,
    is_primary      boolean NOT NULL DEFAULT false,
    display         text NOT NULL DEFAULT '',
    created         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, kind, value),
    FOREIGN KEY (organization_id, customer_id) REFERENCES customers (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_identities_customer ON customer_identities (organization_id, customer_id);

CREATE TABLE customer_addresses (
    organization_id text NOT NULL,
    id              text NOT NULL,
    customer_id     text NOT NULL,
    label           text NOT NULL,
    address_line1   text NOT NULL,
    address_line2   text NOT NULL DEFAULT '',
    city            text NOT NULL,
    state           text NOT NULL,
    country         text NOT NULL,
    postal_code     text NOT NULL DEFAULT '',
    is_default      boolean NOT NULL DEFAULT false,
    created         timestamptz NOT NULL DEFAULT now(),
    updated         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, customer_id) REFERENCES customers (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_addresses_customer ON customer_addresses (organization_id, customer_id, created);
CREATE UNIQUE INDEX customer_addresses_one_default ON customer_addresses (organization_id, customer_id) WHERE is_default;

-- +goose Down
DROP TABLE customer_addresses;
DROP TABLE customer_identities;
DROP TABLE customers;
DROP TABLE api_keys;
DROP TABLE organizations;
