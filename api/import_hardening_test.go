package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// A JSON file nested 20,000 levels deep answered 500 and left its import
// in reading: it is a 422 naming the file whether the deep element comes
// first (no import is made) or later (the import is failed), and no import
// stays in reading. A file of only malformed elements (no keys to record)
// is read like any other: its import ends with the rows invalid.
func TestImportDeepJSON(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	deep := `{"email":"d@example.com","x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`
	first := `{"email":"a@example.com"}`
	for _, tc := range []struct{ path, ct, body string }{
		{"/api/v1/imports", "application/json", "[" + deep + "]"},
		{"/api/v1/imports", "application/json", "[" + first + "," + deep + "]"},
		{"/api/v1/imports", "application/x-ndjson", first + "\n" + deep + "\n"},
		{"/api/v1/imports/preview", "application/json", "[" + deep + "]"},
	} {
		res := e.upload(tc.path, "", tc.ct, []byte(tc.body)).wantError(t, http.StatusUnprocessableEntity, "file")
		if reason := str(res.details()["file"]); !strings.Contains(reason, "nested more than 64 levels deep") {
			t.Fatalf("%s %s: reason %q", tc.path, tc.ct, reason)
		}
	}
	if n := e.count("SELECT count(*) FROM imports WHERE status <> 'failed' OR error NOT LIKE '%nested more than 64 levels deep%'"); n != 0 {
		t.Fatalf("%d imports not failed with the reason", n)
	}
	if n := e.count("SELECT count(*) FROM imports"); n != 2 {
		t.Fatalf("%d imports, want the 2 whose deep element came later", n)
	}
	malformed := e.upload("/api/v1/imports", "", "application/json", []byte(`[{"email": oops}]`)).want(t, http.StatusAccepted).data()
	if im := e.waitImport(str(malformed["id"])); im["status"] != "completed" || counts(im)["invalid"] != 1 {
		t.Fatalf("malformed-only import %v %v", im["status"], im["counts"])
	}
}
