// Empty jsonb objects read into maps without encoding/json (issue 24).

package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

// jsonbCodec is pgx's jsonb codec that reads an empty object ({}, most
// customers' attributes) into a *map[string]any as a new empty map, which
// is what json.Unmarshal makes of it after pgx has zeroed the map, without
// its reflection (~0.5 µs a row); anything else is the wrapped codec's.
type jsonbCodec struct{ pgtype.Codec }

// registerJSONB installs jsonbCodec on a connection's type map.
func registerJSONB(m *pgtype.Map) error {
	t, ok := m.TypeForOID(pgtype.JSONBOID)
	if !ok {
		return fmt.Errorf("jsonb: no type registered")
	}
	m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: jsonbCodec{t.Codec}})
	return nil
}

func (c jsonbCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	plan := c.Codec.PlanScan(m, oid, format, target)
	if _, ok := target.(*map[string]any); ok && plan != nil {
		return jsonbToMap{format: format, slow: plan}
	}
	return plan
}

type jsonbToMap struct {
	format int16
	slow   pgtype.ScanPlan
}

func (p jsonbToMap) Scan(src []byte, dst any) error {
	text := src
	if p.format == pgtype.BinaryFormatCode && len(src) > 0 && src[0] == 1 { // jsonb's version
		text = src[1:]
	}
	if string(text) == "{}" {
		*dst.(*map[string]any) = map[string]any{}
		return nil
	}
	return p.slow.Scan(src, dst)
}
