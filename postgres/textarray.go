// Text arrays encoded in one pass (issue 24).

package postgres

import (
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

// textArrayCodec is pgx's text[] codec with a faster encoder for []string
// parameters, the import chunks' set-based writes (hundreds of thousands of
// strings a chunk): pgx's generic array encoder boxes every element in an
// interface, plans it, and grows its buffer as it goes (7% of an import's
// Go time). This one sizes the buffer once and copies the strings; the
// bytes sent are the same. Decoding, and any other parameter type, is the
// wrapped codec's.
type textArrayCodec struct{ *pgtype.ArrayCodec }

// registerTextArray installs textArrayCodec on a connection's type map
// (pgxpool's AfterConnect).
func registerTextArray(m *pgtype.Map) error {
	t, ok := m.TypeForOID(pgtype.TextArrayOID)
	if !ok {
		return fmt.Errorf("text[]: no type registered")
	}
	ac, ok := t.Codec.(*pgtype.ArrayCodec)
	if !ok {
		return fmt.Errorf("text[]: codec %T is not an array codec", t.Codec)
	}
	m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: textArrayCodec{ac}})
	return nil
}

func (c textArrayCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.([]string); ok && format == pgtype.BinaryFormatCode {
		return encodeTextArrayBinary{}
	}
	return c.ArrayCodec.PlanEncode(m, oid, format, value)
}

type encodeTextArrayBinary struct{}

// Encode writes what pgx's array codec writes for a []string: NULL for a
// nil slice, else one dimension (lower bound 1) of non-null text elements.
func (encodeTextArrayBinary) Encode(value any, buf []byte) ([]byte, error) {
	a := value.([]string)
	if a == nil {
		return nil, nil
	}
	n := 20
	for _, s := range a {
		n += 4 + len(s)
	}
	if cap(buf)-len(buf) < n {
		// Doubling: the statement's other parameters follow in buf.
		grown := make([]byte, len(buf), max(len(buf)+n, 2*cap(buf)))
		copy(grown, buf)
		buf = grown
	}
	buf = binary.BigEndian.AppendUint32(buf, 1) // dimensions
	buf = binary.BigEndian.AppendUint32(buf, 0) // no nulls
	buf = binary.BigEndian.AppendUint32(buf, pgtype.TextOID)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(a)))
	buf = binary.BigEndian.AppendUint32(buf, 1) // lower bound
	for _, s := range a {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
		buf = append(buf, s...)
	}
	return buf, nil
}
