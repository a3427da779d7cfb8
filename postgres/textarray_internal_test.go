package postgres

import (
	"bytes"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// The import's text[] parameters must reach PostgreSQL exactly as pgx's own
// codec sends them: same bytes, NULL for a nil slice.
func TestTextArrayEncodesAsPgx(t *testing.T) {
	plain := pgtype.NewMap()
	fast := pgtype.NewMap()
	if err := registerTextArray(fast); err != nil {
		t.Fatal(err)
	}
	for _, a := range [][]string{nil, {}, {""}, {"a"}, {"Sarah", "", "O'Brien, \"Jr\"", "ümlaut 東京", "{}", "NULL"}} {
		want, err := plain.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, a, []byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := fast.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, a, []byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("%q: encoded %v, pgx encodes %v", a, got, want)
		}
	}
	// Other values and the text format are the wrapped codec's.
	for _, v := range []any{[]*string{nil}, pgtype.FlatArray[string]{"x"}} {
		want, _ := plain.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, v, nil)
		got, err := fast.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, v, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%#v: encoded %v (%v), pgx encodes %v", v, got, err, want)
		}
	}
}
