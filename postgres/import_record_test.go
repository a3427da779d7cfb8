package postgres_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// The staged record's own codec writes what json.Marshal means and, from
// the text PostgreSQL prints for jsonb, reads exactly what json.Unmarshal
// reads — the values a chunk merges into customers — whatever the cells
// hold: quotes, backslashes, newlines, control characters, other scripts,
// and the shapes it leaves to encoding/json (address, order line).
func TestImportRecordCodecMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := postgrestest.New(t).Pool()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	total := 12.5
	records := []customer.ImportRecord{
		{},
		{Fields: map[string]string{"first_name": "Ann", "email": "ann@example.com", "phone": "+14155550100"}},
		{Fields: map[string]string{"first_name": `Jo "JJ" O'Neil`, "notes": "line one\nline two\r\n\ttabbed \\ back\\slash /slash"},
			Attributes: map[string]string{"Loyalty <tier>": "gold & more", "Ключ": "значение", "emoji": "😀 ok", "sep": "\u2028\u2029"},
			Tags:       []string{"vip", "", "a,b", `q"t`}, Warned: true},
		{Fields: map[string]string{"notes": "bell\x07 esc\x1b unit\x1f"}, Tags: []string{"\x01"}},
		{Fields: map[string]string{"": ""}, Attributes: map[string]string{"empty": ""}},
		{Fields: map[string]string{"first_name": "Bo"}, Address: &customer.Address{City: "Oslo", Country: "NO"}},
		{Fields: map[string]string{"email": "o@example.com"}, Order: &customer.ImportOrderLine{Status: "paid", OrderDate: &day, Total: &total}},
		{Fields: map[string]string{"bad": "caf\xe9"}}, // not UTF-8: encoding/json's U+FFFD on both sides
	}
	for i, rec := range records {
		b, err := postgres.AppendImportRecord(nil, &rec)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		var viaJSON customer.ImportRecord
		if err := json.Unmarshal(b, &viaJSON); err != nil {
			t.Fatalf("record %d: %s is not JSON: %v", i, b, err)
		}
		want, _ := json.Marshal(rec)
		var wantRec customer.ImportRecord
		_ = json.Unmarshal(want, &wantRec)
		if !reflect.DeepEqual(viaJSON, wantRec) {
			t.Errorf("record %d written as %s, reads back as %+v, want %+v", i, b, viaJSON, wantRec)
		}
		// Through jsonb, as the chunk reads it.
		var printed []byte
		if err := pool.QueryRow(ctx, `SELECT $1::text::jsonb`, string(b)).Scan(&printed); err != nil {
			t.Fatalf("record %d: jsonb refused %s: %v", i, b, err)
		}
		var got, std customer.ImportRecord
		if err := postgres.DecodeImportRecord(printed, &got); err != nil {
			t.Fatalf("record %d: decode %s: %v", i, printed, err)
		}
		if err := json.Unmarshal(printed, &std); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, std) || !reflect.DeepEqual(got, wantRec) {
			t.Errorf("record %d: jsonb %s decodes to %+v; encoding/json %+v; written %+v", i, printed, got, std, wantRec)
		}
	}
	// Text PostgreSQL never prints but the reader must not misread: \u
	// escapes, nulls, unknown keys, trailing garbage.
	for _, doc := range []string{
		`{"f": {"n": "a\u00e9b"}}`, `{"f": null, "t": null}`, `{"F": {"n": "x"}}`, `{"f": {"n": "x"}} x`,
		`{"t": []}`, `{"f": {}}`, `{"w": false}`, `{"f": {"n": "x", "n": "y"}}`,
	} {
		var got, std customer.ImportRecord
		gerr := postgres.DecodeImportRecord([]byte(doc), &got)
		serr := json.Unmarshal([]byte(doc), &std)
		if (gerr == nil) != (serr == nil) || !reflect.DeepEqual(got, std) {
			t.Errorf("%s: decoded %+v (%v), encoding/json %+v (%v)", doc, got, gerr, std, serr)
		}
	}
}
