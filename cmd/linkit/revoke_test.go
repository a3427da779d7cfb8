package main

import (
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/linkittest"
)

// Two API processes cache keys for 10 s; `linkit key revoke`, a third
// process, makes both refuse the key within a second.
func TestKeyRevokeReachesEveryProcess(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env["LINKIT_AUTH_CACHE_TTL"] = "10s"
	other := maps.Clone(env)
	other["LINKIT_HTTP_ADDR"] = freeAddr(t)
	startServer(t, env, "serve")
	startServer(t, other, "serve")
	k := createOrg(t, env, "Revoke Shop")
	bearer := "Bearer " + k.APIKey
	for _, base := range []string{env.baseURL(), other.baseURL()} {
		linkittest.Call(t, "GET", base+"/api/v1/customers", bearer, nil).Want(t, http.StatusOK) // now cached
	}

	out, errOut, err := runCmd(t, env, "key", "revoke", k.KeyID)
	if err != nil || !strings.Contains(out, "revoked") || errOut != "" {
		t.Fatalf("key revoke: %v; stdout %q; stderr %q", err, out, errOut)
	}
	deadline := time.Now().Add(time.Second)
	for _, base := range []string{other.baseURL(), env.baseURL()} {
		for {
			status := linkittest.Call(t, "GET", base+"/api/v1/customers", bearer, nil).Status
			if status == http.StatusUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still answers %d to the revoked key a second later", base, status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
