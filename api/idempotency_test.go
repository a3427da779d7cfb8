package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// wantReplay checks that again is first replayed: same status, body and
// Location, and the replay header.
func wantReplay(t *testing.T, first, again response) {
	t.Helper()
	if again.Status != first.Status || again.Raw != first.Raw {
		t.Fatalf("replay = %d %s,\nfirst  = %d %s", again.Status, again.Raw, first.Status, first.Raw)
	}
	if again.Header.Get("Location") != first.Header.Get("Location") {
		t.Fatalf("replay Location %q, first %q", again.Header.Get("Location"), first.Header.Get("Location"))
	}
	if again.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("Idempotent-Replayed: first %q, replay %q", first.Header.Get("Idempotent-Replayed"), again.Header.Get("Idempotent-Replayed"))
	}
}

func TestIdempotencyKeyReplaysTheFirstAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := map[string]any{"first_name": "Idem", "last_name": "Potent", "email": "idem@example.com"}
	first := e.do("POST", "/api/v1/customers", body, "Idempotency-Key", "create-1").want(t, http.StatusCreated)
	id := str(first.data()["id"])
	// The customer changes; the replay is still the first answer.
	e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"first_name": "Changed"}).want(t, http.StatusOK)
	wantReplay(t, first, e.do("POST", "/api/v1/customers", body, "Idempotency-Key", "create-1"))
	if n := e.count(`SELECT count(*) FROM customers WHERE organization_id = $1`, e.org); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
	// The same key with another body.
	body["email"] = "idem2@example.com"
	e.do("POST", "/api/v1/customers", body, "Idempotency-Key", "create-1").wantError(t, http.StatusUnprocessableEntity, "Idempotency-Key")
	// Keys are per organization.
	_, otherKey := e.newOrg("Other Idem", "US")
	e.doKey(otherKey, "POST", "/api/v1/customers", body, "Idempotency-Key", "create-1").want(t, http.StatusCreated)
	// A final refusal is an answer too: replayed, nothing done.
	bad := map[string]any{"first_name": "No", "last_name": "Contact"}
	refused := e.do("POST", "/api/v1/customers", bad, "Idempotency-Key", "create-bad").wantError(t, http.StatusUnprocessableEntity)
	wantReplay(t, refused, e.do("POST", "/api/v1/customers", bad, "Idempotency-Key", "create-bad"))
	// Without a key, nothing is remembered.
	e.do("POST", "/api/v1/customers", map[string]any{"first_name": "No", "last_name": "Key", "email": "nokey@example.com"}).want(t, http.StatusCreated)
	e.do("POST", "/api/v1/customers", map[string]any{"first_name": "No", "last_name": "Key", "email": "nokey@example.com"}).want(t, http.StatusConflict)
}

// TestIdempotencyKeyOnEveryCreatingPOST: each creating route replays its
// first answer, and creates one row.
func TestIdempotencyKeyOnEveryCreatingPOST(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cust := str(e.createCustomer(map[string]any{"email": "owner-idem@example.com"})["id"])
	loc := str(e.createLocation(map[string]any{"name": "Idem Store", "region": "US"})["id"])
	for _, tc := range []struct {
		name, path string
		body       map[string]any
		count      string
	}{
		{"group", "/api/v1/customer-groups", map[string]any{"name": "Idem Group"}, `SELECT count(*) FROM customer_groups WHERE organization_id = $1`},
		{"location", "/api/v1/locations", map[string]any{"name": "Idem Location", "region": "US"}, `SELECT count(*) FROM locations WHERE organization_id = $1`},
		{"address", "/api/v1/customers/" + cust + "/addresses", map[string]any{"label": "Home", "address_line1": "1 St", "city": "C", "state": "S", "country": "US"},
			`SELECT count(*) FROM customer_addresses WHERE organization_id = $1`},
		{"contact", "/api/customers/" + cust + "/contacts", map[string]any{"name": "Con Idem", "email": "con-idem@example.com"}, `SELECT count(*) FROM customer_contacts WHERE organization_id = $1`},
		{"order", "/api/v1/orders", map[string]any{"customer_id": cust, "order_number": "IDEM-1", "total_amount": 5}, `SELECT count(*) FROM orders WHERE organization_id = $1`},
		{"ERP customer", "/api/customers", map[string]any{"name": "Erp Idem", "email": "erp-idem@example.com"}, `SELECT count(*) FROM customers WHERE organization_id = $1`},
		{"location customer", "/api/v1/locations/" + loc + "/customers", map[string]any{"name": "Scoped Idem", "email": "scoped-idem@example.com"},
			`SELECT count(*) FROM customers WHERE organization_id = $1`},
	} {
		before := e.count(tc.count, e.org)
		first := e.do("POST", tc.path, tc.body, "Idempotency-Key", "every-"+tc.name).want(t, http.StatusCreated)
		wantReplay(t, first, e.do("POST", tc.path, tc.body, "Idempotency-Key", "every-"+tc.name))
		if n := e.count(tc.count, e.org); n != before+1 {
			t.Errorf("%s: %d rows after two posts, want %d", tc.name, n, before+1)
		}
	}
	// The location-scoped API names the key in its own error shape.
	res := e.do("POST", "/api/v1/locations/"+loc+"/customers", map[string]any{"name": "Other"}, "Idempotency-Key", "every-location customer").
		want(t, http.StatusUnprocessableEntity)
	if errs, _ := res.Body["errors"].(map[string]any); res.Body["success"] != false || errs["Idempotency-Key"] == nil {
		t.Fatalf("seed 004 error: %s", res.Raw)
	}
}

