// The worker's answer to an upsert job: stored with the job, published to the
// waiting API process.

package postgres

import (
	"encoding/json"

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

// MarshalPublished is the reply as the worker publishes it: its customer
// without zero members (customer.AppendCompactJSON; the API decodes it into
// a zero customer, then answers with the full view), the rest as
// json.Marshal writes it. A checkout's customer is mostly unset fields:
// this halves the bytes the worker encodes, Redis carries and the API
// decodes. Not a MarshalJSON: the job view embeds the reply and shows its
// own customer.
func (r *UpsertReply) MarshalPublished() ([]byte, error) {
	if r.Customer == nil {
		return json.Marshal(r)
	}
	rest := *r
	rest.Customer = nil
	b, err := json.Marshal(&rest)
	if err != nil {
		return nil, err
	}
	b = b[:len(b)-1] // its closing '}'
	if len(b) > 1 {
		b = append(b, ',')
	}
	b, err = r.Customer.AppendCompactJSON(append(b, `"customer":`...))
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}
