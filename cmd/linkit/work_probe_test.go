package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/linkittest"
)

// `linkit work` with LINKIT_WORKER_HTTP_ADDR answers probes and scrapes
// there, metrics behind the admin token like the API's.
func TestWorkServesProbes(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	addr := freeAddr(t)
	env["LINKIT_WORKER_HTTP_ADDR"] = addr
	startServer(t, env, "work")
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker /healthz not up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ready := linkittest.Call(t, "GET", base+"/readyz", "", nil).Want(t, http.StatusOK)
	if checks, _ := ready.Body["checks"].(map[string]any); checks["postgres"] != "ok" || checks["redis"] != "ok" {
		t.Fatalf("worker /readyz %s", ready.Raw)
	}
	linkittest.Call(t, "GET", base+"/metrics", "", nil).Want(t, http.StatusUnauthorized)
	metrics := linkittest.Call(t, "GET", base+"/metrics", "Bearer "+env["LINKIT_ADMIN_TOKEN"], nil).Want(t, http.StatusOK)
	for _, name := range []string{"linkit_upsert_duration_seconds", "linkit_import_chunk_duration_seconds", "go_goroutines"} {
		if !strings.Contains(metrics.Raw, name) {
			t.Errorf("worker /metrics lacks %s", name)
		}
	}
	// The API's routes are not served here.
	linkittest.Call(t, "GET", base+"/api/v1/customers", "", nil).Want(t, http.StatusNotFound)
}
