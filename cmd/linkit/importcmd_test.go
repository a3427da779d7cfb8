package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkitworks/customers/client"
	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/worker"
)

// impEnv is a real API (and, unless noWorker, a worker) in-process, on a
// fresh database and its own queue namespace, with one organization.
type impEnv struct {
	*linkittest.Stack
	t     *testing.T
	base  string
	key   string
	orgID string
}

func newImpEnv(t *testing.T, noWorker bool) *impEnv {
	t.Helper()
	opts := []linkittest.Option{linkittest.WithNamespace("i"), linkittest.WithOrg("Import Shop"),
		linkittest.WithWorker(worker.Config{Concurrency: 4})}
	if noWorker {
		opts = append(opts, linkittest.WithoutWorker())
	}
	s := linkittest.New(t, opts...)
	return &impEnv{Stack: s, t: t, base: s.URL, key: s.Key, orgID: s.Org}
}

func (e *impEnv) getenv(name string) string {
	switch name {
	case "LINKIT_API_URL":
		return e.base
	case "LINKIT_API_KEY":
		return e.key
	}
	return ""
}

// importRun is one linkit import's outcome.
type importRun struct {
	err            error
	code           int
	stdout, stderr string
}

func runImport(t *testing.T, ctx context.Context, getenv func(string) string, args ...string) importRun {
	t.Helper()
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
	}
	var out, errOut bytes.Buffer
	err := run(ctx, append([]string{"import"}, args...), getenv, &out, &errOut)
	r := importRun{err: err, stdout: out.String(), stderr: errOut.String()}
	if err != nil {
		r.code = exitCode(err)
	}
	return r
}

func (r importRun) wantCode(t *testing.T, code int) importRun {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d (err %v), want %d\nstdout:\n%s\nstderr:\n%s", r.code, r.err, code, r.stdout, r.stderr)
	}
	return r
}

// count asserts one "label  n" line of the summary.
func (r importRun) count(t *testing.T, label string, n string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(label) + `\s+` + regexp.QuoteMeta(n) + `$`)
	if !re.MatchString(r.stdout) {
		t.Errorf("summary lacks %q = %s:\n%s", label, n, r.stdout)
	}
}

// get decodes an authenticated GET's body.
func (e *impEnv) get(path string) (int, map[string]any) {
	e.t.Helper()
	r := e.Do(http.MethodGet, path, nil)
	return r.Status, r.Body
}

func (e *impEnv) customerTotal() float64 {
	e.t.Helper()
	status, body := e.get("/api/v1/customers?limit=1")
	meta, _ := body["meta"].(map[string]any)
	if status != http.StatusOK || meta == nil {
		e.t.Fatalf("list customers: %d %v", status, body)
	}
	total, _ := meta["total"].(float64)
	return total
}

func (e *impEnv) lookup(email string) map[string]any {
	e.t.Helper()
	status, body := e.get("/api/v1/customers/lookup?email=" + url.QueryEscape(email))
	if status != http.StatusOK {
		e.t.Fatalf("lookup %s: %d %v", email, status, body)
	}
	data, _ := body["data"].(map[string]any)
	return data
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("error CSV %s: %v", path, err)
	}
	return recs
}

// messyCSV has four customers (one of them twice), a row with no
// identifier, a ragged row and a row with an invalid email but a valid phone.
const messyCSV = "First Name,Last Name,Email,Phone,Notes\n" +
	"Lina,Saleh,lina@example.com,+966501112233,vip\n" +
	"Omar,Fares,omar@example.com,,\n" +
	"Sara,Haddad,,+14155550123,\n" +
	"Omar,Fares,OMAR@Example.com,+966501112244,again\n" +
	"Nobody,Here,,,no identifier\n" +
	"Ragged,Row,rag@example.com,4155550199,one,too many\n" +
	"Wrong,Email,not-an-email,+966501112255,warning\n"

