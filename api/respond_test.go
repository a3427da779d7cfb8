package api

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/linkitworks/customers/customer"
)

// TestCustomerListBodyAsEncoded: a page of customers is written byte for
// byte as encoding/json writes its envelope: nulls for empty optional
// fields, HTML characters escaped, a nil entry null, the meta, the newline.
func TestCustomerListBodyAsEncoded(t *testing.T) {
	since := time.Date(2024, 6, 1, 12, 0, 0, 123456000, time.UTC)
	cs := []*customer.Customer{
		{ID: "cust_1", Name: "Ann <b>&</b> Lee", Email: "ann@example.com", Attributes: map[string]any{"vip": true, "note": "a\u2028b"},
			Tags: []string{"x"}, TagsByLocation: map[string][]string{"org": {"x"}}, Groups: []string{}, Locations: []customer.Visit{},
			Aliases: []customer.Alias{{Kind: "email", Value: "a@b.c", Shared: true}},
			B2B:     customer.B2B{CustomerSince: &since, BillingAddress: &customer.PostalAddress{City: "Riyadh"}}, Created: since},
		nil,
		{ID: "cust_2", Name: "Bo"},
	}
	for _, page := range []customer.Page{{Total: 3, Page: 1, Limit: 20}, {Total: 900, Page: 2, Limit: 3, HasMore: true, Estimated: true, NextCursor: "abc"}} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(envelope{Data: cs, Meta: &page}); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		writeList(rec, cs, page)
		if got := rec.Body.String(); got != want.String() {
			t.Fatalf("body\n got %s\nwant %s", got, want.String())
		}
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		// Sent with its length (not chunked), from a reused buffer.
		if n := rec.Header().Get("Content-Length"); n != strconv.Itoa(want.Len()) {
			t.Fatalf("content length %q, body %d bytes", n, want.Len())
		}
	}
}
