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