func TestImportCommand(t *testing.T) {
	t.Parallel()

	t.Run("csv with bad rows", func(t *testing.T) {
		t.Parallel()
		e := newImpEnv(t, false)
		file := writeTemp(t, "customers.csv", messyCSV)
		errPath := filepath.Join(t.TempDir(), "rejected.csv")
		r := runImport(t, nil, e.getenv, file, "--errors", errPath, "--no-progress", "--tags", "import,spring")
		r.wantCode(t, 3)
		if !strings.Contains(r.err.Error(), "2 of 7 rows invalid") || !strings.Contains(r.err.Error(), errPath) {
			t.Errorf("exit-3 message %q", r.err)
		}
		if !strings.Contains(r.stdout, " completed in ") || !strings.Contains(r.stdout, "customers.csv") {
			t.Errorf("summary:\n%s", r.stdout)
		}
		for label, n := range map[string]string{"rows": "7", "created": "4", "merged in file": "1", "invalid": "2", "warnings": "1"} {
			r.count(t, label, n)
		}
		if !strings.Contains(r.stdout, "Problems:") || !strings.Contains(r.stdout, "error: ") {
			t.Errorf("summary lacks the error summary:\n%s", r.stdout)
		}
		if !strings.Contains(r.stdout, "Rejected rows written to "+errPath+" (2 rows") {
			t.Errorf("summary does not name the error file:\n%s", r.stdout)
		}
		if !strings.Contains(r.stderr, "uploading customers.csv") || !strings.Contains(r.stderr, "7 rows read (2 invalid)") {
			t.Errorf("progress lines:\n%s", r.stderr)
		}

		if n := e.customerTotal(); n != 4 {
			t.Errorf("%v customers in the database, want 4", n)
		}
		omar := e.lookup("omar@example.com")
		if omar["first_name"] != "Omar" {
			t.Errorf("omar: %v", omar)
		}
		if tags, _ := omar["tags"].([]any); len(tags) < 2 {
			t.Errorf("omar's tags %v, want import and spring", omar["tags"])
		}
		if c := e.lookup("lina@example.com"); c["phone"] != "+966501112233" {
			t.Errorf("lina: %v", c)
		}

		recs := readCSV(t, errPath)
		wantHeader := []string{"First Name", "Last Name", "Email", "Phone", "Notes", "error"}
		if strings.Join(recs[0], "|") != strings.Join(wantHeader, "|") {
			t.Fatalf("error CSV header %q, want %q", recs[0], wantHeader)
		}
		if len(recs) != 3 {
			t.Fatalf("error CSV has %d rows, want the 2 bad ones: %q", len(recs)-1, recs[1:])
		}
		for i, first := range []string{"Nobody", "Ragged"} {
			row := recs[i+1]
			if row[0] != first || len(row) != len(wantHeader) || row[len(row)-1] == "" {
				t.Errorf("error row %d: %q", i+1, row)
			}
		}
		if !strings.Contains(recs[1][5], "row 6") || !strings.Contains(recs[2][5], "row 7") {
			t.Errorf("error column does not name spreadsheet rows 6 and 7: %q / %q", recs[1][5], recs[2][5])
		}
	})

	t.Run("orders", func(t *testing.T) {
		t.Parallel()
		e := newImpEnv(t, false)
		file := writeTemp(t, "orders.csv", "Name,Email,Created at,Lineitem sku,Lineitem quantity,Lineitem price\n"+
			"#1,ana@example.com,2024-01-15,W-1,2,10\n#1,,,G-1,1,5\n#2,,2024-01-16,W-1,1,10\n#2,,,G-1,x,5\n")
		errPath := filepath.Join(t.TempDir(), "rejected.csv")
		r := runImport(t, nil, e.getenv, file, "--kind", "orders", "--no-progress", "--errors", errPath)
		r.wantCode(t, 3)
		for label, n := range map[string]string{"rows": "4", "created": "1", "invalid": "2", "orders created": "1", "orders invalid": "1"} {
			r.count(t, label, n)
		}
		// The invalid order comes back whole, ready to fix and upload again.
		if recs := readCSV(t, errPath); len(recs) != 3 || recs[1][0] != "#2" || recs[2][0] != "#2" {
			t.Errorf("error CSV %q", recs)
		}
	})

	t.Run("clean gzip csv", func(t *testing.T) {
		t.Parallel()
		e := newImpEnv(t, false)
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = io.WriteString(zw, "email,first_name\nana@example.com,Ana\nben@example.com,Ben\ncai@example.com,Cai\n")
		_ = zw.Close()
		file := writeTemp(t, "clean.csv.gz", gz.String())
		errPath := filepath.Join(t.TempDir(), "none.csv")
		r := runImport(t, nil, e.getenv, "--no-progress", file, "--errors", errPath, "--merge-policy", "overwrite")
		r.wantCode(t, 0)
		r.count(t, "rows", "3")
		r.count(t, "created", "3")
		r.count(t, "invalid", "0")
		if !strings.Contains(r.stdout, "No rejected rows") {
			t.Errorf("summary:\n%s", r.stdout)
		}
		if _, err := os.Stat(errPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error file written without errors: %v", err)
		}
		if e.customerTotal() != 3 || e.lookup("ben@example.com")["first_name"] != "Ben" {
			t.Errorf("customers not imported")
		}

		// The same file again: nothing new.
		r = runImport(t, nil, e.getenv, file, "--no-progress")
		r.wantCode(t, 0)
		r.count(t, "unchanged", "3")
		r.count(t, "created", "0")
	})

	t.Run("ndjson", func(t *testing.T) {
		t.Parallel()
		e := newImpEnv(t, false)
		file := writeTemp(t, "people.ndjson",
			`{"email":"dana@example.com","first_name":"Dana"}`+"\n"+
				`{"phone":"+966501112299","first_name":"Eid"}`+"\n"+
				`{"first_name":"Nameless"}`+"\n")
		errPath := filepath.Join(t.TempDir(), "rejected.csv")
		r := runImport(t, nil, e.getenv, file, "--no-progress", "--errors", errPath)
		r.wantCode(t, 3)
		r.count(t, "created", "2")
		r.count(t, "invalid", "1")
		recs := readCSV(t, errPath)
		if len(recs) != 2 || recs[0][0] != "original" || !strings.Contains(recs[1][0], "Nameless") {
			t.Errorf("NDJSON error CSV %q", recs)
		}
	})

	t.Run("messy customers file", func(t *testing.T) {
		t.Parallel()
		e := newImpEnv(t, false)
		file := filepath.Join("..", "..", "importer", "testdata", "messy-customers", "datablist_customers-100.csv")
		errPath := filepath.Join(t.TempDir(), "rejected.csv")
		r := runImport(t, nil, e.getenv, file, "--no-progress", "--errors", errPath, "--region", "us")
		if r.code != 0 && r.code != 3 {
			r.wantCode(t, 0)
		}
		r.count(t, "rows", "100")
		var s struct{ created, merged, invalid int }
		for _, m := range []struct {
			label string
			n     *int
		}{{"created", &s.created}, {"merged in file", &s.merged}, {"invalid", &s.invalid}} {
			match := regexp.MustCompile(`(?m)^\s+` + m.label + `\s+(\d+)$`).FindStringSubmatch(r.stdout)
			if match == nil {
				t.Fatalf("no %s in summary:\n%s", m.label, r.stdout)
			}
			*m.n = atoiOrFail(t, match[1])
		}
		if s.created+s.merged+s.invalid != 100 || s.created < 90 {
			t.Errorf("counts %+v do not add up to 100 rows:\n%s", s, r.stdout)
		}
		if got := e.customerTotal(); int(got) != s.created {
			t.Errorf("%v customers in the database, summary says %d created", got, s.created)
		}
		if (r.code == 3) != (s.invalid > 0) {
			t.Errorf("exit %d with %d invalid rows", r.code, s.invalid)
		}
		if s.invalid > 0 {
			recs := readCSV(t, errPath)
			if len(recs)-1 != s.invalid || recs[0][0] != "Index" || recs[0][len(recs[0])-1] != "error" {
				t.Errorf("error CSV: header %q, %d rows for %d invalid", recs[0], len(recs)-1, s.invalid)
			}
		}
	})

	t.Run("dry run", func(t *testing.T) {
		t.Parallel()
		e := newImpEnv(t, false)
		file := filepath.Join("..", "..", "importer", "testdata", "messy-customers", "datablist_people-1000.csv")
		r := runImport(t, nil, e.getenv, file, "--no-progress", "--dry-run")
		if r.code != 0 && r.code != 3 {
			r.wantCode(t, 0)
		}
		if !strings.HasPrefix(r.stdout, "Dry run imp_") || !strings.Contains(r.stdout, "nothing was written") {
			t.Errorf("dry-run summary:\n%s", r.stdout)
		}
		r.count(t, "rows", "1,000")
		if n := e.customerTotal(); n != 0 {
			t.Errorf("dry run wrote %v customers", n)
		}
	})

	t.Run("location and mapping", func(t *testing.T) {
		t.Parallel()
		e := newImpEnv(t, false)
		loc := &customer.Location{Name: "Riyadh Store"}
		if err := e.Store.CreateLocation(context.Background(), e.orgID, loc); err != nil {
			t.Fatal(err)
		}
		file := writeTemp(t, "pos.csv", "Kontakt,Vorname\nfay@example.com,Fay\n")
		r := runImport(t, nil, e.getenv, file, "--no-progress", "--location", loc.ID,
			"--mapping", `{"Kontakt":"email","Vorname":"first_name"}`)
		r.wantCode(t, 0)
		r.count(t, "created", "1")
		if c := e.lookup("fay@example.com"); c["first_name"] != "Fay" {
			t.Errorf("mapped customer %v", c)
		}
	})
}

