package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.doKey("", "GET", "/api/v1/customers", nil).wantError(t, http.StatusUnauthorized)
	e.doKey("lk_nope_nope", "GET", "/api/v1/customers", nil).wantError(t, http.StatusUnauthorized)
	e.doKey("garbage", "GET", "/api/v1/customers", nil).wantError(t, http.StatusUnauthorized)
	// A right key id with a wrong secret.
	wrong := e.key[:strings.LastIndex(e.key, "_")+1] + strings.Repeat("0", 48)
	e.doKey(wrong, "GET", "/api/v1/customers", nil).wantError(t, http.StatusUnauthorized)

	e.do("GET", "/api/v1/customers", nil, "X-Organization-ID", e.org).want(t, http.StatusOK)
	e.do("GET", "/api/v1/customers", nil, "X-Organization-ID", "org_123").wantError(t, http.StatusForbidden)

	// Only a hash of the secret is stored.
	var stored int
	secret := e.key[strings.LastIndex(e.key, "_")+1:]
	if err := e.store.Pool().QueryRow(context.Background(),
		"SELECT count(*) FROM api_keys WHERE encode(secret_hash, 'escape') LIKE '%' || $1 || '%'", secret).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Fatal("api key secret stored in clear")
	}
}

func TestRevokedKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k, err := e.store.CreateAPIKey(context.Background(), e.org)
	if err != nil {
		t.Fatal(err)
	}
	e.doKey(k.Secret, "GET", "/api/v1/customers", nil).want(t, http.StatusOK)
	if _, err := e.store.RevokeAPIKey(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	e.doKey(k.Secret, "GET", "/api/v1/customers", nil).wantError(t, http.StatusUnauthorized)
	e.do("GET", "/api/v1/customers", nil).want(t, http.StatusOK) // other keys keep working
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.createCustomer(map[string]any{"email": "secret@example.com", "phone": "+14155550111", "first_name": "Hidden"})
	id := str(a["id"])
	addr := e.do("POST", "/api/v1/customers/"+id+"/addresses", map[string]any{"label": "Home", "address_line1": "1 St", "city": "C", "state": "S", "country": "US"}).
		want(t, http.StatusCreated).data()
	_, keyB := e.newOrg("Org B", "")

	e.doKey(keyB, "GET", "/api/v1/customers/"+id, nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "PUT", "/api/v1/customers/"+id, map[string]any{"first_name": "X", "last_name": "Y", "email": "x@example.com"}).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "PATCH", "/api/v1/customers/"+id, map[string]any{"first_name": "X"}).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "DELETE", "/api/v1/customers/"+id, nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "GET", "/api/v1/customers/"+id+"/addresses", nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "POST", "/api/v1/customers/"+id+"/addresses", map[string]any{"label": "H", "address_line1": "1", "city": "C", "state": "S", "country": "US"}).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "DELETE", "/api/v1/customers/"+id+"/addresses/"+str(addr["id"]), nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "GET", "/api/v1/customers/lookup?email=secret@example.com", nil).wantError(t, http.StatusNotFound)
	e.doKey(keyB, "GET", "/api/v1/customers/lookup?phone=%2B14155550111", nil).wantError(t, http.StatusNotFound)
	if res := e.doKey(keyB, "GET", "/api/v1/customers?search=hidden", nil).want(t, http.StatusOK); res.meta()["total"] != float64(0) {
		t.Fatalf("org B sees org A in list: %s", res.Raw)
	}
	if res := e.doKey(keyB, "POST", "/api/v1/customers/search", map[string]any{"query": "secret"}).want(t, http.StatusOK); len(res.list()) != 0 {
		t.Fatalf("org B sees org A in search: %s", res.Raw)
	}
	// Org A's record is untouched.
	if got := e.do("GET", "/api/v1/customers/"+id, nil).want(t, http.StatusOK).data(); got["first_name"] != "Hidden" {
		t.Fatalf("org A customer changed: %v", got)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.doKey("", "GET", "/healthz", nil).want(t, http.StatusOK)
	res := e.doKey("", "GET", "/readyz", nil).want(t, http.StatusOK)
	if checks, _ := res.Body["checks"].(map[string]any); checks["postgres"] != "ok" {
		t.Fatalf("readyz %s", res.Raw)
	}
	if res.Header.Get("X-Request-ID") == "" {
		t.Fatal("no X-Request-ID")
	}
	if got := e.doKey("", "GET", "/healthz", nil, "X-Request-ID", "abc-123").Header.Get("X-Request-ID"); got != "abc-123" {
		t.Fatalf("X-Request-ID not echoed: %q", got)
	}
}
