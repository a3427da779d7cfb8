package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// dial opens a raw connection to the env's server, for clients that
// net/http will not imitate (slow, stalled, malformed).
func (e *env) dial() net.Conn {
	e.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	return conn
}

// readAnswer reads one response from conn within 5 s and decodes its body.
func readAnswer(t *testing.T, br *bufio.Reader, conn net.Conn) response {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{linkittest.Response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// A client that stops sending its body is answered 408 and disconnected
// once the read timeout passes, instead of holding the connection forever.
func TestSlowBodyCutOff(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, api.Config{ReadTimeout: 300 * time.Millisecond})
	conn := e.dial()
	fmt.Fprintf(conn, "POST /api/v1/customers HTTP/1.1\r\nHost: linkit\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"first_name\":", e.key)
	start := time.Now()
	br := bufio.NewReader(conn)
	readAnswer(t, br, conn).wantError(t, http.StatusRequestTimeout)
	if waited := time.Since(start); waited > 3*time.Second {
		t.Fatalf("answered after %s, want about the 300ms read timeout", waited)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection still open after the timeout: %v", err)
	}
}

// An upload is exempt from the read timeout of ordinary requests: a file
// that pauses longer than it between its parts is still read whole.
func TestUploadOutlastsReadTimeout(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, api.Config{ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	file := "first_name,last_name,email\nAda,Lovelace,ada@example.com\nAlan,Turing,alan@example.com\n"
	conn := e.dial()
	fmt.Fprintf(conn, "POST /api/v1/imports/preview HTTP/1.1\r\nHost: linkit\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: text/csv\r\nContent-Length: %d\r\n\r\n%s", e.key, len(file), file[:30])
	time.Sleep(700 * time.Millisecond)
	fmt.Fprint(conn, file[30:])
	res := readAnswer(t, bufio.NewReader(conn), conn).want(t, http.StatusOK)
	if rows, _ := res.data()["rows"].([]any); len(rows) != 2 {
		t.Fatalf("preview read %d rows, want 2; body: %s", len(rows), res.Raw)
	}
}

// Answers that may carry personal data are neither cached nor sniffed,
// errors included.
func TestResponsesNotCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.createCustomer(map[string]any{"email": "nocache@example.com"})
	for _, res := range []response{
		e.do("GET", "/api/v1/customers/"+str(c["id"]), nil).want(t, http.StatusOK),
		e.do("GET", "/api/v1/customers/lookup?email=nocache@example.com", nil).want(t, http.StatusOK),
		e.do("GET", "/api/v1/nowhere", nil).want(t, http.StatusNotFound),
		e.doKey("", "GET", "/api/v1/customers", nil).want(t, http.StatusUnauthorized),
	} {
		if got := res.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", got)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
		}
	}
}

// Methods are the client's to choose: hundreds of distinct long ones leave
// /metrics with a bounded number of short series and the access log with
// short lines that do not repeat them.
func TestGarbageMethodsBounded(t *testing.T) {
	t.Parallel()
	store := postgrestest.New(t)
	logs := &lockedBuffer{}
	h := api.NewServer(api.Config{MetricsPublic: true},
		api.Deps{Store: store, Log: slog.New(slog.NewJSONHandler(logs, nil))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	junk := strings.Repeat("Z", 2000)
	for i := range 300 {
		method := fmt.Sprintf("M%d%s", i, junk)
		for _, path := range []string{"/api/v1/customers", "/monitoring/", "/nowhere"} {
			req, _ := http.NewRequest(method, srv.URL+path, nil)
			req.Header.Set("X-Request-ID", "<"+junk+">")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if strings.Contains(res.Header.Get("X-Request-ID"), junk) {
				t.Fatalf("X-Request-ID echoed a %d-byte value", len(res.Header.Get("X-Request-ID")))
			}
		}
	}

	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	series := 0
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "linkit_http_requests_total{") {
			series++
		}
		if len(line) > 300 {
			t.Fatalf("/metrics line of %d bytes: %.200s…", len(line), line)
		}
	}
	if series == 0 || series > 10 {
		t.Fatalf("/metrics has %d request series after 900 requests with distinct methods, want 1–10", series)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) < 900 {
		t.Fatalf("%d log lines, want one per request", len(lines))
	}
	for _, line := range lines {
		if len(line) > 500 || strings.Contains(line, junk) {
			t.Fatalf("log line of %d bytes carries the request's junk: %.200s…", len(line), line)
		}
	}
}