// --preview shows how the server reads the file — each column's field, the
// first rows' problems — and imports nothing; a file the import would
// refuse exits 1 saying why.
func TestImportPreview(t *testing.T) {
	t.Parallel()
	e := newImpEnv(t, true)
	file := writeTemp(t, "shop.csv", "E-mail Address;Mobile;Given Name;Loyalty\nA@Example.com;(415) 555-0123;Ann;gold\nbad;;Bo;silver\n")
	r := runImport(t, nil, e.getenv, file, "--preview", "--region", "US").wantCode(t, 0)
	for _, want := range []string{`Preview of shop.csv: csv, utf-8, delimiter ";"`, "E-mail Address  email", "Mobile          phone",
		"Loyalty         (attribute)", "First 2 rows: 1 would be imported, 1 would not", "row 3 error"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("preview lacks %q:\n%s", want, r.stdout)
		}
	}
	if status, body := e.get("/api/v1/imports"); status != http.StatusOK || body["meta"].(map[string]any)["total"] != float64(0) {
		t.Errorf("imports after a preview: %d %v", status, body)
	}
	r = runImport(t, nil, e.getenv, writeTemp(t, "names.csv", "Name,City\nBob,Paris\n"), "--preview").wantCode(t, 1)
	if !strings.Contains(r.err.Error(), "the import would refuse this file: no column maps to email, phone or external_id") {
		t.Errorf("error %v", r.err)
	}
}

