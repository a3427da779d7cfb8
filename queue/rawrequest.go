package queue

import (
	"encoding/json"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// An upsert's request travels as the JSON the API encoded once: the task
// copies it (RawRequest) rather than encoding the request again, and the
// worker keeps it to write the job row's payload. Encoding a request (its
// record's forty fields) twice more per upsert was a tenth of the
// upsert's Go time beside the HTTP and the database.

// rawRequest is a request with the JSON it was decoded from or is to be
// encoded as (raw wins when set).
func rawRequest(req *dedupe.Request, raw json.RawMessage) any {
	if len(raw) > 0 {
		return raw
	}
	return req
}

// decodeRequest decodes raw into a request; JSON null or nothing is none.
func decodeRequest(raw json.RawMessage) (*dedupe.Request, json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	req := &dedupe.Request{}
	if err := json.Unmarshal(raw, req); err != nil {
		return nil, nil, err
	}
	return req, raw, nil
}

// MarshalJSON writes the payload with its request's raw JSON when it has it.
func (p UpsertPayload) MarshalJSON() ([]byte, error) {
	type plain UpsertPayload
	return json.Marshal(struct {
		plain
		Request any `json:"request"`
	}{plain(p), rawRequest(p.Request, p.RawRequest)})
}

// UnmarshalJSON keeps the request's raw JSON beside the decoded request.
func (p *UpsertPayload) UnmarshalJSON(b []byte) error {
	type plain UpsertPayload
	var w struct {
		plain
		Request json.RawMessage `json:"request"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = UpsertPayload(w.plain)
	var err error
	p.Request, p.RawRequest, err = decodeRequest(w.Request)
	return err
}

// MarshalJSON writes the item with its request's raw JSON when it has it.
func (it UpsertItem) MarshalJSON() ([]byte, error) {
	type plain UpsertItem
	return json.Marshal(struct {
		plain
		Request any `json:"request"`
	}{plain(it), rawRequest(it.Request, it.RawRequest)})
}

// UnmarshalJSON keeps the request's raw JSON beside the decoded request.
func (it *UpsertItem) UnmarshalJSON(b []byte) error {
	type plain UpsertItem
	var w struct {
		plain
		Request json.RawMessage `json:"request"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*it = UpsertItem(w.plain)
	var err error
	it.Request, it.RawRequest, err = decodeRequest(w.Request)
	return err
}

// marshalBatch writes p's JSON with each item's raw request copied as it
// is: through MarshalJSON, encoding/json validated and compacted every
// request twice more (the item's encoding, then the batch's), the
// batch's largest Go cost on the API's side. A raw request is the API's
// json.Marshal output (valid, compact); an item without one is encoded.
func marshalBatch(p UpsertBatchPayload) ([]byte, error) {
	size := 64
	for _, it := range p.Items {
		size += 96 + len(it.RawRequest)
	}
	b := make([]byte, 0, size)
	b = customer.AppendJSONString(append(b, `{"org_id":`...), p.OrgID)
	if p.ReplyTo != "" {
		b = customer.AppendJSONString(append(b, `,"reply_to":`...), p.ReplyTo)
	}
	b = append(b, `,"items":[`...)
	for i, it := range p.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = customer.AppendJSONString(append(b, `{"job_id":`...), it.JobID)
		if it.RequestHash != "" {
			b = customer.AppendJSONString(append(b, `,"request_hash":`...), it.RequestHash)
		}
		raw := it.RawRequest
		if len(raw) == 0 {
			var err error
			if raw, err = json.Marshal(it.Request); err != nil {
				return nil, err
			}
		}
		b = append(append(append(b, `,"request":`...), raw...), '}')
	}
	return append(b, "]}"...), nil
}
