package customer_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/linkitworks/customers/customer"
)

func TestCursorRoundTrip(t *testing.T) {
	c := customer.Cursor{Updated: time.Date(2026, 12, 6, 23, 1, 2, 345678000, time.UTC), ID: "cust_01j9abc"}
	got, err := customer.DecodeCursor(c.Encode())
	if err != nil || !got.Updated.Equal(c.Updated) || got.ID != c.ID {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, c)
	}
	// Padding a client may add is accepted.
	if _, err := customer.DecodeCursor(c.Encode() + "=="); err != nil {
		t.Fatalf("padded: %v", err)
	}
}

func TestCursorRefusesWhatItDidNotWrite(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, s := range []string{
		"", "not-a-cursor", "!!!", enc("u1.123."), enc("u2.123.cust_x"), enc("u1.abc.cust_x"),
		enc("u1.123"), enc("u1.123.cust_\x00"), enc("u1.123.\xff\xfe"), enc("u1.123." + string(make([]byte, 65))),
	} {
		if c, err := customer.DecodeCursor(s); err == nil {
			t.Errorf("DecodeCursor(%q) = %+v, want an error", s, c)
		}
	}
}
