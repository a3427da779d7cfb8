package customer

import (
	"encoding/json"
	"fmt"
)

// Optional text fields that hold no value answer null in every JSON view, not
// "" (issue 22): each view type names its optional members once, in its
// MarshalJSON, and marshalNulls rewrites those members of its top-level
// object whose value is "". Required fields and enums are left alone.

// MarshalJSON writes c with its empty optional text fields as null
// (AppendJSON: without reflection).
func (c Customer) MarshalJSON() ([]byte, error) {
	return c.AppendJSON(make([]byte, 0, 1024))
}

// MarshalJSON writes a with its empty optional text fields as null.
func (a PostalAddress) MarshalJSON() ([]byte, error) {
	type plain PostalAddress
	return MarshalNulls(plain(a), "line1", "city", "state", "postal_code")
}

// MarshalJSON writes a with its empty optional text fields as null.
func (a Address) MarshalJSON() ([]byte, error) {
	type plain Address
	return MarshalNulls(plain(a), "label", "address_line1", "address_line2", "city", "state", "country", "postal_code")
}

// MarshalJSON writes g with an empty description as null.
func (g Group) MarshalJSON() ([]byte, error) {
	type plain Group
	return MarshalNulls(plain(g), "description")
}

// MarshalJSON writes l with its empty optional text fields as null.
func (l Location) MarshalJSON() ([]byte, error) {
	type plain Location
	return MarshalNulls(plain(l), "code", "default_region", "timezone")
}

// MarshalJSON writes c with its empty optional text fields as null.
func (c Contact) MarshalJSON() ([]byte, error) {
	type plain Contact
	return MarshalNulls(plain(c), "title", "email", "phone")
}

// MarshalJSON writes o with an empty location as null.
func (o Order) MarshalJSON() ([]byte, error) {
	type plain Order
	return MarshalNulls(plain(o), "location_id")
}

// MarshalNulls marshals v, an object, and writes its top-level members named
// in keys as null where their value is "". v must not be of a type whose
// MarshalJSON calls MarshalNulls with itself (pass a method-less copy).
func MarshalNulls(v any, keys ...string) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal %T: %w", v, err)
	}
	return nullEmpty(b, keys), nil
}

// nullEmpty rewrites, in the compact JSON object b, the members of its top
// level named in keys whose value is "" to null.
func nullEmpty(b []byte, keys []string) []byte {
	// Runs between rewritten members are copied whole: a list page
	// rewrites 20 customers' JSON (issue 24's search CPU).
	var out []byte // nil while nothing is rewritten
	last, depth := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			j := i + 1
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
			// b[i:j+1] is a string; at depth 1 followed by ':' it is a key.
			if depth == 1 && j+3 < len(b) && b[j+1] == ':' && b[j+2] == '"' && b[j+3] == '"' && isKey(b[i+1:j], keys) {
				if out == nil {
					out = make([]byte, 0, len(b)+32)
				}
				out = append(append(out, b[last:j+2]...), "null"...)
				i = j + 3
				last = i + 1
				continue
			}
			i = j
		}
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

func isKey(k []byte, keys []string) bool {
	for _, key := range keys {
		if string(k) == key {
			return true
		}
	}
	return false
}
