-- +goose Up
-- Every accepted asynchronous request (upsert, webhook delivery, …). The row is
-- written before the task is enqueued, so Redis losing the task loses nothing:
-- queued jobs are re-enqueued from here.
CREATE TABLE jobs (
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    type            text NOT NULL,
    state           text NOT NULL DEFAULT 'queued', -- queued | completed | failed
    payload         jsonb NOT NULL,
    request_hash    text NOT NULL DEFAULT '',
    idempotency_key text,
    result          jsonb,
    error           text NOT NULL DEFAULT '',
    attempts        integer NOT NULL DEFAULT 0,
    created         timestamptz NOT NULL DEFAULT now(),
    completed       timestamptz,
    PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (organization_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_pending ON jobs (created) WHERE state = 'queued';

-- The audit trail: what changed on a customer, why and from where.
CREATE TABLE audit_events (
    organization_id text NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    customer_id     text NOT NULL,
    type            text NOT NULL, -- customer.created | updated | merged | tagged | deleted
    source          text NOT NULL DEFAULT '',
    job_id          text,
    import_id       text,
    location_id     text,
    changes         jsonb NOT NULL DEFAULT '{}',
    created         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX audit_events_customer ON audit_events (organization_id, customer_id, id DESC);
CREATE INDEX audit_events_import ON audit_events (organization_id, import_id) WHERE import_id IS NOT NULL;

-- Pairs the engine thinks may be one person (a == least(a, b)).
CREATE TABLE duplicate_suggestions (
    organization_id text NOT NULL,
    customer_a      text NOT NULL,
    customer_b      text NOT NULL,
    reasons         text[] NOT NULL DEFAULT '{}',
    score           real NOT NULL DEFAULT 0,
    status          text NOT NULL DEFAULT 'open', -- open | dismissed | merged
    created         timestamptz NOT NULL DEFAULT now(),
    updated         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, customer_a, customer_b)
);

-- +goose Down
DROP TABLE duplicate_suggestions;
DROP TABLE audit_events;
DROP TABLE jobs;
