package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/worker"
)

// receiver is a webhook endpoint on loopback that verifies every request
// with the Standard Webhooks library and records what it accepted.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	fail   int // answer 500 to this many requests first
	calls  []call
}

type call struct {
	id     string
	status int
	body   map[string]any
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(rc.secret)
		if err != nil {
			t.Errorf("secret %q: %v", rc.secret, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := wh.Verify(raw, r.Header); err != nil {
			t.Errorf("signature of %s: %v", r.Header.Get("webhook-id"), err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		c := call{id: r.Header.Get("webhook-id"), status: http.StatusOK}
		_ = json.Unmarshal(raw, &c.body)
		if rc.fail > 0 {
			rc.fail--
			c.status = http.StatusInternalServerError
		}
		rc.calls = append(rc.calls, c)
		w.WriteHeader(c.status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// delivered lists the events answered 200, in arrival order.
func (rc *receiver) delivered() []call {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []call
	for _, c := range rc.calls {
		if c.status == http.StatusOK {
			out = append(out, c)
		}
	}
	return out
}

// waitFor polls until n events are delivered, then waits a little more
// for any that should not come.
func (rc *receiver) waitFor(n int) []call {
	rc.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(rc.delivered()) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(700 * time.Millisecond)
	got := rc.delivered()
	if len(got) != n {
		rc.t.Fatalf("%d events delivered, want %d: %v", len(got), n, types(got))
	}
	return got
}

func types(calls []call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, fmt.Sprint(c.body["type"]))
	}
	return out
}

// webhookStack runs the service with loopback targets allowed and fast
// retries.
func webhookStack(t *testing.T) *linkittest.Stack {
	return linkittest.New(t, linkittest.WithAPI(api.Config{WebhooksAllowPrivate: true}),
		linkittest.WithWorker(worker.Config{WebhooksAllowPrivate: true, WebhookPoll: 50 * time.Millisecond,
			WebhookRetryDelays: []time.Duration{200 * time.Millisecond}, WebhookRequeueAge: time.Second}))
}

func subscribe(t *testing.T, s *linkittest.Stack, rc *receiver, events ...string) string {
	t.Helper()
	res := s.Do("POST", "/api/v1/webhooks", map[string]any{"url": rc.srv.URL + "/hook", "events": events,
		"description": "test receiver"}).Want(t, http.StatusCreated)
	d := res.Data()
	secret, _ := d["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || !strings.HasSuffix(res.Header.Get("Location"), "/api/v1/webhooks/"+d["id"].(string)) {
		t.Fatalf("created webhook: %s (Location %q)", res.Raw, res.Header.Get("Location"))
	}
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
	return d["id"].(string)
}

// TestWebhookEvents: every committed change is delivered once, signed, with
// the customer or import and why; rolled-back writes send nothing.
func TestWebhookEvents(t *testing.T) {
	t.Parallel()
	s := webhookStack(t)
	rc := newReceiver(t)
	hook := subscribe(t, s, rc, "*")
	if got := s.Do("GET", "/api/v1/webhooks/"+hook, nil).Want(t, http.StatusOK); strings.Contains(got.Raw, "whsec_") {
		t.Fatalf("GET shows the secret: %s", got.Raw)
	}

	a := s.Do("POST", "/api/v1/customers", map[string]any{"first_name": "Hala", "last_name": "Webb", "email": "hala.webhook@example.com"}).
		Want(t, http.StatusCreated).Data()["id"].(string)
	// Rolled back: a conflict and a validation error write nothing.
	s.Do("POST", "/api/v1/customers", map[string]any{"first_name": "Hala", "last_name": "Webb", "email": "hala.webhook@example.com"}).Want(t, http.StatusConflict)
	s.Do("POST", "/api/v1/customers", map[string]any{"first_name": "Hala", "last_name": "Webb", "email": "not-an-email"}).Want(t, http.StatusUnprocessableEntity)
	up := s.Do("POST", "/api/v1/customers/upsert", map[string]any{"email": "hala.webhook@example.com", "company_name": "Webb Co", "source": "pos"}).
		Want(t, http.StatusOK)
	jobID := up.Meta()["job_id"]
	got := rc.waitFor(2)
	if got[0].body["type"] == "customer.updated" { // delivered in parallel: either may come first
		got[0], got[1] = got[1], got[0]
	}
	if got[0].body["type"] != "customer.created" || got[1].body["type"] != "customer.updated" {
		t.Fatalf("events %v", types(got))
	}
	data := got[1].body["data"].(map[string]any)
	why := data["why"].(map[string]any)
	if data["customer"].(map[string]any)["id"] != a || why["source"] != "pos" || why["job_id"] != jobID || why["rule"] != "email" {
		t.Fatalf("update event: %v", got[1].body)
	}
	if got[0].id == got[1].id || !strings.HasPrefix(got[0].id, "msg_") {
		t.Fatalf("message ids %q %q", got[0].id, got[1].id)
	}

	// Merge, unmerge, delete.
	b := s.Do("POST", "/api/v1/customers", map[string]any{"first_name": "Hala", "last_name": "Webb", "phone": "+14155550142"}).
		Want(t, http.StatusCreated).Data()["id"].(string)
	s.Do("POST", "/api/v1/customers/"+a+"/merge", map[string]any{"source_ids": []string{b}}).Want(t, http.StatusOK)
	s.Do("POST", "/api/v1/customers/"+a+"/unmerge", map[string]any{"source_id": b}).Want(t, http.StatusOK)
	s.Do("DELETE", "/api/v1/customers/"+b, nil).Want(t, http.StatusNoContent)
	// The merge also updates the survivor with the fields it took over.
	got = rc.waitFor(2 + 1 + 3 + 2 + 1)
	count := map[string]int{}
	for _, c := range got[2:] {
		count[c.body["type"].(string)]++
	}
	if count["customer.created"] != 1 || count["customer.merged"] != 2 || count["customer.updated"] != 1 || count["customer.unmerged"] != 2 || count["customer.deleted"] != 1 {
		t.Fatalf("events %v", types(got))
	}
	// Deliveries run in parallel: find the deletion wherever it arrived.
	for _, c := range got {
		if c.body["type"] != "customer.deleted" {
			continue
		}
		if gone := c.body["data"].(map[string]any)["customer"].(map[string]any); gone["id"] != b || gone["deleted"] != true {
			t.Fatalf("deleted event: %v", c.body)
		}
	}

	// An import: one customer.created per new row and import.completed.
	im := s.ImportCSV("/api/v1/imports", []byte("first_name,last_name,email\nIman,Nasser,iman.webhook@example.com\nOmar,Farouk,omar.webhook@example.com\n"))
	got = rc.waitFor(9 + 3)
	count = map[string]int{}
	for _, c := range got[9:] {
		count[c.body["type"].(string)]++
		if c.body["type"] == "import.completed" && c.body["data"].(map[string]any)["import"].(map[string]any)["id"] != im["id"] {
			t.Fatalf("import event: %v", c.body)
		}
		if c.body["type"] == "customer.created" && c.body["data"].(map[string]any)["why"].(map[string]any)["import_id"] != im["id"] {
			t.Fatalf("imported customer event: %v", c.body)
		}
	}
	if count["customer.created"] != 2 || count["import.completed"] != 1 {
		t.Fatalf("import events %v", types(got[9:]))
	}

	// Disabled, the webhook receives nothing.
	s.Do("PATCH", "/api/v1/webhooks/"+hook, map[string]any{"enabled": false}).Want(t, http.StatusOK)
	s.Do("POST", "/api/v1/customers", map[string]any{"first_name": "Nadia", "last_name": "Aziz", "email": "nadia.webhook@example.com"}).Want(t, http.StatusCreated)
	rc.waitFor(12)
	log := s.Do("GET", "/api/v1/webhooks/"+hook+"/deliveries?limit=100", nil).Want(t, http.StatusOK)
	if n := len(log.List()); n != 12 || log.Meta()["total"] != float64(12) {
		t.Fatalf("delivery log has %d attempts: %s", n, log.Raw)
	}
}

// TestWebhookRetries: a receiver answering 500 gets the same message again
// until it answers 200; the log shows every attempt.
func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	s := webhookStack(t)
	rc := newReceiver(t)
	rc.fail = 2
	hook := subscribe(t, s, rc, "customer.created")
	s.Do("POST", "/api/v1/customers", map[string]any{"first_name": "Rami", "last_name": "Saad", "email": "rami.retry@example.com"}).Want(t, http.StatusCreated)
	got := rc.waitFor(1)
	rc.mu.Lock()
	calls := append([]call(nil), rc.calls...)
	rc.mu.Unlock()
	if len(calls) != 3 || calls[0].id != got[0].id || calls[1].id != got[0].id {
		t.Fatalf("calls %v", calls)
	}
	log := s.Do("GET", "/api/v1/webhooks/"+hook+"/deliveries", nil).Want(t, http.StatusOK).List()
	if len(log) != 3 {
		t.Fatalf("log %v", log)
	}
	// Newest first: the success, then the two failures.
	for i, want := range []float64{200, 500, 500} {
		if log[i]["status_code"] != want || log[i]["attempt"] != float64(3-i) || log[i]["event_id"] != got[0].id {
			t.Fatalf("attempt %d: %v", i, log[i])
		}
	}
	if log[1]["error"] == nil || log[0]["error"] != nil {
		t.Fatalf("errors: %v", log)
	}
	// Past their retention, the finished event and its log go.
	if n, err := s.Store.PurgeWebhookHistory(context.Background(), time.Now().Add(time.Hour), 100); err != nil || n != 4 {
		t.Fatalf("purged %d rows, want 4 (event and 3 attempts): %v", n, err)
	}
	if log := s.Do("GET", "/api/v1/webhooks/"+hook+"/deliveries", nil).Want(t, http.StatusOK).List(); len(log) != 0 {
		t.Fatalf("log after purge: %v", log)
	}
}

// TestWebhookOutboxSurvivesLostTasks: events committed while no worker runs,
// and whose tasks Redis then loses, are delivered once a worker runs.
func TestWebhookOutboxSurvivesLostTasks(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithoutWorker(), linkittest.WithAPI(api.Config{WebhooksAllowPrivate: true}))
	rc := newReceiver(t)
	subscribe(t, s, rc, "customer.created")
	s.Do("POST", "/api/v1/customers", map[string]any{"first_name": "Lina", "last_name": "Kurd", "email": "lina.lost@example.com"}).Want(t, http.StatusCreated)
	// Queued, then lost (a Redis flush).
	if n, err := s.Deps.DispatchWebhooks(context.Background(), time.Now()); err != nil || n != 1 {
		t.Fatalf("dispatch: %d, %v", n, err)
	}
	if _, err := s.Inspector.DeleteAllPendingTasks(s.Names.Webhooks()); err != nil {
		t.Fatal(err)
	}
	s.StartWorker(worker.Config{WebhooksAllowPrivate: true, WebhookPoll: 50 * time.Millisecond, WebhookRequeueAge: 500 * time.Millisecond})
	got := rc.waitFor(1)
	if got[0].body["type"] != "customer.created" {
		t.Fatalf("event %v", got[0].body)
	}
}

// TestWebhookCRUD: validation, private targets, PUT and PATCH, tenant
// isolation and delete.
func TestWebhookCRUD(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithoutQueue())
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"*"}}, "url"},
		{map[string]any{"url": "http://[::1]/hook", "events": []string{"*"}}, "url"},
		{map[string]any{"url": "http://169.254.169.254/latest", "events": []string{"*"}}, "url"},
		{map[string]any{"url": "http://10.1.2.3/hook", "events": []string{"*"}}, "url"},
		{map[string]any{"url": "ftp://203.0.113.9/hook", "events": []string{"*"}}, "url"},
		{map[string]any{"url": "hooks.example.com", "events": []string{"*"}}, "url"},
		{map[string]any{"events": []string{"*"}}, "url"},
		{map[string]any{"url": "https://203.0.113.9/hook", "events": []string{"customer.exploded"}}, "events"},
		{map[string]any{"url": "https://203.0.113.9/hook", "events": []string{}}, "events"},
	} {
		s.Do("POST", "/api/v1/webhooks", tc.body).WantError(t, http.StatusUnprocessableEntity, tc.field)
	}
	// A public address (TEST-NET-3 is public as far as the check goes).
	res := s.Do("POST", "/api/v1/webhooks", map[string]any{"url": "https://203.0.113.9/hook",
		"events": []string{"customer.created", "import.completed", "customer.created"}}).Want(t, http.StatusCreated)
	id := res.Data()["id"].(string)
	if ev := res.Data()["events"].([]any); len(ev) != 2 || res.Data()["enabled"] != true {
		t.Fatalf("created %s", res.Raw)
	}
	list := s.Do("GET", "/api/v1/webhooks", nil).Want(t, http.StatusOK)
	if len(list.List()) != 1 || strings.Contains(list.Raw, "whsec_") {
		t.Fatalf("list %s", list.Raw)
	}
	s.Do("GET", "/api/v1/webhooks?bogus=1", nil).WantError(t, http.StatusUnprocessableEntity, "bogus")
	p := s.Do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"enabled": false, "description": "paused"}).Want(t, http.StatusOK).Data()
	if p["enabled"] != false || p["description"] != "paused" || p["url"] != "https://203.0.113.9/hook" {
		t.Fatalf("patched %v", p)
	}
	s.Do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"url": "http://127.0.0.1/x"}).WantError(t, http.StatusUnprocessableEntity, "url")
	r := s.Do("PUT", "/api/v1/webhooks/"+id, map[string]any{"url": "https://203.0.113.10/hook", "events": []string{"*"}}).Want(t, http.StatusOK).Data()
	if r["enabled"] != true || r["description"] != "" || r["url"] != "https://203.0.113.10/hook" {
		t.Fatalf("replaced %v", r)
	}
	s.Do("PUT", "/api/v1/webhooks/"+id, map[string]any{"url": "https://203.0.113.10/hook"}).WantError(t, http.StatusUnprocessableEntity, "events")

	// Another organization's key sees none of it.
	_, other := linkittest.NewOrg(t, s.Store, "Other", "")
	for _, m := range []string{"GET", "PATCH", "PUT", "DELETE"} {
		var body any
		if m == "PATCH" || m == "PUT" {
			body = map[string]any{"url": "https://203.0.113.10/hook", "events": []string{"*"}}
		}
		s.DoKey(other, m, "/api/v1/webhooks/"+id, body).WantError(t, http.StatusNotFound)
	}
	s.DoKey(other, "GET", "/api/v1/webhooks/"+id+"/deliveries", nil).WantError(t, http.StatusNotFound)
	if n := len(s.DoKey(other, "GET", "/api/v1/webhooks", nil).Want(t, http.StatusOK).List()); n != 0 {
		t.Fatalf("other org lists %d webhooks", n)
	}
	s.Do("DELETE", "/api/v1/webhooks/"+id, nil).Want(t, http.StatusNoContent)
	s.Do("GET", "/api/v1/webhooks/"+id, nil).WantError(t, http.StatusNotFound)
}

// TestWebhookDeletedStopsRetrying: deleting a webhook drops its pending
// events; a failing receiver is not called again.
func TestWebhookDeletedStopsRetrying(t *testing.T) {
	t.Parallel()
	s := webhookStack(t)
	rc := newReceiver(t)
	rc.fail = 1 << 30
	hook := subscribe(t, s, rc, "customer.created")
	s.Do("POST", "/api/v1/customers", map[string]any{"first_name": "Sami", "last_name": "Odeh", "email": "sami.deleted@example.com"}).
		Want(t, http.StatusCreated)
	calls := func() int {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.calls)
	}
	deadline := time.Now().Add(30 * time.Second)
	for calls() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if calls() < 2 {
		t.Fatalf("receiver called %d times, want retries", calls())
	}
	s.Do("DELETE", "/api/v1/webhooks/"+hook, nil).Want(t, http.StatusNoContent)
	n := calls()
	time.Sleep(2 * time.Second) // several retry delays
	// An attempt already in flight at the delete may still arrive (on a slow
	// machine well after it); no retry may follow it.
	if more := calls() - n; more > 1 {
		t.Fatalf("receiver called %d more times after the webhook was deleted, want at most the attempt in flight", more)
	}
}