func atoiOrFail(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int(r-'0')
	}
	return n
}

func TestImportCommandFailures(t *testing.T) {
	t.Parallel()
	e := newImpEnv(t, true)
	file := writeTemp(t, "customers.csv", messyCSV)

	t.Run("bad key", func(t *testing.T) {
		t.Parallel()
		getenv := func(name string) string {
			if name == "LINKIT_API_KEY" {
				return "lk_wrong"
			}
			return e.getenv(name)
		}
		r := runImport(t, nil, getenv, file, "--no-progress").wantCode(t, 1)
		if !strings.Contains(r.err.Error(), "API key rejected (401): set LINKIT_API_KEY") {
			t.Errorf("401 message: %q", r.err)
		}
		// --api-key overrides the environment.
		runImport(t, nil, getenv, file, "--no-progress", "--api-key", "lk_also_wrong").wantCode(t, 1)
	})

	t.Run("unknown location", func(t *testing.T) {
		t.Parallel()
		r := runImport(t, nil, e.getenv, file, "--no-progress", "--location", "loc_missing").wantCode(t, 1)
		if !strings.Contains(r.err.Error(), "422") || !strings.Contains(r.err.Error(), "location_id") {
			t.Errorf("422 message: %q", r.err)
		}
	})

	t.Run("api unreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		dead := srv.URL
		srv.Close()
		r := runImport(t, nil, e.getenv, file, "--no-progress", "--api-url", dead).wantCode(t, 1)
		if !strings.Contains(r.err.Error(), "cannot reach the API at "+dead) {
			t.Errorf("network message: %q", r.err)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		r := runImport(t, nil, e.getenv, filepath.Join(t.TempDir(), "nope.csv")).wantCode(t, 1)
		if !strings.Contains(r.err.Error(), "nope.csv") {
			t.Errorf("missing file message: %q", r.err)
		}
	})

	t.Run("usage", func(t *testing.T) {
		t.Parallel()
		noKey := func(name string) string {
			if name == "LINKIT_API_KEY" {
				return ""
			}
			return e.getenv(name)
		}
		for _, c := range []struct {
			name   string
			getenv func(string) string
			args   []string
			want   string
		}{
			{"no file", e.getenv, nil, "FILE is required"},
			{"two files", e.getenv, []string{file, file}, "one FILE at a time"},
			{"unknown flag", e.getenv, []string{file, "--frobnicate"}, "frobnicate"},
			{"bad policy", e.getenv, []string{file, "--merge-policy", "yolo"}, "--merge-policy"},
			{"bad region", e.getenv, []string{file, "--region", "XX"}, "--region"},
			{"bad mapping", e.getenv, []string{file, "--mapping", "[1]"}, "--mapping"},
			{"bad url", e.getenv, []string{file, "--api-url", "localhost:8080"}, "--api-url"},
			{"no key", noKey, []string{file}, "LINKIT_API_KEY"},
		} {
			r := runImport(t, nil, c.getenv, c.args...)
			if r.code != 2 || !errors.Is(r.err, errUsage) || !strings.Contains(r.err.Error(), c.want) {
				t.Errorf("%s: exit %d, err %v; want exit 2 mentioning %q", c.name, r.code, r.err, c.want)
			}
			if c.name != "unknown flag" && !strings.Contains(r.stderr, "Exit codes:") {
				t.Errorf("%s: no import usage on stderr: %q", c.name, r.stderr)
			}
		}
		r := runImport(t, nil, e.getenv, "--help")
		if r.err != nil || !strings.Contains(r.stdout, "linkit import FILE") || !strings.Contains(r.stdout, "Exit codes:") {
			t.Errorf("--help: %v, %q", r.err, r.stdout)
		}
	})

	t.Run("cancelled on the server", func(t *testing.T) {
		t.Parallel()
		var errOut syncWriter
		done := make(chan error, 1)
		go func() {
			done <- run(context.Background(), []string{"import", file, "--no-progress"}, e.getenv, io.Discard, &errOut)
		}()
		id := waitImportID(t, &errOut)
		api, err := client.New(e.base, e.key)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := client.OK(api.CancelImportWithResponse(t.Context(), id)); err != nil || res.StatusCode() != http.StatusOK {
			t.Fatalf("cancel: %v %v", res, err)
		}
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("import command still watching a cancelled import")
		}
		if exitCode(err) != 1 || !strings.Contains(err.Error(), "import "+id+" was cancelled") {
			t.Fatalf("cancelled import: exit %d, err %v", exitCode(err), err)
		}
	})

	t.Run("interrupted while processing", func(t *testing.T) {
		t.Parallel()
		// No worker runs here, so the import stays processing until the
		// command is interrupted.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var errOut syncWriter
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"import", file, "--no-progress"}, e.getenv, io.Discard, &errOut)
		}()
		id := waitImportID(t, &errOut)
		cancel() // Ctrl-C
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("import did not stop after Ctrl-C")
		}
		if exitCode(err) != 130 || !strings.Contains(err.Error(), id) {
			t.Fatalf("interrupt: exit %d, err %v; stderr:\n%s", exitCode(err), err, errOut.String())
		}
		if !strings.Contains(errOut.String(), "/api/v1/imports/"+id) || !strings.Contains(errOut.String(), "goes on on the server") {
			t.Errorf("no way to check the import later:\n%s", errOut.String())
		}
		if status, body := e.get("/api/v1/imports/" + id); status != http.StatusOK || body["data"].(map[string]any)["status"] != "processing" {
			t.Errorf("import after interrupt: %d %v", status, body)
		}
	})
}

