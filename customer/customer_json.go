// A customer's JSON written field by field: the bytes encoding/json and the null rewrite wrote, without reflection.

package customer

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends c's JSON to b: byte for byte what MarshalJSON wrote
// through encoding/json and MarshalNulls (empty optional text as null),
// which was a quarter of a search's Go time (issue 24). A value that
// encoding/json would refuse (a NaN, a year past 9999) makes it answer the
// reflective encoding's result, error included.
func (c *Customer) AppendJSON(b []byte) ([]byte, error) {
	start := len(b)
	out, ok := c.appendJSON(b)
	if ok {
		return out, nil
	}
	v, err := c.marshalReflect()
	if err != nil {
		return b[:start], err
	}
	return append(b[:start], v...), nil
}

// marshalReflect is the encoding AppendJSON reproduces.
func (c Customer) marshalReflect() ([]byte, error) {
	type plain Customer
	return MarshalNulls(plain(c), customerNullable...)
}

// customerNullable are the Customer members written null when "".
var customerNullable = []string{"first_name", "last_name", "email", "phone", "phone_extension",
	"birthdate", "gender", "company_name", "avatar_url", "source", "notes",
	"website", "tax_id", "fax", "payment_terms", "currency", "preferred_shipping"}

func (c *Customer) appendJSON(b []byte) (_ []byte, ok bool) {
	b = append(b, `{"id":`...)
	b = AppendJSONString(b, c.ID)
	b = append(b, `,"organization_id":`...)
	b = AppendJSONString(b, c.OrganizationID)
	b = appendOptional(b, `,"first_name":`, c.FirstName)
	b = appendOptional(b, `,"last_name":`, c.LastName)
	b = append(b, `,"name":`...)
	b = AppendJSONString(b, c.Name)
	b = appendOptional(b, `,"email":`, c.Email)
	b = appendOptional(b, `,"phone":`, c.Phone)
	b = append(b, `,"phone_valid":`...)
	b = strconv.AppendBool(b, c.PhoneValid)
	b = appendOptional(b, `,"phone_extension":`, c.PhoneExtension)
	b = appendOptional(b, `,"birthdate":`, c.Birthdate)
	b = appendOptional(b, `,"gender":`, c.Gender)
	b = append(b, `,"type":`...)
	b = AppendJSONString(b, c.Type)
	b = append(b, `,"status":`...)
	b = AppendJSONString(b, c.Status)
	b = appendOptional(b, `,"company_name":`, c.CompanyName)
	b = appendOptional(b, `,"avatar_url":`, c.AvatarURL)
	b = appendOptional(b, `,"source":`, c.Source)
	b = appendOptional(b, `,"notes":`, c.Notes)
	b = append(b, `,"attributes":`...)
	if c.Attributes == nil {
		b = append(b, "null"...)
	} else if len(c.Attributes) == 0 {
		b = append(b, "{}"...) // most customers': without encoding/json
	} else {
		a, err := json.Marshal(c.Attributes)
		if err != nil {
			return b, false
		}
		b = append(b, a...)
	}
	b = append(b, `,"tags":`...)
	b = appendStrings(b, c.Tags)
	b = append(b, `,"tags_by_location":`...)
	if c.TagsByLocation == nil {
		b = append(b, "null"...)
	} else {
		keys := make([]string, 0, len(c.TagsByLocation))
		for k := range c.TagsByLocation {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, k)
			b = append(b, ':')
			b = appendStrings(b, c.TagsByLocation[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"groups":`...)
	b = appendStrings(b, c.Groups)
	b = append(b, `,"locations":`...)
	if c.Locations == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, v := range c.Locations {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"location_id":`...)
			b = AppendJSONString(b, v.LocationID)
			b = append(b, `,"first_seen":`...)
			if b, ok = appendTime(b, v.FirstSeen); !ok {
				return b, false
			}
			b = append(b, `,"last_seen":`...)
			if b, ok = appendTime(b, v.LastSeen); !ok {
				return b, false
			}
			b = append(b, `,"source":`...)
			b = AppendJSONString(b, v.Source)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"aliases":`...)
	if c.Aliases == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range c.Aliases {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"kind":`...)
			b = AppendJSONString(b, a.Kind)
			b = append(b, `,"value":`...)
			b = AppendJSONString(b, a.Value)
			if a.Shared {
				b = append(b, `,"shared":true`...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendOptional(b, `,"website":`, c.Website)
	b = appendOptional(b, `,"tax_id":`, c.TaxID)
	b = appendOptional(b, `,"fax":`, c.Fax)
	b = append(b, `,"billing_address":`...)
	b = appendAddress(b, c.BillingAddress)
	b = append(b, `,"shipping_address":`...)
	b = appendAddress(b, c.ShippingAddress)
	b = appendOptional(b, `,"payment_terms":`, c.PaymentTerms)
	b = appendOptional(b, `,"currency":`, c.Currency)
	for _, f := range []struct {
		key string
		v   float64
	}{{`,"credit_limit":`, c.CreditLimit}, {`,"current_balance":`, c.CurrentBalance}, {`,"discount_rate":`, c.DiscountRate}} {
		b = append(b, f.key...)
		if b, ok = appendFloat(b, f.v); !ok {
			return b, false
		}
	}
	b = appendOptional(b, `,"preferred_shipping":`, c.PreferredShipping)
	b = append(b, `,"lifetime_value":`...)
	if b, ok = appendFloat(b, c.LifetimeValue); !ok {
		return b, false
	}
	b = append(b, `,"total_orders":`...)
	b = strconv.AppendInt(b, int64(c.TotalOrders), 10)
	b = append(b, `,"customer_since":`...)
	if c.CustomerSince == nil {
		b = append(b, "null"...)
	} else if b, ok = appendTime(b, *c.CustomerSince); !ok {
		return b, false
	}
	b = append(b, `,"created":`...)
	if b, ok = appendTime(b, c.Created); !ok {
		return b, false
	}
	b = append(b, `,"updated":`...)
	if b, ok = appendTime(b, c.Updated); !ok {
		return b, false
	}
	return append(b, '}'), true
}

// appendOptional appends a member whose empty value is written null.
func appendOptional(b []byte, key, v string) []byte {
	b = append(b, key...)
	if v == "" {
		return append(b, "null"...)
	}
	return AppendJSONString(b, v)
}

func appendStrings(b []byte, vs []string) []byte {
	if vs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, v)
	}
	return append(b, ']')
}

// appendAddress is PostalAddress.MarshalJSON's encoding.
func appendAddress(b []byte, a *PostalAddress) []byte {
	if a == nil {
		return append(b, "null"...)
	}
	b = appendOptional(b, `{"line1":`, a.Line1)
	if a.Line2 != "" {
		b = append(b, `,"line2":`...)
		b = AppendJSONString(b, a.Line2)
	}
	b = appendOptional(b, `,"city":`, a.City)
	b = appendOptional(b, `,"state":`, a.State)
	b = appendOptional(b, `,"postal_code":`, a.PostalCode)
	if a.Country != "" {
		b = append(b, `,"country":`...)
		b = AppendJSONString(b, a.Country)
	}
	return append(b, '}')
}

// appendTime is time.Time's MarshalJSON (RFC 3339 with nanoseconds);
// false where that refuses the time.
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// appendFloat is encoding/json's float64 encoding; false for NaN and
// the infinities, which it refuses.
func appendFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// AppendJSONString is encoding/json's string encoding with HTML escaping
// (its default): <, > and & as \u003c…, invalid UTF-8 as \ufffd, U+2028
// and U+2029 escaped.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
