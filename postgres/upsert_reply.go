// The worker's answer to an upsert job: stored with the job, published to the
// waiting API process.

package postgres

import (
	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// UpsertReply is the one worker→API contract of an upsert job: the result
// its job row keeps (jobs.result) and the worker sends to the waiting API
// process, or, for a job failed for good, the error (jobs.error). It lives
// here because the store writes and replays the result. A reply holds one
// or the other, and its JSON only that one's fields: Result is a pointer so
// an error reply carries no empty result.
type UpsertReply struct {
	*dedupe.Result
	JobID string `json:"job_id,omitempty"`
	// Customer is the record as written, in the worker's reply only (the
	// job row stores ids; readers load the current record).
	Customer *customer.Customer `json:"customer,omitempty"`

	Error   string        `json:"error,omitempty"` // the error's message, safe to show
	Code    customer.Code `json:"code,omitempty"`
	Details any           `json:"details,omitempty"`
}

// ErrorReply is the reply of a job failed for good with e.
func ErrorReply(e *customer.Error) *UpsertReply {
	return &UpsertReply{Error: e.Message, Code: e.Code, Details: e.Details}
}

// Err is the error a reply carries, nil for a result.
func (r *UpsertReply) Err() error {
	if r.Error == "" {
		return nil
	}
	return &customer.Error{Code: r.Code, Message: r.Error, Details: r.Details}
}
