package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

// Webhook is a subscription of an organization to events (SPEC §10.4).
// Secret is set only on the answer that creates it.
type Webhook struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	Secret      string    `json:"secret,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// WebhookDelivery is one attempt to deliver an event.
type WebhookDelivery struct {
	ID         int64     `json:"id"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	Attempt    int       `json:"attempt"`
	StatusCode *int      `json:"status_code"`
	DurationMS int       `json:"duration_ms"`
	Error      *string   `json:"error"`
	Created    time.Time `json:"created"`
}

const webhookColumns = `id, url, events, description, enabled, created, updated`

const (
	sqlInsertWebhook = `INSERT INTO webhooks (organization_id, id, url, events, description, secret, enabled)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created, updated`
	sqlSelectWebhook  = `SELECT ` + webhookColumns + ` FROM webhooks WHERE organization_id = $1 AND id = $2`
	sqlSelectWebhooks = `SELECT ` + webhookColumns + ` FROM webhooks WHERE organization_id = $1
		ORDER BY created DESC, id DESC LIMIT $2 OFFSET $3`
	sqlCountWebhooks = `SELECT count(*) FROM webhooks WHERE organization_id = $1`
	sqlUpdateWebhook = `UPDATE webhooks SET url = $3, events = $4, description = $5, enabled = $6, updated = now()
		WHERE organization_id = $1 AND id = $2 RETURNING ` + webhookColumns
	sqlDeleteWebhook = `DELETE FROM webhooks WHERE organization_id = $1 AND id = $2`

	sqlSelectDeliveries = `SELECT id, event_id, event_type, attempt, status_code, duration_ms, error, created
		FROM webhook_deliveries WHERE organization_id = $1 AND webhook_id = $2 ORDER BY id DESC LIMIT $3 OFFSET $4`
	sqlCountDeliveries = `SELECT count(*) FROM webhook_deliveries WHERE organization_id = $1 AND webhook_id = $2`
)

func scanWebhook(row pgx.Row) (*Webhook, error) {
	var w Webhook
	err := row.Scan(&w.ID, &w.URL, &w.Events, &w.Description, &w.Enabled, &w.Created, &w.Updated)
	return &w, err
}

// CreateWebhook stores w with a new id; w.Secret must be set.
func (s *Store) CreateWebhook(ctx context.Context, orgID string, w *Webhook) error {
	w.ID = customer.NewID(customer.PrefixWebhook)
	err := s.pool.QueryRow(ctx, sqlInsertWebhook, orgID, w.ID, w.URL, w.Events, w.Description, w.Secret, w.Enabled).
		Scan(&w.Created, &w.Updated)
	if isForeignKeyViolation(err) {
		return customer.NotFound("Organization", orgID)
	}
	return interpretError(err, nil)
}

// FindWebhook returns one webhook, without its secret.
func (s *Store) FindWebhook(ctx context.Context, orgID, id string) (*Webhook, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, sqlSelectWebhook, orgID, id))
	if err != nil {
		return nil, interpretError(err, customer.NotFound("Webhook", id))
	}
	return w, nil
}

// FindWebhooks returns one page of webhooks, newest first.
func (s *Store) FindWebhooks(ctx context.Context, orgID string, page, limit int) ([]*Webhook, customer.Page, error) {
	list := []*Webhook{}
	var total int
	b := &pgx.Batch{}
	b.Queue(sqlSelectWebhooks, orgID, limit, (page-1)*limit).Query(func(rows pgx.Rows) error {
		var err error
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Webhook, error) { return scanWebhook(row) })
		return err
	})
	b.Queue(sqlCountWebhooks, orgID).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("list webhooks: %w", err), nil)
	}
	return list, customer.NewPage(total, page, limit), nil
}

// UpdateWebhook applies fn to the webhook (locked) and stores the result.
func (s *Store) UpdateWebhook(ctx context.Context, orgID, id string, fn func(w *Webhook) error) (*Webhook, error) {
	var out *Webhook
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		w, err := scanWebhook(tx.QueryRow(ctx, sqlSelectWebhook+` FOR UPDATE`, orgID, id))
		if err != nil {
			return interpretError(err, customer.NotFound("Webhook", id))
		}
		if err := fn(w); err != nil {
			return err
		}
		out, err = scanWebhook(tx.QueryRow(ctx, sqlUpdateWebhook, orgID, id, w.URL, w.Events, w.Description, w.Enabled))
		return interpretError(err, customer.NotFound("Webhook", id))
	})
	return out, err
}

// DeleteWebhook removes a webhook with its undelivered events and its log.
func (s *Store) DeleteWebhook(ctx context.Context, orgID, id string) error {
	tag, err := s.pool.Exec(ctx, sqlDeleteWebhook, orgID, id)
	if err != nil {
		return interpretError(fmt.Errorf("delete webhook: %w", err), nil)
	}
	if tag.RowsAffected() == 0 {
		return customer.NotFound("Webhook", id)
	}
	return nil
}

