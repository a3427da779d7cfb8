package customer

import (
	"encoding/json"
	"testing"
)

func TestEmptyOptionalFieldsAreNull(t *testing.T) {
	c := Customer{ID: "cust_1", FirstName: "Ann", Type: TypeIndividual, Status: StatusActive,
		Notes: `say "hi", {x}`, Locations: []Visit{{LocationID: "loc_1"}},
		B2B: B2B{BillingAddress: &PostalAddress{City: "Oslo"}}}
	b, err := json.Marshal([]Customer{c})
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	m := got[0]
	for k, want := range map[string]any{"phone": nil, "email": nil, "last_name": nil, "website": nil,
		"first_name": "Ann", "notes": `say "hi", {x}`, "type": "individual", "status": "active"} {
		if v, ok := m[k]; !ok || v != want {
			t.Errorf("%s = %#v (present %v), want %#v", k, v, ok, want)
		}
	}
	if v := m["locations"].([]any)[0].(map[string]any)["source"]; v != "" {
		t.Errorf("nested visit source = %#v, want \"\" (not an optional field of the customer)", v)
	}
	if v := m["billing_address"].(map[string]any)["state"]; v != nil {
		t.Errorf("billing_address.state = %#v, want null", v)
	}
}
