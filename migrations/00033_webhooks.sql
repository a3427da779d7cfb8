-- +goose Up
-- Webhooks (SPEC §10.4). secret is the Standard Webhooks signing key
-- (whsec_…): it signs every delivery, so it is kept as is, shown once.
CREATE TABLE webhooks (
    organization_id text        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              text        NOT NULL,
    url             text        NOT NULL,
    events          text[]      NOT NULL,
    description     text        NOT NULL DEFAULT '',
    secret          text        NOT NULL,
    enabled         boolean     NOT NULL DEFAULT true,
    created         timestamptz NOT NULL DEFAULT now(),
    updated         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);

-- The outbox: one row per (webhook × event), written by the triggers below
-- in the transaction of the change, so an event exists exactly when its
-- change committed. id is the message id (webhook-id header), the same on
-- every attempt. payload is frozen at the first attempt so retries send the
-- same body. enqueued is when a task was last queued for it.
CREATE TABLE webhook_outbox (
    organization_id text        NOT NULL,
    id              text        NOT NULL,
    webhook_id      text        NOT NULL,
    type            text        NOT NULL,
    audit_event_id  bigint,
    import_id       text,
    payload         jsonb,
    attempts        integer     NOT NULL DEFAULT 0,
    enqueued        timestamptz,
    delivered       timestamptz,
    failed          timestamptz,
    created         timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, webhook_id) REFERENCES webhooks ON DELETE CASCADE
);
-- What the dispatcher polls: only undelivered rows, so it stays small.
CREATE INDEX webhook_outbox_pending ON webhook_outbox (enqueued NULLS FIRST, created)
    WHERE delivered IS NULL AND failed IS NULL;
CREATE INDEX webhook_outbox_webhook ON webhook_outbox (organization_id, webhook_id);
-- The reconciler deletes events and log entries past their retention.
CREATE INDEX webhook_outbox_created ON webhook_outbox (created);

-- The delivery log: one row per attempt.
CREATE TABLE webhook_deliveries (
    organization_id text        NOT NULL,
    id              bigint      GENERATED ALWAYS AS IDENTITY,
    webhook_id      text        NOT NULL,
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    attempt         integer     NOT NULL,
    status_code     integer,
    duration_ms     integer     NOT NULL,
    error           text,
    created         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, webhook_id) REFERENCES webhooks ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (organization_id, webhook_id, id DESC);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created);

-- Customer events come from audit_events, which every customer change
-- writes in its own transaction: one statement-level trigger covers every
-- path (upsert, import chunks, merge, unmerge, edits, deletes) set-based.
-- An organization without an enabled webhook costs one index probe per
-- statement. customer.tagged is announced as customer.updated, and
-- customer.erased (privacy erasure) as customer.deleted.
-- +goose StatementBegin
CREATE FUNCTION webhook_customer_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhooks w
                   WHERE w.organization_id = (SELECT organization_id FROM new_events LIMIT 1) AND w.enabled) THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_outbox (organization_id, id, webhook_id, type, audit_event_id)
    SELECT n.organization_id, 'msg_' || replace(gen_random_uuid()::text, '-', ''), w.id, e.type, n.id
    FROM new_events n
    CROSS JOIN LATERAL (SELECT CASE n.type WHEN 'customer.tagged' THEN 'customer.updated'
        WHEN 'customer.erased' THEN 'customer.deleted' ELSE n.type END AS type) e
    JOIN webhooks w ON w.organization_id = n.organization_id AND w.enabled
        AND (e.type = ANY (w.events) OR '*' = ANY (w.events))
    WHERE e.type IN ('customer.created', 'customer.updated', 'customer.merged', 'customer.unmerged', 'customer.deleted')
    ORDER BY n.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_webhooks AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION webhook_customer_events();

-- import.completed and import.failed: when an import's status becomes one.
-- +goose StatementBegin
CREATE FUNCTION webhook_import_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_outbox (organization_id, id, webhook_id, type, import_id)
    SELECT NEW.organization_id, 'msg_' || replace(gen_random_uuid()::text, '-', ''), w.id, 'import.' || NEW.status, NEW.id
    FROM webhooks w
    WHERE w.organization_id = NEW.organization_id AND w.enabled
        AND (('import.' || NEW.status) = ANY (w.events) OR '*' = ANY (w.events));
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER imports_webhooks AFTER UPDATE OF status ON imports FOR EACH ROW
    WHEN (NEW.status IN ('completed', 'failed') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION webhook_import_events();

-- +goose Down
DROP TRIGGER imports_webhooks ON imports;
DROP FUNCTION webhook_import_events();
DROP TRIGGER audit_events_webhooks ON audit_events;
DROP FUNCTION webhook_customer_events();
DROP TABLE webhook_deliveries;
DROP TABLE webhook_outbox;
DROP TABLE webhooks;