// TestIdempotencyKeyConcurrentRetries: requests with one key at once do the
// work once and all answer it.
func TestIdempotencyKeyConcurrentRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := map[string]any{"first_name": "Race", "last_name": "Idem", "email": "race-idem@example.com"}
	answers := make([]response, 8)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = e.do("POST", "/api/v1/customers", body, "Idempotency-Key", "race-1")
		}()
	}
	wg.Wait()
	replayed := 0
	for _, a := range answers {
		if a.Status != http.StatusCreated || a.Raw != answers[0].Raw {
			t.Fatalf("answers differ: %d %s / %d %s", a.Status, a.Raw, answers[0].Status, answers[0].Raw)
		}
		if a.Header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	if replayed != len(answers)-1 {
		t.Fatalf("%d replays, want %d", replayed, len(answers)-1)
	}
	if n := e.count(`SELECT count(*) FROM customers WHERE organization_id = $1`, e.org); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
}

// TestUpsertIdempotencyReplaysTheFirstCustomer: the upsert's replay is its
// first answer, not the customer as it is now.
func TestUpsertIdempotencyReplaysTheFirstCustomer(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	body := map[string]any{"name": "Ups Idem", "email": "ups-idem@example.com"}
	first := e.do("POST", "/api/v1/customers/upsert", body, "Idempotency-Key", "ups-1").want(t, http.StatusCreated)
	e.do("PATCH", "/api/v1/customers/"+str(first.data()["id"]), map[string]any{"company_name": "Later Inc"}).want(t, http.StatusOK)
	again := e.do("POST", "/api/v1/customers/upsert", body, "Idempotency-Key", "ups-1")
	wantReplay(t, first, again)
	if strings.Contains(again.Raw, "Later Inc") {
		t.Fatalf("replay shows the later change: %s", again.Raw)
	}
	// A 202 is not final: the retry with the key gets the job's result.
	acc := e.do("POST", "/api/v1/customers/upsert?wait=0", map[string]any{"name": "Async Idem", "email": "async-idem@example.com"},
		"Idempotency-Key", "ups-2").want(t, http.StatusAccepted)
	if acc.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first answer marked as a replay")
	}
	res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"name": "Async Idem", "email": "async-idem@example.com"},
		"Idempotency-Key", "ups-2")
	if res.Status != http.StatusCreated && res.Status != http.StatusAccepted {
		t.Fatalf("retry after 202: %d %s", res.Status, res.Raw)
	}
}

// TestUpsertRetryJoinsAPendingKey: the first request's API process died
// with its key claimed and unanswered; a retry on another process must not
// wait out the claim (409 for minutes) — the upsert joins its job.
func TestUpsertRetryJoinsAPendingKey(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	body := map[string]any{"name": "Pending Key", "email": "pending-key@example.com"}
	first := e.do("POST", "/api/v1/customers/upsert", body, "Idempotency-Key", "ups-dead").want(t, http.StatusCreated)
	// As the dead process left it: claimed, never answered.
	if _, err := e.store.Pool().Exec(context.Background(),
		"UPDATE idempotency_keys SET status = NULL, location = NULL, body = NULL WHERE key = 'ups-dead'"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	again := e.do("POST", "/api/v1/customers/upsert", body, "Idempotency-Key", "ups-dead").want(t, http.StatusCreated)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the retry waited %v for a claim nobody will answer", d)
	}
	if first.data()["id"] != again.data()["id"] {
		t.Errorf("retry answered another customer: %s vs %s", first.Raw, again.Raw)
	}
	if n := e.count("SELECT count(*) FROM jobs WHERE idempotency_key = 'ups-dead'"); n != 1 {
		t.Errorf("%d jobs for one key, want 1", n)
	}
	// The retry's answer is stored: a third request is a replay.
	third := e.do("POST", "/api/v1/customers/upsert", body, "Idempotency-Key", "ups-dead").want(t, http.StatusCreated)
	if third.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("third request not a replay: %v", third.Header)
	}
}
