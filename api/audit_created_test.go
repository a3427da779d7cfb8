package api_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// An import chunk keeps its new customers' customer.created events as
// arrays (audit_created, migration 00048). Every reader answers exactly as
// it did with one audit_events row per event: the history (pages and
// totals), the privacy export (with a merged record's history), the webhook
// payload, after an erasure and a revert. The test reads everything, turns
// the arrays into the old rows (what the migration's Down writes), and
// reads again: the same bytes.
func TestImportedCreationReadsAsBefore(t *testing.T) {
	t.Parallel()
	s := webhookStack(t)
	e := &queueEnv{env: wrap(t, s), opt: s.RedisOpt, names: s.Names}
	rc := newReceiver(t)
	hook := subscribe(t, s, rc, "customer.created")
	e.do("POST", "/api/v1/locations", map[string]any{"name": "Harbour"}).want(t, http.StatusCreated)
	loc := str(e.do("GET", "/api/v1/locations", nil).list()[0]["id"])
	var file strings.Builder
	file.WriteString("email,first_name,last_name\n")
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		fmt.Fprintf(&file, "audit.%s@example.com,%s,Arrays\n", n, strings.ToUpper(n))
	}
	im := e.upload("/api/v1/imports?location_id="+loc, "customers.csv", "", []byte(file.String())).want(t, http.StatusAccepted).data()
	imID := str(im["id"])
	if c := counts(e.waitImport(imID)); c["created"] != 5 {
		t.Fatalf("import %v", c)
	}
	id := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		id[n] = e.customerID("audit." + n + "@example.com")
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE type = 'customer.created'`); n != 0 {
		t.Fatalf("%d creation events as rows, want 0 (arrays)", n)
	}

	// The webhook: one customer.created per new customer, why it happened.
	for _, c := range rc.waitFor(5) {
		data := c.body["data"].(map[string]any)
		why := data["why"].(map[string]any)
		if c.body["type"] != "customer.created" || why["source"] != "import" || why["import_id"] != imID ||
			why["location_id"] != loc || why["job_id"] != nil || why["rule"] != nil || len(data["changes"].(map[string]any)) != 0 {
			t.Fatalf("created event %v", c.body)
		}
	}

	// Later events: a changed, c merged into b, e erased (erasure takes its
	// id out of the import's arrays, found through the creation event).
	e.do("PATCH", "/api/v1/customers/"+id["a"], map[string]any{"last_name": "Later"}).want(t, http.StatusOK)
	e.do("POST", "/api/v1/customers/"+id["b"]+"/merge", map[string]any{"source_ids": []string{id["c"]}}).want(t, http.StatusOK)
	e.do("POST", "/api/v1/customers/"+id["e"]+"/erase", nil).want(t, http.StatusOK)
	if n := e.count(`SELECT count(*) FROM import_created WHERE $1 = ANY(customer_ids)`, id["e"]); n != 0 {
		t.Fatal("the erased customer's id is still in the import's arrays")
	}
	// The revert deletes d (a, b changed since are kept), as before.
	if res := e.revertImport(t, imID); res["deleted"] != 1.0 {
		t.Fatalf("revert %v", res)
	}

	hist := e.do("GET", "/api/v1/customers/"+id["a"]+"/history", nil).want(t, http.StatusOK).list()
	if len(hist) != 2 || hist[1]["type"] != "customer.created" || hist[1]["source"] != "import" ||
		hist[1]["import_id"] != imID || hist[1]["location_id"] != loc || hist[1]["job_id"] != nil ||
		len(hist[1]["changes"].(map[string]any)) != 0 || hist[0]["id"].(float64) <= hist[1]["id"].(float64) {
		t.Fatalf("history %v", hist)
	}
	cust := e.do("GET", "/api/v1/customers/"+id["a"], nil).want(t, http.StatusOK).data()
	if !mustTime(t, hist[1]["created"]).Equal(mustTime(t, cust["created"])) {
		t.Fatalf("creation event at %v, customer created %v", hist[1]["created"], cust["created"])
	}

	reads := func() map[string]string {
		out := map[string]string{}
		for _, p := range []string{
			"/customers/" + id["a"] + "/history", "/customers/" + id["a"] + "/history?limit=1&page=2",
			"/customers/" + id["a"] + "/history?limit=1", "/customers/" + id["b"] + "/history",
			"/customers/" + id["c"] + "/history", "/customers/" + id["d"] + "/history",
			"/customers/" + id["e"] + "/history", "/customers/" + id["a"] + "/export",
			"/customers/" + id["b"] + "/export",
		} {
			r := e.do("GET", "/api/v1"+p, nil)
			out[p] = fmt.Sprint(r.Status, " ", r.Raw)
		}
		return out
	}
	// A webhook body built now for d's creation (deleted since).
	resend := func(eventID int64, arrayCreated any) map[string]any {
		n := len(rc.delivered())
		if _, err := e.store.Pool().Exec(context.Background(), `INSERT INTO webhook_outbox
			(organization_id, id, webhook_id, type, audit_event_id, audit_created)
			VALUES ($1, $5, $2, 'customer.created', $3, $4)`,
			e.org, hook, eventID, arrayCreated, fmt.Sprintf("msg_resend%d", n)); err != nil {
			t.Fatal(err)
		}
		return rc.waitFor(n + 1)[n].body
	}
	var dEvent int64
	var dCreated time.Time
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT event_ids[array_position(customer_ids, $1)], created
		FROM audit_created WHERE $1 = ANY(customer_ids)`, id["d"]).Scan(&dEvent, &dCreated); err != nil {
		t.Fatal(err)
	}
	before, bodyBefore := reads(), resend(dEvent, dCreated)
	if d := bodyBefore["data"].(map[string]any)["customer"].(map[string]any); d["id"] != id["d"] || d["deleted"] != true {
		t.Fatalf("deleted customer's creation event %v", bodyBefore)
	}

	// The same events as one audit_events row each, as before migration
	// 00048 (its Down; the outbox rows exist already).
	if _, err := e.store.Pool().Exec(context.Background(), `
		ALTER TABLE audit_events DISABLE TRIGGER audit_events_webhooks;
		INSERT INTO audit_events (organization_id, id, customer_id, type, source, import_id, location_id, changes, created)
		OVERRIDING SYSTEM VALUE
		SELECT a.organization_id, u.e, u.c, 'customer.created', a.source, a.import_id, a.location_id, '{}', a.created
		FROM audit_created a CROSS JOIN LATERAL unnest(a.customer_ids, a.event_ids) AS u(c, e);
		DELETE FROM audit_created;
		ALTER TABLE audit_events ENABLE TRIGGER audit_events_webhooks`); err != nil {
		t.Fatal(err)
	}
	after, bodyAfter := reads(), resend(dEvent, nil)
	for p := range before {
		if before[p] != after[p] {
			t.Errorf("%s differs:\narrays: %s\nrows:   %s", p, before[p], after[p])
		}
	}
	if !reflect.DeepEqual(bodyBefore, bodyAfter) {
		t.Errorf("webhook body differs:\narrays: %v\nrows:   %v", bodyBefore, bodyAfter)
	}
}
