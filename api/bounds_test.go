package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/linkittest"
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
