package postgres

import (
	"math"
	"math/rand"
	"reflect"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// numericBinary is the binary numeric PostgreSQL sends for the decimal s.
func numericBinary(t testing.TB, m *pgtype.Map, s string) []byte {
	var n pgtype.Numeric
	if err := n.Scan(s); err != nil {
		t.Fatal(err)
	}
	b, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Money columns read into float64 must be the very float64 pgx's codec
// reads (the API's JSON shows them): every value, on the fast path or not.
func TestNumericScansAsPgx(t *testing.T) {
	plain := pgtype.NewMap()
	fast := pgtype.NewMap()
	registerNumeric(fast)
	values := []string{"0", "0.00", "0.01", "-0.01", "1", "-1", "12.5", "100", "10000", "0.1", "0.3",
		"999999999999.99", "-999999999999.99", "123456789.12", "10000000000000000000000", "100000000000000000000000", "0.0000000000000000000123", "0.000000000000000000000000000001", "12300000000", "-4500000",
		"9007199254740991", "9007199254740993", "90071992547409.93", "12345678901234567890.123",
		"0.000001", "3.14159265358979323846", "NaN", "Infinity", "-Infinity"}
	rnd := rand.New(rand.NewSource(1))
	for range 20000 {
		cents := rnd.Int63n(200000000000000) - 100000000000000
		values = append(values, strconv.FormatFloat(float64(cents)/100, 'f', 2, 64), strconv.FormatInt(cents, 10)+"."+strconv.Itoa(rnd.Intn(100)))
	}
	for _, v := range values {
		src := numericBinary(t, plain, v)
		var want, got float64
		if err := plain.Scan(pgtype.NumericOID, pgtype.BinaryFormatCode, src, &want); err != nil {
			t.Fatalf("%s: pgx: %v", v, err)
		}
		if err := fast.Scan(pgtype.NumericOID, pgtype.BinaryFormatCode, src, &got); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("%s: read %v (%b), pgx reads %v (%b)", v, got, math.Float64bits(got), want, math.Float64bits(want))
		}
	}
	// NULL fails as pgx's does; other destinations are the wrapped codec's.
	var f float64
	if err := fast.Scan(pgtype.NumericOID, pgtype.BinaryFormatCode, nil, &f); err == nil {
		t.Error("NULL scanned into a float64")
	}
	var p *float64
	if err := fast.Scan(pgtype.NumericOID, pgtype.BinaryFormatCode, nil, &p); err != nil || p != nil {
		t.Errorf("NULL into *float64: %v, %v", p, err)
	}
	var n pgtype.Numeric
	if err := fast.Scan(pgtype.NumericOID, pgtype.BinaryFormatCode, numericBinary(t, plain, "12.34"), &n); err != nil || n.Int.Int64() != 1234 || n.Exp != -2 {
		t.Errorf("into pgtype.Numeric: %+v, %v", n, err)
	}
}

func BenchmarkNumericScan(b *testing.B) {
	src := numericBinary(b, pgtype.NewMap(), "12345.67")
	for _, c := range []struct {
		name string
		fast bool
	}{{"pgx", false}, {"fast", true}} {
		b.Run(c.name, func(b *testing.B) {
			m := pgtype.NewMap()
			if c.fast {
				registerNumeric(m)
			}
			var f float64
			plan := m.PlanScan(pgtype.NumericOID, pgtype.BinaryFormatCode, &f)
			b.ReportAllocs()
			for range b.N {
				if err := plan.Scan(src, &f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Attributes read from jsonb are what pgx's codec reads: an empty object
// a new empty map (rendered {}), others and NULL as before.
func TestJSONBScansAsPgx(t *testing.T) {
	plain := pgtype.NewMap()
	fast := pgtype.NewMap()
	if err := registerJSONB(fast); err != nil {
		t.Fatal(err)
	}
	for _, format := range []int16{pgtype.BinaryFormatCode, pgtype.TextFormatCode} {
		for _, v := range []*string{nil, ptr("{}"), ptr(`{"vip": true, "n": 1.5}`), ptr("null"), ptr(`{"a": {}}`)} {
			var src []byte
			if v != nil {
				src = []byte(*v)
				if format == pgtype.BinaryFormatCode {
					src = append([]byte{1}, src...)
				}
			}
			want, got := map[string]any{"old": 1}, map[string]any{"old": 1}
			werr := plain.Scan(pgtype.JSONBOID, format, src, &want)
			gerr := fast.Scan(pgtype.JSONBOID, format, src, &got)
			if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) || (got == nil) != (want == nil) {
				t.Errorf("%v (format %d): read %#v (%v), pgx reads %#v (%v)", v, format, got, gerr, want, werr)
			}
		}
	}
}

func ptr(s string) *string { return &s }
