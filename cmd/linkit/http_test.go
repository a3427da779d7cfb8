package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// An idle keep-alive connection is closed after LINKIT_HTTP_IDLE_TIMEOUT,
// and a request line longer than LINKIT_HTTP_MAX_HEADER_KB is refused.
func TestHTTPConnectionLimits(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env["LINKIT_HTTP_IDLE_TIMEOUT"] = "300ms"
	env["LINKIT_HTTP_MAX_HEADER_KB"] = "8"
	startServer(t, env, "serve")

	conn, err := net.Dial("tcp", env["LINKIT_HTTP_ADDR"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: linkit\r\n\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Close {
		t.Fatalf("healthz: status %d, close %v; want 200 on a kept-alive connection", res.StatusCode, res.Close)
	}
	start := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection not closed: %v", err)
	}
	if idle := time.Since(start); idle > 3*time.Second {
		t.Fatalf("idle connection closed after %s, want about 300ms", idle)
	}

	method := strings.Repeat("X", 16<<10)
	req, _ := http.NewRequest(method, env.baseURL()+"/healthz", nil)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("16 KB method: status %d, want 431", res.StatusCode)
	}
}
