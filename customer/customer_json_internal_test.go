package customer

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// AppendJSON writes what the reflective encoding (encoding/json, then the
// null rewrite) writes, byte for byte, for customers with every field set,
// unset, empty or awkward: escapes, HTML, invalid UTF-8, U+2028, floats in
// exponent form, zones and nanoseconds, nil against empty lists and maps.
func TestAppendJSONMatchesReflection(t *testing.T) {
	rnd := rand.New(rand.NewPCG(24, 2026))
	for i := range 3000 {
		c := randomCustomer(rnd)
		want, err := c.marshalReflect()
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.AppendJSON([]byte("prefix"))
		if err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("customer %d: AppendJSON (err %v)\n got %s\nwant prefix%s", i, err, got, want)
		}
	}
}

// randomCustomer is a customer with every field set, unset, empty or
// awkward: escapes, HTML, invalid UTF-8, U+2028, floats in exponent form,
// zones and nanoseconds, nil against empty lists and maps.
func randomCustomer(rnd *rand.Rand) Customer {
	texts := []string{"", "a", "Sarah O'Brien", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnew\nline\r\b\f\x01\x1f\x7f",
		"caf\u00e9 \u0645\u062d\u0645\u062f 😀", "bad \xff\xfe utf8", "sep \u2028 \u2029", "+14155550123", "x@y.z"}
	floats := []float64{0, math.Copysign(0, -1), 1, -2.5, 123.456, 1e20, 1e21, 1.5e-7, 1e-6, 0.000001234, -3e300, 5000}
	zones := []*time.Location{time.UTC, time.FixedZone("x", 3*3600+1800), time.FixedZone("y", -8*3600)}
	text := func() string { return texts[rnd.IntN(len(texts))] }
	when := func() time.Time {
		return time.Date(1900+rnd.IntN(200), time.Month(1+rnd.IntN(12)), 1+rnd.IntN(28), rnd.IntN(24), rnd.IntN(60), rnd.IntN(60),
			[]int{0, 1, 120000000, 999999999}[rnd.IntN(4)], zones[rnd.IntN(len(zones))])
	}
	strs := func() []string {
		switch rnd.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		return []string{text(), text()}
	}
	addr := func() *PostalAddress {
		if rnd.IntN(3) == 0 {
			return nil
		}
		return &PostalAddress{Line1: text(), Line2: text(), City: text(), State: text(), PostalCode: text(), Country: text()}
	}
	c := Customer{ID: text(), OrganizationID: text(), FirstName: text(), LastName: text(), Name: text(), Email: text(),
		Phone: text(), PhoneValid: rnd.IntN(2) == 0, PhoneExtension: text(), Birthdate: text(), Gender: text(), Type: text(),
		Status: text(), CompanyName: text(), AvatarURL: text(), Source: text(), Notes: text(), Tags: strs(), Groups: strs(),
		Created: when(), Updated: when()}
	c.B2B = B2B{Website: text(), TaxID: text(), Fax: text(), BillingAddress: addr(), ShippingAddress: addr(),
		PaymentTerms: text(), Currency: text(), CreditLimit: floats[rnd.IntN(len(floats))],
		CurrentBalance: floats[rnd.IntN(len(floats))], DiscountRate: floats[rnd.IntN(len(floats))],
		PreferredShipping: text(), LifetimeValue: floats[rnd.IntN(len(floats))], TotalOrders: rnd.IntN(1000) - 10}
	if rnd.IntN(2) == 0 {
		since := when()
		c.CustomerSince = &since
	}
	switch rnd.IntN(3) {
	case 1:
		c.Attributes = map[string]any{}
	case 2:
		c.Attributes = map[string]any{text(): text(), "n": 1.5, "nested": map[string]any{"<k>": []any{1, "a&b", nil}}}
	}
	switch rnd.IntN(3) {
	case 1:
		c.TagsByLocation = map[string][]string{}
	case 2:
		c.TagsByLocation = map[string][]string{text(): strs(), "loc_b": {"vip"}, "loc_a": nil}
	}
	if rnd.IntN(3) > 0 {
		c.Locations = []Visit{{LocationID: text(), FirstSeen: when(), LastSeen: when(), Source: text()}}
	} else if rnd.IntN(2) == 0 {
		c.Locations = []Visit{}
	}
	if rnd.IntN(3) > 0 {
		c.Aliases = []Alias{{Kind: "email", Value: text(), Shared: rnd.IntN(2) == 0}, {Kind: "phone", Value: text()}}
	} else if rnd.IntN(2) == 0 {
		c.Aliases = []Alias{}
	}
	return c
}

// What encoding/json refuses (a NaN, a year past 9999) AppendJSON refuses
// the same way, and leaves the buffer as it was.
func TestAppendJSONRefusesAsReflection(t *testing.T) {
	for _, c := range []Customer{{B2B: B2B{CreditLimit: math.NaN()}}, {Created: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}} {
		_, want := c.marshalReflect()
		got, err := c.AppendJSON([]byte("x"))
		if err == nil || want == nil || string(got) != "x" {
			t.Fatalf("AppendJSON = %q, %v; reflection's error %v", got, err, want)
		}
	}
}
