// Merging a record's fields into a customer by policy; identifiers are the workspace's (engine.go).

package dedupe

import (
	"maps"
	"reflect"

	"github.com/linkitworks/customers/customer"
)

// textFields are the plain text fields a merge considers.
var textFields = []struct {
	name string
	ptr  func(*customer.Customer) *string
}{
	{"first_name", func(c *customer.Customer) *string { return &c.FirstName }},
	{"last_name", func(c *customer.Customer) *string { return &c.LastName }},
	{"name", func(c *customer.Customer) *string { return &c.Name }},
	{"company_name", func(c *customer.Customer) *string { return &c.CompanyName }},
	{"avatar_url", func(c *customer.Customer) *string { return &c.AvatarURL }},
	{"birthdate", func(c *customer.Customer) *string { return &c.Birthdate }},
	{"gender", func(c *customer.Customer) *string { return &c.Gender }},
	{"notes", func(c *customer.Customer) *string { return &c.Notes }},
	{"source", func(c *customer.Customer) *string { return &c.Source }},
	{"website", func(c *customer.Customer) *string { return &c.Website }},
	{"tax_id", func(c *customer.Customer) *string { return &c.TaxID }},
	{"fax", func(c *customer.Customer) *string { return &c.Fax }},
	{"payment_terms", func(c *customer.Customer) *string { return &c.PaymentTerms }},
	{"currency", func(c *customer.Customer) *string { return &c.Currency }},
	{"preferred_shipping", func(c *customer.Customer) *string { return &c.PreferredShipping }},
}

// MergeFields applies in's values onto c by policy and returns what changed.
// Identifiers (email, phone) are not fields here: the workspace claims them.
func MergeFields(c, in *customer.Customer, policy Policy) map[string]Change {
	changes := map[string]Change{}
	if policy == DoNotUpdate {
		return changes
	}
	take := func(cur, next any, curEmpty, nextEmpty bool) bool {
		if nextEmpty || reflect.DeepEqual(cur, next) {
			return false
		}
		return policy == Overwrite || curEmpty
	}
	for _, f := range textFields {
		cur, next := f.ptr(c), f.ptr(in)
		if f.name == "source" && *cur != "" {
			continue // where a customer first came from is history
		}
		if take(*cur, *next, *cur == "", *next == "") {
			changes[f.name] = Change{From: *cur, To: *next}
			*cur = *next
		}
	}
	for _, a := range []struct {
		name     string
		cur, new **customer.PostalAddress
	}{{"billing_address", &c.BillingAddress, &in.BillingAddress}, {"shipping_address", &c.ShippingAddress, &in.ShippingAddress}} {
		if take(*a.cur, *a.new, *a.cur == nil, *a.new == nil) {
			changes[a.name] = Change{From: *a.cur, To: *a.new}
			*a.cur = *a.new
		}
	}
	if len(in.Attributes) > 0 {
		merged := maps.Clone(c.Attributes)
		if merged == nil {
			merged = map[string]any{}
		}
		for k, v := range in.Attributes {
			if cur, ok := merged[k]; !ok || (policy == Overwrite && !reflect.DeepEqual(cur, v)) {
				merged[k] = v
			}
		}
		if !reflect.DeepEqual(merged, c.Attributes) && !(len(merged) == 0 && c.Attributes == nil) {
			changes["attributes"] = Change{From: c.Attributes, To: merged}
			c.Attributes = merged
		}
	}
	return changes
}
