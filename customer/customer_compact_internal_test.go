package customer

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// The compact JSON decodes into what the full JSON decodes into, for
// customers with every field set, unset, empty or awkward, zero times
// and nil against empty lists and maps included.
func TestAppendCompactJSONDecodesAsFull(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 2026))
	for i := range 3000 {
		c := randomCustomer(rnd)
		switch i % 3 {
		case 0:
			c = Customer{Name: c.Name, Email: c.Email, Attributes: c.Attributes, Tags: c.Tags}
		case 1:
			c.Created, c.Updated = time.Time{}, time.Time{}.UTC()
		}
		full, err := c.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		compact, err := c.AppendCompactJSON([]byte("prefix"))
		if err != nil || string(compact[:6]) != "prefix" {
			t.Fatalf("customer %d: AppendCompactJSON = %s, %v", i, compact, err)
		}
		compact = compact[6:]
		var want, got Customer
		if err := json.Unmarshal(full, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(compact, &got); err != nil {
			t.Fatalf("customer %d: %v in %s", i, err, compact)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("customer %d:\ncompact %s\n   full %s\ndecoded %+v\n   want %+v", i, compact, full, got, want)
		}
		if len(compact) > len(full) {
			t.Fatalf("customer %d: compact %d bytes, full %d", i, len(compact), len(full))
		}
	}
}

// A checkout's record keeps only what it carries.
func TestAppendCompactJSONLeavesOutZeroMembers(t *testing.T) {
	c := Customer{FirstName: "José", LastName: "Al-Ghamdi", Name: "José Al-Ghamdi", Attributes: map[string]any{}, Tags: []string{}}
	got, err := c.AppendCompactJSON(nil)
	want := `{"first_name":"José","last_name":"Al-Ghamdi","name":"José Al-Ghamdi","attributes":{},"tags":[]}`
	if err != nil || string(got) != want {
		t.Fatalf("AppendCompactJSON = %s, %v; want %s", got, err, want)
	}
	if got, _ := (&Customer{}).AppendCompactJSON(nil); string(got) != "{}" {
		t.Fatalf("zero customer = %s", got)
	}
}
