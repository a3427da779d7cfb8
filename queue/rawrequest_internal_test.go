package queue

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// A batch task's payload decodes into what json.Marshal's would decode
// into: items with their raw request, without one (encoded then), with a
// hash or not, awkward strings, and no reply channel.
func TestMarshalBatchDecodesAsJSON(t *testing.T) {
	req := &dedupe.Request{Record: dedupe.Incoming{Email: "a<b>@c.d", EmailKey: "a<b>@c.d", PhoneKey: "14155550123", PhoneValid: true,
		Fields: customer.Customer{FirstName: "José", Name: "José \"Zé\" Silva", Attributes: map[string]any{"k": nil}}},
		Options: dedupe.Options{Policy: dedupe.FillBlanks, Priority: []string{"email", "phone"}}, Tags: []string{"vip"}}
	raw, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []UpsertBatchPayload{
		{OrgID: "org_1", ReplyTo: "linkit:replies::ab", Items: []UpsertItem{
			{JobID: "job_1", Request: req, RawRequest: raw, RequestHash: "h1"},
			{JobID: "job_2\"\\", Request: req},
			{JobID: "job_3", Request: req, RawRequest: raw},
		}},
		{OrgID: "org_\u2028", Items: []UpsertItem{{JobID: "job_4", Request: req, RawRequest: raw}}},
	} {
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalBatch(p)
		if err != nil {
			t.Fatal(err)
		}
		var a, b UpsertBatchPayload
		if err := json.Unmarshal(want, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatalf("%v in %s", err, got)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("marshalBatch %s\ndecodes as %+v\n      want %+v", got, b, a)
		}
	}
}