// NUL bytes and invalid UTF-8, which PostgreSQL refuses in text, are the
// client's mistake wherever they come: 400 or 422 naming the part, never 500.
func TestUnstorableText(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.createCustomer(map[string]any{"email": "text@example.com"})
	id := str(c["id"])

	for _, tc := range []struct {
		method, path string
		status       int
		field        string
	}{
		{"GET", "/api/v1/customers/%00", 400, "path"},
		{"GET", "/api/customers/ab%FFcd", 400, "path"},
		{"DELETE", "/api/v1/customers/" + id + "/tags/vip%00", 400, "path"},
		{"GET", "/api/v1/customers?search=ada%00", 422, "search"},
		{"GET", "/api/v1/customers?tag=%FF%FE", 422, "tag"},
		{"GET", "/api/v1/customers/lookup?email=a%00@example.com", 422, "email"},
		{"GET", "/api/v1/customers?%FF=1", 422, "query"},
	} {
		e.do(tc.method, tc.path, nil).wantError(t, tc.status, tc.field)
	}

	e.doKey("Bearer-less\xff", "GET", "/api/v1/customers", nil).wantError(t, 400, "Authorization")
	e.doKey("lk_\xff\xfe", "GET", "/api/v1/customers", nil).wantError(t, 400, "Authorization")
	e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "text@example.com"},
		"Idempotency-Key", "key-\xc3\x28").wantError(t, 400, "Idempotency-Key")

	// A NUL in a header never reaches a handler (net/http or we refuse it).
	conn := e.dial()
	fmt.Fprintf(conn, "GET /api/v1/customers HTTP/1.1\r\nHost: linkit\r\nAuthorization: Bearer %s\x00\r\n\r\n", e.key)
	if res := readAnswer(t, bufio.NewReader(conn), conn); res.Status != http.StatusBadRequest {
		t.Fatalf("NUL in Authorization: status %d, want 400", res.Status)
	}

	for _, tc := range []struct {
		body, field string
	}{
		{`{"first_name": "Ada\u0000", "last_name": "L"}`, "first_name"},
		{"{\"first_name\": \"Ada\", \"last_name\": \"L\xff\xfeo\"}", "last_name"},
		{`{"first_name": "Ada", "last_name": "L", "addresses": [{"address_line1": "1 Main St", "city": "X"}, {"address_line1": "2 Main St", "city": "Y\u0000"}]}`, "addresses[1].city"},
		{`{"first_name": "Ada", "last_name": "L", "tags": ["ok", "b\u0000d"]}`, "tags[1]"},
		{`{"first_name": "Ada", "last_name": "L", "attributes": {"k\u0000": "v"}}`, "attributes"},
	} {
		e.do("POST", "/api/v1/customers", tc.body).wantError(t, 422, tc.field)
	}
	e.do("PATCH", "/api/v1/customers/"+id, `{"first_name": "A\u0000"}`, "Content-Type", "application/merge-patch+json").
		wantError(t, 422, "first_name")
	e.do("POST", "/api/v1/customers/upsert", `{"email": "nul\u0000@example.com"}`).wantError(t, 422, "email")

	// Location-scoped routes answer in their own error shape.
	res := e.do("GET", "/api/v1/locations/"+id+"/customers?search=%00", nil).want(t, 422)
	if res.Body["success"] != false {
		t.Fatalf("scoped route: body %s, want success false", res.Raw)
	}
}

// Members that differ only in case are one member to the decoder, which
// kept the last silently; now the body is refused naming the repeat. Free-
// form objects (attributes) keep keys that differ in case apart.
func TestRepeatedMembersRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("POST", "/api/v1/customers", `{"first_name": "Ada", "last_name": "L", "email": "ada@example.com", "First_Name": "Eve"}`).
		wantError(t, 422, "First_Name")
	e.do("POST", "/api/v1/customers", `{"first_name": "Ada", "last_name": "L", "email": "a@example.com", "email": "b@example.com"}`).
		wantError(t, 422, "email")
	e.do("POST", "/api/v1/customers", `{"first_name": "Ada", "last_name": "L", "email": "ada@example.com", "addresses": [{"address_line1": "1 Main", "CITY": "A", "city": "B"}]}`).
		wantError(t, 422, "addresses[0].city")
	e.do("POST", "/api/v1/customers/upsert", `{"email": "a@example.com", "EMAIL": "b@example.com"}`).
		wantError(t, 422, "EMAIL")
	e.do("POST", "/api/v1/customers", `{"first_name": "Ada", "last_name": "L", "email": "ada@example.com", "attributes": {"size": "m", "Size": "L", "size": "s"}}`).
		wantError(t, 422, "attributes.size")

	c := e.do("POST", "/api/v1/customers", `{"first_name": "Ada", "last_name": "L", "email": "ada@example.com", "attributes": {"size": "m", "Size": "L"}}`).
		want(t, http.StatusCreated).data()
	if attrs, _ := c["attributes"].(map[string]any); attrs["size"] != "m" || attrs["Size"] != "L" {
		t.Fatalf("attributes = %v, want both size and Size", c["attributes"])
	}
}

// sort is validated case-insensitively and now also applied so: NAME sorts
// by name like name does.
func TestSortCaseInsensitive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"Mia", "Zed", "Amy"} {
		e.createCustomer(map[string]any{"first_name": name, "email": strings.ToLower(name) + "@example.com"})
	}
	for _, tc := range []struct{ sort, want string }{{"NAME", "Amy,Mia,Zed"}, {" -Name", "Zed,Mia,Amy"}} {
		var names []string
		for _, c := range e.do("GET", "/api/v1/customers?sort="+url.QueryEscape(tc.sort), nil).want(t, http.StatusOK).list() {
			names = append(names, str(c["first_name"]))
		}
		if strings.Join(names, ",") != tc.want {
			t.Errorf("sort=%q: %v, want %s", tc.sort, names, tc.want)
		}
	}
}
