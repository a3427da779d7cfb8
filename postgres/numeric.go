// Numeric columns read into float64 without big integers (issue 24).

package postgres

import (
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

// numericCodec is pgx's numeric codec with a faster binary decoder for
// *float64 destinations, the customers' money columns (four a row): pgx
// builds a big.Int of the digits, prints it and parses the text back (a
// search's 21 rows spent ~20 µs there). This one computes the value
// directly when its digits fit in 53 bits and its power of ten is exact in
// a float64, one correctly rounded operation as strconv.ParseFloat's own
// fast path, so the float64 is the same; any other value, and any other
// destination or format, is the wrapped codec's.
type numericCodec struct{ pgtype.NumericCodec }

// registerNumeric installs numericCodec on a connection's type map.
func registerNumeric(m *pgtype.Map) {
	m.RegisterType(&pgtype.Type{Name: "numeric", OID: pgtype.NumericOID, Codec: numericCodec{}})
}

func (c numericCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*float64); ok && format == pgtype.BinaryFormatCode {
		return numericToFloat64{slow: c.NumericCodec.PlanScan(m, oid, format, &float64Dest{})}
	}
	return c.NumericCodec.PlanScan(m, oid, format, target)
}

// float64Dest is a *float64 as pgx's codec scans it (its own wrapper is
// unexported; the same NULL error).
type float64Dest struct{ p *float64 }

func (d *float64Dest) ScanFloat64(v pgtype.Float8) error {
	if !v.Valid {
		return fmt.Errorf("cannot scan NULL into *float64")
	}
	*d.p = v.Float64
	return nil
}

type numericToFloat64 struct{ slow pgtype.ScanPlan }

// Powers of ten a float64 holds exactly.
var exactTens = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

func (p numericToFloat64) Scan(src []byte, dst any) error {
	if f, ok := numericFloat64(src); ok {
		*dst.(*float64) = f
		return nil
	}
	return p.slow.Scan(src, &float64Dest{dst.(*float64)})
}

// numericFloat64 decodes a binary numeric (ndigits, weight, sign, dscale,
// then base-10000 digits) whose value is m·10^e with m < 2^53 and |e| <= 22;
// false for any other (NaN, infinities, more digits, malformed).
func numericFloat64(src []byte) (float64, bool) {
	if len(src) < 8 {
		return 0, false
	}
	ndigits := int(binary.BigEndian.Uint16(src))
	weight := int(int16(binary.BigEndian.Uint16(src[2:])))
	sign := binary.BigEndian.Uint16(src[4:])
	if (sign != 0 && sign != 0x4000) || ndigits > 4 || len(src) != 8+2*ndigits {
		return 0, false
	}
	var m uint64
	for i := 0; i < ndigits; i++ {
		d := binary.BigEndian.Uint16(src[8+2*i:])
		if d >= 10000 {
			return 0, false
		}
		m = m*10000 + uint64(d)
	}
	if m == 0 {
		return 0, true
	}
	if m >= 1<<53 {
		return 0, false
	}
	f := float64(m)
	switch e := 4 * (weight - ndigits + 1); {
	case e >= 0 && e < len(exactTens):
		f *= exactTens[e]
	case e < 0 && -e < len(exactTens):
		f /= exactTens[-e]
	default:
		return 0, false
	}
	if sign == 0x4000 {
		f = -f
	}
	return f, true
}
