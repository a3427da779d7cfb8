package postgres_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
)

// GET /api/v1/jobs/{id} shows a job's stored result or error as written:
// each reply's JSON holds only its own fields, and decodes back the same.
func TestUpsertReplyJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		reply *postgres.UpsertReply
		want  string
	}{
		{"result", &postgres.UpsertReply{Result: &dedupe.Result{CustomerID: "cus_1", Action: dedupe.ActionCreated}, JobID: "job_1"},
			`{"customer_id":"cus_1","action":"created","matched_on":null,"conflicts":null,"job_id":"job_1"}`},
		{"error", postgres.ErrorReply(customer.NotFound("Location", "loc_1")),
			`{"error":"Location not found","code":"not_found","details":{"id":"loc_1"}}`},
		{"internal error", postgres.ErrorReply(&customer.Error{Code: customer.EINTERNAL, Message: "Internal error"}),
			`{"error":"Internal error","code":"internal"}`},
	} {
		raw, err := json.Marshal(tc.reply)
		if err != nil || string(raw) != tc.want {
			t.Errorf("%s: %s (%v), want %s", tc.name, raw, err, tc.want)
		}
		var back postgres.UpsertReply
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("%s: decode: %v", tc.name, err)
		}
		if (back.Err() == nil) != (tc.reply.Error == "") || (back.Result == nil) != (tc.reply.Result == nil) {
			t.Errorf("%s: decoded as %+v", tc.name, back)
		}
	}
	if code := customer.ErrorCode(postgres.ErrorReply(customer.NotFound("Location", "loc_1")).Err()); code != customer.ENOTFOUND {
		t.Errorf("error reply answers %s, want not_found", code)
	}
}

// The reply the worker publishes decodes into what the full encoding
// decodes into, the customer included, in fewer bytes.
func TestUpsertReplyPublished(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 13, 0, 0, 123000000, time.UTC)
	c := &customer.Customer{ID: "cust_1", OrganizationID: "org_1", FirstName: "Ana", Name: "Ana", Email: "ana@example.com",
		Status: "active", Type: "individual", Tags: []string{}, Attributes: map[string]any{"k": "v"}, Created: now, Updated: now}
	matched := "email"
	for _, reply := range []*postgres.UpsertReply{
		{Result: &dedupe.Result{CustomerID: "cust_1", Action: dedupe.ActionUpdated, MatchedOn: &matched}, JobID: "job_1", Customer: c},
		{Result: &dedupe.Result{CustomerID: "cust_1", Action: dedupe.ActionCreated}, JobID: "job_2"},
		postgres.ErrorReply(customer.NotFound("Location", "loc_1")),
	} {
		full, err := json.Marshal(reply)
		if err != nil {
			t.Fatal(err)
		}
		published, err := reply.MarshalPublished()
		if err != nil {
			t.Fatal(err)
		}
		want, got := postgres.UpsertReply{Result: &dedupe.Result{}}, postgres.UpsertReply{Result: &dedupe.Result{}}
		if err := json.Unmarshal(full, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(published, &got); err != nil {
			t.Fatalf("%s: %v", published, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("published %s\ndecoded %+v\n   want %+v", published, got, want)
		}
		if reply.Customer != nil && len(published)*2 > len(full) {
			t.Errorf("published %d bytes, full %d: %s", len(published), len(full), published)
		}
	}
}
