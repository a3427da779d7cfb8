package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// `linkit health` (the container HEALTHCHECK) exits 0 against a running
// server and 1 against a dead port, a failing /healthz or a server that
// never answers; LINKIT_WORKER_HTTP_ADDR wins over LINKIT_HTTP_ADDR.
func TestHealthCommand(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	startServer(t, env, "serve")
	health := func(env testEnv, args ...string) (string, int) {
		t.Helper()
		start := time.Now()
		out, errOut, err := runCmd(t, env, append([]string{"health"}, args...)...)
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("health %v took %s", args, d)
		}
		if err != nil {
			return errOut + err.Error(), exitCode(err)
		}
		return out, 0
	}

	if out, code := health(env); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("running server: exit %d, %q", code, out)
	}
	// A listen address of every interface is asked on loopback.
	_, port, _ := net.SplitHostPort(env["LINKIT_HTTP_ADDR"])
	if out, code := health(env, "--addr", ":"+port); code != 0 {
		t.Fatalf("--addr :%s: exit %d, %q", port, code, out)
	}

	dead := testEnv{"LINKIT_HTTP_ADDR": freeAddr(t)}
	if out, code := health(dead); code != 1 {
		t.Fatalf("dead port: exit %d, %q; want 1", code, out)
	}
	// The worker's address, when set, is the one asked.
	worker := testEnv{"LINKIT_HTTP_ADDR": dead["LINKIT_HTTP_ADDR"], "LINKIT_WORKER_HTTP_ADDR": env["LINKIT_HTTP_ADDR"]}
	if out, code := health(worker); code != 0 {
		t.Fatalf("LINKIT_WORKER_HTTP_ADDR of a running server: exit %d, %q", code, out)
	}

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "draining", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	if out, code := health(testEnv{}, "--addr", failing.Listener.Addr().String()); code != 1 || !strings.Contains(out, "503") {
		t.Fatalf("503 /healthz: exit %d, %q; want 1 naming 503", code, out)
	}

	// Accepts and never answers: the timeout decides.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	if out, code := health(testEnv{}, "--addr", hung.Addr().String(), "--timeout", "300ms"); code != 1 {
		t.Fatalf("hung server: exit %d, %q; want 1", code, out)
	}
	if _, code := health(testEnv{}, "--timeout", "soon"); code != 2 {
		t.Fatalf("bad flag: exit %d, want 2", code)
	}
}
