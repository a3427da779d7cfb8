package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// TypeWebhookDeliver delivers one outbox row (one event to one webhook).
const TypeWebhookDeliver = "webhook:deliver"

// WebhookMaxRetry is how many retries follow a failed first attempt; the
// worker's delays between them add up to about a day.
const WebhookMaxRetry = 7

// WebhookPayload names an outbox row; the row holds everything else.
type WebhookPayload struct {
	OrgID   string `json:"org_id"`
	EventID string `json:"event_id"`
}

// EnqueueWebhook queues the delivery of an outbox row under its id: a row
// whose task is queued, running or waiting to retry is not queued twice.
// It tells whether a task was created.
func (c *Client) EnqueueWebhook(ctx context.Context, p WebhookPayload) (bool, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("encode webhook task: %w", err)
	}
	opts := []asynq.Option{asynq.TaskID("webhook:" + p.EventID), asynq.Queue(c.names.Webhooks()),
		asynq.MaxRetry(WebhookMaxRetry), asynq.Timeout(time.Minute)}
	if _, err := c.enqueue(ctx, TypeWebhookDeliver, body, opts...); err != nil {
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			return false, nil
		}
		return false, fmt.Errorf("enqueue webhook %s: %w", p.EventID, err)
	}
	return true, nil
}
