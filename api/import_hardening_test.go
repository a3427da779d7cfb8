package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/linkittest"
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

// Multipart fields before the file were held in memory without limit (1 GB
// of them took RSS to 1 GB): too many, or too many bytes of them, is a
// 413 naming the limit, on imports and previews alike.
func TestImportFormFieldLimits(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	post := func(path string, fields map[string]string, n int) response {
		t.Helper()
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for i := range n {
			for k, v := range fields {
				if n > 1 {
					k = fmt.Sprintf("%s%d", k, i)
				}
				mw.WriteField(k, v)
			}
		}
		fw, _ := mw.CreateFormFile("file", "x.csv")
		fw.Write([]byte("email\na@example.com\n"))
		mw.Close()
		req, _ := http.NewRequest("POST", e.url+path, &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+e.key)
		return response{linkittest.Send(t, req)}
	}
	for _, path := range []string{"/api/v1/imports", "/api/v1/imports/preview"} {
		post(path, map[string]string{"x": "1"}, 1000).wantError(t, http.StatusRequestEntityTooLarge, "max_form_fields")
		post(path, map[string]string{"x": strings.Repeat("y", 100<<10)}, 1).wantError(t, http.StatusRequestEntityTooLarge, "max_form_bytes")
		post(path, map[string]string{"x": strings.Repeat("y", 20<<10)}, 4).wantError(t, http.StatusRequestEntityTooLarge, "max_form_bytes")
	}
	// Options as fields still work, and are read.
	post("/api/v1/imports/preview", map[string]string{"default_region": "SA", "tags": "a,b"}, 1).want(t, http.StatusOK)
	post("/api/v1/imports/preview", map[string]string{"default_region": "ZZ"}, 1).wantError(t, http.StatusUnprocessableEntity, "default_region")
	if n := e.count("SELECT count(*) FROM imports"); n != 0 {
		t.Fatalf("%d imports made from refused uploads", n)
	}
}

// The upload limit counted compressed bytes only: a gzip file is refused
// like the same file sent plain once its decompressed bytes pass the limit.
func TestImportDecompressedLimit(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true, cfg: api.Config{MaxImportBytes: 4096}})
	plain := append([]byte("email\n"), bytes.Repeat([]byte("a@example.com\n"), 20000)...) // 280 KB
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	if gz.Len() > 4096 {
		t.Fatalf("the gzip file is %d bytes: it must pass the limit only once decompressed", gz.Len())
	}
	e.upload("/api/v1/imports", "", "text/csv", plain).wantError(t, http.StatusRequestEntityTooLarge, "max_bytes")
	for _, path := range []string{"/api/v1/imports", "/api/v1/imports/preview"} {
		e.upload(path, "", "application/gzip", gz.Bytes()).wantError(t, http.StatusRequestEntityTooLarge, "max_bytes")
		e.upload(path, "x.csv.gz", "", gz.Bytes()).wantError(t, http.StatusRequestEntityTooLarge, "max_bytes")
	}
	if n := e.count("SELECT count(*) FROM imports WHERE status <> 'failed'"); n != 0 {
		t.Fatalf("%d imports of a refused file not failed", n)
	}
	// A gzip file within the limit once decompressed is imported.
	gz.Reset()
	zw = gzip.NewWriter(&gz)
	zw.Write([]byte("email\nsmall@example.com\n"))
	zw.Close()
	e.upload("/api/v1/imports", "", "application/gzip", gz.Bytes()).want(t, http.StatusAccepted)
}

