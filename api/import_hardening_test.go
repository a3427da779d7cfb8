package api_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"reflect"
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

// The error CSV defuses a formula behind leading spaces or quotes too
// (OWASP), names its own column apart from the file's "error" column, and
// the fixed report uploads back to the values the file had.
func TestImportErrorCSVEscaping(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	var file bytes.Buffer
	w := csv.NewWriter(&file)
	w.WriteAll([][]string{
		{"Email", "Notes", "Custom", "error"},
		{"", " =1+1", `"@SUM(A1)`, "mine"},
		{"", "'=kept", "\t-2", "-3"},
	})
	im := e.importCSV("/api/v1/imports", file.Bytes())
	records := e.errorCSV(str(im["id"]))
	if got := strings.Join(records[0], "|"); got != "Email|Notes|Custom|error|error (linkit)" {
		t.Fatalf("error csv header %q", got)
	}
	want := [][]string{{"", "' =1+1", `'"@SUM(A1)`, "mine"}, {"", "''=kept", "'\t-2", "'-3"}}
	for i, w := range want {
		if got := records[i+1][:4]; !reflect.DeepEqual(got, w) {
			t.Fatalf("row %d: %q, want %q", i+1, got, w)
		}
	}
	// Fixed (an email typed in) and uploaded again: the values as they were.
	records[1][0], records[2][0] = "f1@example.com", "f2@example.com"
	var fixed bytes.Buffer
	csv.NewWriter(&fixed).WriteAll(records)
	if c := counts(e.importCSV("/api/v1/imports", fixed.Bytes())); c["created"] != 2 {
		t.Fatalf("fixed report counts %v", c)
	}
	for email, want := range map[string][2]string{"f1@example.com": {"=1+1", `"@SUM(A1)`}, "f2@example.com": {"'=kept", "-2"}} {
		c := e.do("GET", "/api/v1/customers/lookup?email="+email, nil).want(t, http.StatusOK).data()
		attrs, _ := c["attributes"].(map[string]any)
		if c["notes"] != want[0] || attrs["Custom"] != want[1] {
			t.Fatalf("%s: notes %q, Custom %q, want %q", email, c["notes"], attrs["Custom"], want)
		}
	}
}