// FindWebhookDeliveries returns one page of a webhook's delivery log,
// newest first.
func (s *Store) FindWebhookDeliveries(ctx context.Context, orgID, webhookID string, page, limit int) ([]WebhookDelivery, customer.Page, error) {
	if _, err := s.FindWebhook(ctx, orgID, webhookID); err != nil {
		return nil, customer.Page{}, err
	}
	list := []WebhookDelivery{}
	var total int
	b := &pgx.Batch{}
	b.Queue(sqlSelectDeliveries, orgID, webhookID, limit, (page-1)*limit).Query(func(rows pgx.Rows) error {
		var err error
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (WebhookDelivery, error) {
			var d WebhookDelivery
			err := row.Scan(&d.ID, &d.EventID, &d.EventType, &d.Attempt, &d.StatusCode, &d.DurationMS, &d.Error, &d.Created)
			return d, err
		})
		return err
	})
	b.Queue(sqlCountDeliveries, orgID, webhookID).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("list deliveries: %w", err), nil)
	}
	return list, customer.NewPage(total, page, limit), nil
}

// The outbox (webhook_outbox), filled by triggers (migration 00033).

// OutboxRef names one undelivered event of one webhook.
type OutboxRef struct {
	OrgID string
	ID    string
}

const (
	// Never queued, or queued before staleBefore and still undelivered
	// (its task may be lost: Redis flushed, a worker died).
	sqlPendingOutbox = `SELECT organization_id, id FROM webhook_outbox
		WHERE delivered IS NULL AND failed IS NULL AND (enqueued IS NULL OR enqueued < $1)
		ORDER BY enqueued NULLS FIRST, created LIMIT $2`
	sqlMarkEnqueued = `UPDATE webhook_outbox o SET enqueued = now()
		FROM unnest($1::text[], $2::text[]) AS u(org, id) WHERE o.organization_id = u.org AND o.id = u.id`
	// One attempt starts: count it and read what sending needs.
	sqlStartAttempt = `UPDATE webhook_outbox o SET attempts = o.attempts + 1
		FROM webhooks w
		WHERE o.organization_id = $1 AND o.id = $2 AND o.delivered IS NULL AND o.failed IS NULL
			AND w.organization_id = o.organization_id AND w.id = o.webhook_id
		RETURNING o.webhook_id, o.type, o.audit_event_id, o.audit_created, o.import_id, o.payload, o.attempts, o.created,
			w.url, w.secret, w.enabled`
	// The first attempt's body wins: every retry sends the same bytes.
	sqlFreezePayload = `UPDATE webhook_outbox SET payload = COALESCE(payload, $3)
		WHERE organization_id = $1 AND id = $2 RETURNING payload`
	sqlInsertDelivery = `INSERT INTO webhook_deliveries (organization_id, webhook_id, event_id, event_type, attempt,
		status_code, duration_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	sqlOutboxDelivered = `UPDATE webhook_outbox SET delivered = now(), payload = NULL WHERE organization_id = $1 AND id = $2`
	sqlOutboxFailed    = `UPDATE webhook_outbox SET failed = now() WHERE organization_id = $1 AND id = $2`
	// An event kept in an audit_created row (migration 00048) is found by
	// that row's created ($3), which its outbox rows carry.
	sqlSelectAuditEvent = `SELECT id, customer_id, type, source, job_id, import_id, location_id, changes, created
		FROM audit_events WHERE organization_id = $1 AND id = $2
		UNION ALL
		SELECT b.event_ids[p.i], b.customer_ids[p.i], '` + EventCreated + `', b.source, NULL, b.import_id, b.location_id,
			'{}'::jsonb, b.created
		FROM audit_created b CROSS JOIN LATERAL (SELECT array_position(b.event_ids, $2) AS i) p
		WHERE b.organization_id = $1 AND b.created = $3::timestamptz AND b.first_event <= $2 AND p.i IS NOT NULL`
)

// PendingWebhookEvents lists outbox rows to (re-)enqueue.
func (s *Store) PendingWebhookEvents(ctx context.Context, staleBefore time.Time, limit int) ([]OutboxRef, error) {
	rows, err := s.pool.Query(ctx, sqlPendingOutbox, staleBefore, limit)
	if err != nil {
		return nil, interpretError(fmt.Errorf("pending webhook events: %w", err), nil)
	}
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxRef, error) {
		var o OutboxRef
		return o, r.Scan(&o.OrgID, &o.ID)
	})
	return refs, interpretError(err, nil)
}

// MarkWebhookEventsEnqueued records that tasks were queued for refs.
func (s *Store) MarkWebhookEventsEnqueued(ctx context.Context, refs []OutboxRef) error {
	orgs, ids := make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		orgs[i], ids[i] = r.OrgID, r.ID
	}
	_, err := s.pool.Exec(ctx, sqlMarkEnqueued, orgs, ids)
	return interpretError(err, nil)
}

// WebhookAttempt is what one delivery attempt of an outbox row needs.
type WebhookAttempt struct {
	OrgID, ID, WebhookID, Type string
	AuditEventID               *int64
	AuditCreated               *time.Time // the event is in the audit_created row of this created
	ImportID                   *string
	Payload                    json.RawMessage // nil until the first attempt froze it
	Attempt                    int
	Created                    time.Time
	URL, Secret                string
	Enabled                    bool
}

// StartWebhookAttempt counts an attempt of an undelivered event; nil when
// there is nothing to send (delivered, given up, or its webhook deleted).
func (s *Store) StartWebhookAttempt(ctx context.Context, orgID, id string) (*WebhookAttempt, error) {
	a := &WebhookAttempt{OrgID: orgID, ID: id}
	err := s.pool.QueryRow(ctx, sqlStartAttempt, orgID, id).Scan(&a.WebhookID, &a.Type, &a.AuditEventID, &a.AuditCreated, &a.ImportID,
		&a.Payload, &a.Attempt, &a.Created, &a.URL, &a.Secret, &a.Enabled)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, interpretError(fmt.Errorf("start webhook attempt %s: %w", id, err), nil)
	}
	return a, nil
}

// FreezeWebhookPayload stores body as the event's payload unless one is
// stored already, and returns the stored one.
func (s *Store) FreezeWebhookPayload(ctx context.Context, orgID, id string, body []byte) (json.RawMessage, error) {
	var out json.RawMessage
	err := s.pool.QueryRow(ctx, sqlFreezePayload, orgID, id, body).Scan(&out)
	return out, interpretError(err, customer.NotFound("Webhook event", id))
}

// FindAuditEvent returns one audit event; arrayCreated is the created of
// the audit_created row holding it (WebhookAttempt.AuditCreated), or nil.
func (s *Store) FindAuditEvent(ctx context.Context, orgID string, id int64, arrayCreated *time.Time) (*Event, error) {
	var e Event
	err := s.pool.QueryRow(ctx, sqlSelectAuditEvent, orgID, id, arrayCreated).Scan(&e.ID, &e.CustomerID, &e.Type, &e.Source,
		&e.JobID, &e.ImportID, &e.LocationID, &e.Changes, &e.Created)
	if err != nil {
		return nil, interpretError(err, customer.NotFound("Event", fmt.Sprint(id)))
	}
	return &e, nil
}

// Outcomes of an attempt for FinishWebhookAttempt.
const (
	OutboxRetry     = iota // stays pending: another attempt follows
	OutboxDelivered        // done
	OutboxFailed           // given up
)

// FinishWebhookAttempt logs an attempt and records its outcome, in one
// transaction.
func (s *Store) FinishWebhookAttempt(ctx context.Context, a *WebhookAttempt, d WebhookDelivery, outcome int) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlInsertDelivery, a.OrgID, a.WebhookID, a.ID, a.Type, a.Attempt,
			d.StatusCode, d.DurationMS, d.Error); err != nil {
			if isForeignKeyViolation(err) {
				return nil // the webhook was deleted meanwhile: nothing to record
			}
			return interpretError(fmt.Errorf("log delivery: %w", err), nil)
		}
		var q string
		switch outcome {
		case OutboxDelivered:
			q = sqlOutboxDelivered
		case OutboxFailed:
			q = sqlOutboxFailed
		default:
			return nil
		}
		_, err := tx.Exec(ctx, q, a.OrgID, a.ID)
		return interpretError(err, nil)
	})
}

const (
	// Finished events (delivered or given up) and log entries past their
	// retention, oldest first, a batch at a time.
	sqlPurgeOutbox = `DELETE FROM webhook_outbox WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM webhook_outbox WHERE created < $1 AND (delivered IS NOT NULL OR failed IS NOT NULL)
		ORDER BY created LIMIT $2))`
	sqlPurgeDeliveries = `DELETE FROM webhook_deliveries WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM webhook_deliveries WHERE created < $1 ORDER BY created LIMIT $2))`
)

// PurgeWebhookHistory deletes up to limit finished events and up to limit
// delivery log entries written before before; it returns how many rows went.
func (s *Store) PurgeWebhookHistory(ctx context.Context, before time.Time, limit int) (int64, error) {
	var n int64
	for _, q := range []string{sqlPurgeOutbox, sqlPurgeDeliveries} {
		tag, err := s.pool.Exec(ctx, q, before, limit)
		if err != nil {
			return n, interpretError(fmt.Errorf("purge webhook history: %w", err), nil)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}