// Stalled uploads held two pooled connections each with no timeout, and
// ten of them hung every tenant. Now staging has a pool of its own, an
// organization and the server have a bounded number of uploads in progress
// (429 and 503 with Retry-After beyond), and an upload that stops sending
// is cut: 408 naming the stall, its import failed with the reason.
func TestImportStalledUploads(t *testing.T) {
	t.Parallel()
	const progress = 6 * time.Second
	e := newQueueEnv(t, queueOpts{noWorker: true, stageConns: 6,
		cfg: api.Config{UploadProgressTimeout: progress, MaxUploads: 3, MaxUploadsPerOrg: 2}})
	_, keyB := e.newOrg("B", "")
	_, keyC := e.newOrg("C", "")
	rows := bytes.NewBufferString("email\n")
	for i := 0; rows.Len() < 200<<10; i++ {
		fmt.Fprintf(rows, "s%d@example.com\n", i) // past the sniffed prefix: staging has begun
	}
	type result struct {
		status int
		body   string
		err    error
	}
	stall := func(key string) chan result {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", e.url+"/api/v1/imports", pr)
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", "Bearer "+key)
		done := make(chan result, 1)
		go func() {
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- result{err: err}
				return
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			done <- result{status: res.StatusCode, body: string(raw)}
		}()
		go func() { pw.Write(rows.Bytes()) }() // and then nothing, the pipe left open
		t.Cleanup(func() { pw.Close() })
		return done
	}
	stalled := []chan result{stall(e.key), stall(e.key), stall(keyB)}
	deadline := time.Now().Add(progress / 2)
	for e.count("SELECT count(*) FROM imports WHERE status = 'reading'") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled uploads did not start staging")
		}
		time.Sleep(20 * time.Millisecond)
	}
	small := []byte("email\nx@example.com\n")
	res := e.upload("/api/v1/imports", "", "text/csv", small).wantError(t, http.StatusTooManyRequests, "max_uploads_per_organization")
	if res.Header.Get("Retry-After") == "" {
		t.Fatalf("429 without Retry-After")
	}
	res = (&env{t: t, url: e.url, store: e.store, key: keyC}).upload("/api/v1/imports", "", "text/csv", small).
		wantError(t, http.StatusServiceUnavailable, "max_uploads")
	if res.Header.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After")
	}
	// Another organization's reads and writes answer at once meanwhile.
	start := time.Now()
	e.doKey(keyC, "POST", "/api/v1/customers", map[string]any{"first_name": "Cy", "last_name": "Cee", "email": "c@example.com"}).want(t, http.StatusCreated)
	e.doKey(keyC, "GET", "/api/v1/customers/lookup?email=c@example.com", nil).want(t, http.StatusOK)
	if took := time.Since(start); took > progress/2 {
		t.Fatalf("another organization waited %v behind stalled uploads", took)
	}
	for _, done := range stalled {
		select {
		case r := <-done:
			if r.err != nil || r.status != http.StatusRequestTimeout || !strings.Contains(r.body, "Upload stalled") {
				t.Fatalf("stalled upload answered %d %s %v", r.status, r.body, r.err)
			}
		case <-time.After(3 * progress):
			t.Fatalf("a stalled upload was not cut")
		}
	}
	if n := e.count("SELECT count(*) FROM imports WHERE status = 'failed' AND error LIKE 'Upload stalled: no data received for 6s%'"); n != 3 {
		t.Fatalf("%d stalled imports failed with the reason, want 3", n)
	}
	// The slots are free again.
	e.upload("/api/v1/imports", "", "text/csv", small).want(t, http.StatusAccepted)
}

// The progress deadline counts only the client's silence, never the
// server's pauses (a COPY waiting, the import being recorded): a file sent
// at once is imported under a deadline far shorter than its import takes.
func TestImportProgressDeadlineSparesTheServer(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{chunkRows: 50, cfg: api.Config{UploadProgressTimeout: 50 * time.Millisecond}})
	file := bytes.NewBufferString("email,first name\n")
	for i := range 5000 {
		fmt.Fprintf(file, "p%d@example.com,P%d\n", i, i)
	}
	for _, name := range []string{"", "p.csv"} { // raw and multipart
		ct := "text/csv"
		if name != "" {
			ct = ""
		}
		im := e.upload("/api/v1/imports", name, ct, file.Bytes()).want(t, http.StatusAccepted).data()
		if done := e.waitImport(str(im["id"])); done["status"] != "completed" || counts(done)["rows"] != 5000 {
			t.Fatalf("import %v %v", done["status"], done["counts"])
		}
	}
}
