package customer

import (
	"encoding/json"
	"time"
)

// Job states as the API shows them.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobRetrying  = "retrying"
	JobCompleted = "completed"
	JobFailed    = "failed"
)

// Job is an accepted asynchronous request. PostgreSQL holds it from the
// moment it is accepted, so a lost queue never loses it.
type Job struct {
	ID             string          `json:"id"`
	OrganizationID string          `json:"-"`
	Type           string          `json:"type"`
	State          string          `json:"state"`
	Payload        json.RawMessage `json:"-"`
	RequestHash    string          `json:"-"`
	IdempotencyKey string          `json:"-"`
	Result         json.RawMessage `json:"result"`
	Error          string          `json:"error"`
	Created        time.Time       `json:"created"`
	Completed      *time.Time      `json:"completed"`
}