// waitImportID waits for the upload to be accepted and returns the import id.
func waitImportID(t *testing.T, errOut *syncWriter) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errOut.String(), "rows read") {
		if time.Now().After(deadline) {
			t.Fatalf("upload not accepted: %s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	id := regexp.MustCompile(`imp_[0-9a-z]+`).FindString(errOut.String())
	if id == "" {
		t.Fatalf("no import id in %q", errOut.String())
	}
	return id
}

// syncWriter is a buffer written by run's goroutine and read by the test.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// An organization with its share of uploads in progress is answered 429
// with Retry-After before any of the file is sent: linkit import waits
// that long and uploads when a slot is free.
func TestImportCommandWaitsForAnUploadSlot(t *testing.T) {
	t.Parallel()
	e := newImpEnv(t, false)
	var pipes []*io.PipeWriter
	for range 2 { // the organization's share (api.DefaultMaxUploadsPerOrg)
		pr, pw := io.Pipe()
		pipes = append(pipes, pw)
		req, _ := http.NewRequest(http.MethodPost, e.base+"/api/v1/imports", pr)
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", "Bearer "+e.key)
		go func() {
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}()
		go pw.Write([]byte("email\nslow@example.com\n")) // then nothing until closed
	}
	t.Cleanup(func() {
		for _, pw := range pipes {
			pw.Close()
		}
	})
	// Both uploads are in progress once the server waits for their bodies.
	time.Sleep(500 * time.Millisecond)
	file := writeTemp(t, "waiting.csv", "email\nwaited@example.com\n")
	done := make(chan importRun, 1)
	start := time.Now()
	go func() { done <- runImport(t, nil, e.getenv, file, "--no-progress") }()
	time.Sleep(2 * time.Second) // refused once by now
	for _, pw := range pipes {
		pw.Close() // the two uploads end: their slots are free
	}
	select {
	case r := <-done:
		r.wantCode(t, 0)
		if took := time.Since(start); took < 2*time.Second {
			t.Fatalf("imported in %v: the slots were not taken", took)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("linkit import did not upload once a slot was free")
	}
	var n int
	if err := e.Store.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM customers WHERE organization_id = $1 AND email = 'waited@example.com'`, e.orgID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("nothing imported: %d %v", n, err)
	}
}
