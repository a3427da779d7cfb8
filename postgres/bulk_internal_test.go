package postgres

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A customer's attributes written by an import hold what json.Marshal would
// have written: the same JSON value (jsonb keeps values, not escapes).
func TestAttributesJSONIsMarshal(t *testing.T) {
	for _, a := range []map[string]any{nil, {}, {"a": "1"}, {"loyalty tier": "<gold> & \"more\"", "note": "line\nbreak\t\\ \u2028 é 東京 \x01"},
		{"n": float64(3), "s": "x"}, {"bad": "\xff"}} {
		got := attributesJSON(a)
		want, _ := json.Marshal(a)
		if len(a) == 0 {
			want = []byte("{}")
		}
		var g, w any
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatalf("%v: %q is not JSON: %v", a, got, err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%v: wrote %s, json.Marshal writes %s", a, got, want)
		}
	}
}
