-- +goose Up

-- People at a (usually corporate) customer: the ERP view's contacts (seed 003).
-- They are not customers and claim no identity: two customers may share a
-- contact email.
CREATE TABLE customer_contacts (
    organization_id text NOT NULL,
    id              text NOT NULL,
    customer_id     text NOT NULL,
    name            text NOT NULL,
    title           text NOT NULL DEFAULT '',
    email           text NOT NULL DEFAULT '',
    phone           text NOT NULL DEFAULT '',
    is_primary      boolean NOT NULL DEFAULT false,
    created         timestamptz NOT NULL DEFAULT now(),
    updated         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, customer_id) REFERENCES customers (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_contacts_customer ON customer_contacts (organization_id, customer_id, created);
CREATE UNIQUE INDEX customer_contacts_one_primary ON customer_contacts (organization_id, customer_id) WHERE is_primary;

-- Sales orders. No cascade from customers: a customer with orders cannot be
-- deleted (SPEC §4), and merges move orders to the survivor.
CREATE TABLE orders (
    organization_id  text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id               text NOT NULL,
    customer_id      text NOT NULL,
    order_number     text NOT NULL,
    status           text NOT NULL,
    order_date       timestamptz NOT NULL,
    ship_date        timestamptz,
    delivery_date    timestamptz,
    paid_date        timestamptz,
    currency         text NOT NULL DEFAULT '',
    total_amount     numeric(14,2) NOT NULL,
    items_count      integer NOT NULL DEFAULT 0,
    shipping_address jsonb,
    location_id      text,
    created          timestamptz NOT NULL DEFAULT now(),
    updated          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, customer_id) REFERENCES customers (organization_id, id),
    FOREIGN KEY (organization_id, location_id) REFERENCES locations (organization_id, id) ON DELETE SET NULL (location_id),
    CHECK (status IN ('pending', 'processing', 'shipped', 'delivered', 'cancelled', 'returned')),
    CHECK (total_amount >= 0)
);
CREATE UNIQUE INDEX orders_number ON orders (organization_id, order_number);
-- Serves the customer's order list, the totals recompute and the credit
-- model's aggregate; the included columns make those index-only scans.
CREATE INDEX orders_customer_date ON orders (organization_id, customer_id, order_date DESC, id DESC)
    INCLUDE (status, total_amount, paid_date);

-- Unpaid orders: balances and overdue checks read only these.
CREATE INDEX orders_unpaid ON orders (organization_id, customer_id, order_date) WHERE paid_date IS NULL;

-- Order lines.
CREATE TABLE order_items (
    organization_id text NOT NULL,
    order_id        text NOT NULL,
    line            integer NOT NULL,
    product_id      text NOT NULL,
    product_name    text NOT NULL DEFAULT '',
    quantity        integer NOT NULL CHECK (quantity > 0),
    unit_price      numeric(14,2) NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (organization_id, order_id, line),
    FOREIGN KEY (organization_id, order_id) REFERENCES orders (organization_id, id) ON DELETE CASCADE
);

-- Monthly rollups (UTC calendar months) of a customer's counted orders:
-- not cancelled or returned. Every order write recomputes the rows of the
-- customer-months it touches from orders and order_items, in its own
-- transaction, so analytics reads a few dozen rows instead of every order
-- and line. Anything that moves orders between customers (merges) must
-- refresh both customers' rollups.
CREATE TABLE customer_order_months (
    organization_id text NOT NULL,
    customer_id     text NOT NULL,
    month           date NOT NULL,
    orders          integer NOT NULL,
    revenue         numeric(16,2) NOT NULL,
    paid_orders     integer NOT NULL,
    -- sum over paid orders of the days from order to payment
    payment_days    double precision NOT NULL,
    PRIMARY KEY (organization_id, customer_id, month),
    FOREIGN KEY (organization_id, customer_id) REFERENCES customers (organization_id, id) ON DELETE CASCADE
);

CREATE TABLE customer_product_months (
    organization_id text NOT NULL,
    customer_id     text NOT NULL,
    month           date NOT NULL,
    product_id      text NOT NULL,
    -- the name on the month's most recent line of the product
    product_name    text NOT NULL,
    quantity        bigint NOT NULL,
    revenue         numeric(16,2) NOT NULL,
    PRIMARY KEY (organization_id, customer_id, month, product_id),
    FOREIGN KEY (organization_id, customer_id) REFERENCES customers (organization_id, id) ON DELETE CASCADE
);

-- Every credit check run, newest last; the API shows the latest.
CREATE TABLE credit_checks (
    organization_id          text NOT NULL,
    id                       text NOT NULL,
    customer_id              text NOT NULL,
    checked                  timestamptz NOT NULL,
    credit_score             integer NOT NULL,
    credit_rating            text NOT NULL,
    recommended_credit_limit numeric(14,2) NOT NULL,
    current_credit_limit     numeric(14,2) NOT NULL,
    risk_assessment          text NOT NULL,
    factors                  jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, customer_id) REFERENCES customers (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX credit_checks_customer ON credit_checks (organization_id, customer_id, checked DESC);

-- +goose Down
DROP TABLE credit_checks;
DROP TABLE customer_product_months;
DROP TABLE customer_order_months;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE customer_contacts;
