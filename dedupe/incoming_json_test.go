package dedupe_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// A request's record decodes from its compact JSON into what it decoded
// from before (every member, as encoding/json writes the struct), and a
// checkout's record takes a fraction of the bytes.
func TestIncomingJSONDecodesAsBefore(t *testing.T) {
	since := time.Date(2020, 5, 1, 10, 0, 0, 0, time.UTC)
	for i, in := range []dedupe.Incoming{
		{},
		{Email: "a@b.c", EmailKey: "a@b.c", Fields: customer.Customer{FirstName: "Ana", Name: "Ana"}},
		{Email: `x"<&>@y.z`, EmailKey: "x@y.z", Phone: "+14155550123", PhoneKey: "14155550123", PhoneValid: true, PhoneExt: "12",
			External: "shop:42", Fields: customer.Customer{FirstName: "Ana", LastName: "Silva", Name: "Ana Silva", Birthdate: "1990-01-02",
				Gender: "female", Notes: "n", Source: "pos", Attributes: map[string]any{"k": "v", "n": 2.5, "z": nil}, Tags: []string{},
				B2B: customer.B2B{TaxID: "T1", CreditLimit: 10, TotalOrders: 3, CustomerSince: &since,
					BillingAddress: &customer.PostalAddress{Line1: "1 Main St", City: "Austin"}}}},
	} {
		type plain dedupe.Incoming
		before, err := json.Marshal(plain(in))
		if err != nil {
			t.Fatal(err)
		}
		req := dedupe.Request{Record: in, Source: "pos"}
		now, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var want dedupe.Incoming
		var got dedupe.Request
		if err := json.Unmarshal(before, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(now, &got); err != nil {
			t.Fatalf("record %d: %v in %s", i, err, now)
		}
		if !reflect.DeepEqual(got.Record, want) || got.Source != "pos" {
			t.Fatalf("record %d:\n now %s\nwant %+v\n got %+v", i, now, want, got.Record)
		}
		if i == 1 && (len(now)*3 > len(before) || strings.Contains(string(now), "null")) {
			t.Fatalf("record %d: %d bytes against %d before: %s", i, len(now), len(before), now)
		}
	}
}
