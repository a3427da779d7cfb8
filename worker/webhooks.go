package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// DefaultWebhookRetryDelays follow a failed attempt, one per retry
// (queue.WebhookMaxRetry): about a day in all, as Standard Webhooks suggests.
var DefaultWebhookRetryDelays = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 8 * time.Hour, 8 * time.Hour,
}

// webhookGiveUpAfter ends an event still undelivered this long after it was
// written, whatever its attempt count (a re-enqueued task starts asynq's
// count afresh).
const webhookGiveUpAfter = 26 * time.Hour

// webhookRequeueAge is how long a queued outbox row may stay undelivered
// before the dispatcher queues it again in case its task was lost; a task
// that still exists (waiting for its retry) makes that a no-op.
const webhookRequeueAge = 2 * time.Minute

// webhookRetention is how long finished events and the delivery log are
// kept.
const webhookRetention = 30 * 24 * time.Hour

// webhookDispatchBatch bounds the outbox rows one dispatch queues.
const webhookDispatchBatch = 1000

// DispatchWebhooks queues a delivery task for every outbox row never
// queued, and again for those queued before requeueBefore and still
// undelivered (Redis flushed, a worker died). It returns how many tasks it
// created.
func (d *Deps) DispatchWebhooks(ctx context.Context, requeueBefore time.Time) (int, error) {
	refs, err := d.Store.PendingWebhookEvents(ctx, requeueBefore, webhookDispatchBatch)
	if err != nil || len(refs) == 0 {
		return 0, err
	}
	n := 0
	var errs []error
	queued := refs[:0:0]
	for _, r := range refs {
		created, err := d.Client.EnqueueWebhook(ctx, queue.WebhookPayload{OrgID: r.OrgID, EventID: r.ID})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		queued = append(queued, r)
		if created {
			n++
		}
	}
	if len(queued) > 0 {
		if err := d.Store.MarkWebhookEventsEnqueued(ctx, queued); err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

func (d *Deps) handleWebhook(ctx context.Context, t *asynq.Task) error {
	var p queue.WebhookPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.EventID == "" {
		return fmt.Errorf("decode webhook payload: %v: %w", err, asynq.SkipRetry)
	}
	if d.Webhooks == nil {
		return errors.New("webhook sender not configured")
	}
	a, err := d.Store.StartWebhookAttempt(ctx, p.OrgID, p.EventID)
	if err != nil || a == nil {
		return err // nil: delivered, given up, or its webhook deleted
	}
	if !a.Enabled {
		msg := "webhook disabled: event dropped"
		d.Metrics.observeWebhook(webhookFailed, 0)
		return d.Store.FinishWebhookAttempt(ctx, a, postgres.WebhookDelivery{Error: &msg}, postgres.OutboxFailed)
	}
	body := a.Payload
	if body == nil {
		built, err := d.webhookBody(ctx, a)
		if err != nil {
			return fmt.Errorf("webhook %s body: %w", a.ID, err)
		}
		if body, err = d.Store.FreezeWebhookPayload(ctx, a.OrgID, a.ID, built); err != nil {
			return err
		}
	}
	res := d.Webhooks.Send(ctx, a.URL, a.Secret, a.ID, body)
	rec := postgres.WebhookDelivery{DurationMS: int(res.Duration.Milliseconds())}
	if res.StatusCode != 0 {
		rec.StatusCode = &res.StatusCode
	}
	outcome := postgres.OutboxDelivered
	if res.Err != nil {
		msg := res.Err.Error()
		rec.Error = &msg
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		outcome = postgres.OutboxRetry
		if retried >= maxRetry || time.Since(a.Created) > webhookGiveUpAfter {
			outcome = postgres.OutboxFailed
		}
	}
	// The log must not be lost to a cancelled task context.
	if err := d.Store.FinishWebhookAttempt(context.WithoutCancel(ctx), a, rec, outcome); err != nil {
		return err
	}
	d.Metrics.observeWebhook([...]string{postgres.OutboxRetry: webhookRetried, postgres.OutboxDelivered: webhookDelivered,
		postgres.OutboxFailed: webhookFailed}[outcome], res.Duration)
	d.Log.DebugContext(ctx, "webhook attempt", "event_id", a.ID, "webhook_id", a.WebhookID, "attempt", a.Attempt,
		"status", res.StatusCode, "err", res.Err)
	switch outcome {
	case postgres.OutboxFailed:
		return fmt.Errorf("webhook %s: giving up after attempt %d: %w: %w", a.ID, a.Attempt, res.Err, asynq.SkipRetry)
	case postgres.OutboxRetry:
		return fmt.Errorf("webhook %s attempt %d: %w", a.ID, a.Attempt, res.Err)
	}
	return nil
}

// eventBody is what a receiver gets: the event, the customer or import as
// it is when first sent, and why it changed.
type eventBody struct {
	Type      string         `json:"type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// why says what caused a customer event.
type why struct {
	Source     string  `json:"source"`
	Rule       *string `json:"rule"` // the upsert's match (email, phone, external_id…), when a job did it
	JobID      *string `json:"job_id"`
	ImportID   *string `json:"import_id"`
	LocationID *string `json:"location_id"`
}

func (d *Deps) webhookBody(ctx context.Context, a *postgres.WebhookAttempt) ([]byte, error) {
	ev := eventBody{Type: a.Type, Timestamp: a.Created.UTC(), Data: map[string]any{}}
	switch {
	case a.ImportID != nil:
		im, err := d.Store.FindImport(ctx, a.OrgID, *a.ImportID)
		if err != nil {
			return nil, err
		}
		ev.Data["import"] = im
	case a.AuditEventID != nil:
		e, err := d.Store.FindAuditEvent(ctx, a.OrgID, *a.AuditEventID, a.AuditCreated)
		if err != nil {
			return nil, err
		}
		ev.Timestamp = e.Created.UTC()
		c, err := d.eventCustomer(ctx, a.OrgID, e)
		if err != nil {
			return nil, err
		}
		w := why{Source: e.Source, JobID: e.JobID, ImportID: e.ImportID, LocationID: e.LocationID}
		if e.JobID != nil {
			w.Rule = d.jobRule(ctx, a.OrgID, *e.JobID)
		}
		ev.Data["customer"], ev.Data["why"], ev.Data["changes"] = c, w, e.Changes
	default:
		return nil, fmt.Errorf("outbox row %s names no event", a.ID)
	}
	return json.Marshal(ev)
}

// eventCustomer is the customer an event names: the record as it is, or
// what is left of one deleted or merged since.
func (d *Deps) eventCustomer(ctx context.Context, orgID string, e *postgres.Event) (any, error) {
	c, err := d.Store.FindCustomerByID(ctx, orgID, e.CustomerID)
	switch customer.ErrorCode(err) {
	case "":
		return c, nil
	case customer.ENOTFOUND:
		gone := map[string]any{"id": e.CustomerID, "deleted": true}
		for _, k := range []string{"email", "phone"} {
			if v, ok := e.Changes[k]; ok {
				gone[k] = v
			}
		}
		return gone, nil
	case customer.EMOVED:
		var ce *customer.Error
		into := ""
		if errors.As(err, &ce) {
			if m, ok := ce.Details.(map[string]string); ok {
				into = m["merged_into"]
			}
		}
		return map[string]any{"id": e.CustomerID, "merged_into": into}, nil
	}
	return nil, err
}

// jobRule is what the job's upsert matched on, when it matched.
func (d *Deps) jobRule(ctx context.Context, orgID, jobID string) *string {
	j, err := d.Store.FindJob(ctx, orgID, jobID)
	if err != nil || len(j.Result) == 0 {
		return nil
	}
	var r struct {
		MatchedOn *string `json:"matched_on"`
	}
	_ = json.Unmarshal(j.Result, &r)
	return r.MatchedOn
}
