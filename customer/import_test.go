package customer_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/linkitworks/customers/customer"
)

// A staged record becomes the customer its fields name, each field in its
// place; fields that are not the customer's own (email, phone, tags) and
// attributes go where they belong, and a missing name is the display name.
func TestImportRecordCustomer(t *testing.T) {
	r := customer.ImportRecord{Fields: map[string]string{
		"first_name": "Ann", "last_name": "Lee", "birthdate": "1990-01-02", "gender": "female", "type": "vip",
		"status": "active", "company_name": "Acme", "avatar_url": "https://a/b.png", "source": "pos", "notes": "n",
		"website": "https://acme.example", "tax_id": "T1", "email": "ann@example.com", "phone": "+14155550100",
	}, Attributes: map[string]string{"City": "Paris"}}
	want := customer.Customer{FirstName: "Ann", LastName: "Lee", Name: "Ann Lee", Birthdate: "1990-01-02", Gender: "female",
		Type: "vip", Status: "active", CompanyName: "Acme", AvatarURL: "https://a/b.png", Source: "pos", Notes: "n",
		Attributes: map[string]any{"City": "Paris"}}
	want.Website, want.TaxID = "https://acme.example", "T1"
	if got := r.Customer(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	r.Fields["name"] = "Annie"
	if got := r.Customer(); got.Name != "Annie" {
		t.Fatalf("name %q, want the record's", got.Name)
	}
}

// An id is its prefix, "_" and its ULID in lower case: what
// prefix + "_" + strings.ToLower(ulid.String()) gave, sortable by time.
func TestNewIDIsLowerCaseULID(t *testing.T) {
	prev := ""
	for range 1000 {
		id := customer.NewID(customer.PrefixCustomer)
		suffix, ok := strings.CutPrefix(id, "cust_")
		if !ok {
			t.Fatalf("%q: no prefix", id)
		}
		u, err := ulid.ParseStrict(suffix)
		if err != nil {
			t.Fatalf("%q: %v", id, err)
		}
		if want := "cust_" + strings.ToLower(u.String()); id != want {
			t.Fatalf("%q, want %q", id, want)
		}
		if time.Since(ulid.Time(u.Time())) > time.Minute {
			t.Fatalf("%q: time %v", id, ulid.Time(u.Time()))
		}
		if id[:15] < prev[:min(len(prev), 15)] {
			t.Fatalf("%q sorts before %q", id, prev)
		}
		prev = id
	}
}
