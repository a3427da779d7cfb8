package api_test

// Issue 22: one behaviour per concept.

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/worker"
)

// TestDependentsMoveCustomerUpdated: a customer's updated moves when its
// tags, groups, addresses or contacts change, whichever route changed them,
// so an incremental sync from the last updated seen finds it; a change
// that changes nothing (a tag already there) leaves it.
func TestDependentsMoveCustomerUpdated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := str(e.createCustomer(map[string]any{"email": "untouched@example.com"})["id"])
	grp := str(e.createGroup("Touchers")["id"])
	id := str(e.createCustomer(map[string]any{"email": "touch@example.com"})["id"])
	base := "/api/v1/customers/" + id

	last := func() time.Time {
		t.Helper()
		got, err := time.Parse(time.RFC3339Nano, str(e.do("GET", base, nil).want(t, http.StatusOK).data()["updated"]))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	prev := last()
	var addrID, contactID string
	steps := []struct {
		name  string
		moves bool
		do    func()
	}{
		{"tag added", true, func() { e.do("POST", base+"/tags", map[string]any{"tags": []string{"gold"}}).want(t, http.StatusOK) }},
		{"same tag again", false, func() { e.do("POST", base+"/tags", map[string]any{"tags": []string{"GOLD"}}).want(t, http.StatusOK) }},
		{"tag removed", true, func() { e.do("DELETE", base+"/tags/gold", nil).want(t, http.StatusNoContent) }},
		{"group joined", true, func() { e.addMembers(grp, map[string]any{"customer_ids": []string{id}}) }},
		{"group joined again", false, func() { e.addMembers(grp, map[string]any{"customer_ids": []string{id}}) }},
		{"group left", true, func() {
			e.do("DELETE", "/api/v1/customer-groups/"+grp+"/customers/"+id, nil).want(t, http.StatusNoContent)
		}},
		{"address added", true, func() {
			addrID = str(e.do("POST", base+"/addresses", map[string]any{"label": "Home", "address_line1": "1 Main St",
				"city": "Austin", "state": "TX", "country": "US"}).want(t, http.StatusCreated).data()["id"])
		}},
		{"address patched", true, func() {
			e.do("PATCH", base+"/addresses/"+addrID, map[string]any{"city": "Dallas"}).want(t, http.StatusOK)
		}},
		{"address deleted", true, func() { e.do("DELETE", base+"/addresses/"+addrID, nil).want(t, http.StatusNoContent) }},
		{"contact added", true, func() {
			contactID = str(e.do("POST", base+"/contacts", map[string]any{"name": "Ann Contact", "email": "ann.contact@example.com"}).
				want(t, http.StatusCreated).data()["id"])
		}},
		{"contact deleted", true, func() { e.do("DELETE", base+"/contacts/"+contactID, nil).want(t, http.StatusOK) }},
	}
	for _, s := range steps {
		s.do()
		now := last()
		if moved := now.After(prev); moved != s.moves {
			t.Fatalf("%s: updated %s → %s, moved %v, want %v", s.name, prev, now, moved, s.moves)
		}
		if s.moves {
			// A sync from just after the previous change sees this one, and
			// only this customer.
			q := url.Values{"sort": {"updated"}, "updated_since": {prev.Add(time.Microsecond).Format(time.RFC3339Nano)}}
			var ids []string
			for _, c := range e.do("GET", "/api/v1/customers?"+q.Encode(), nil).want(t, http.StatusOK).list() {
				ids = append(ids, str(c["id"]))
			}
			if !slices.Equal(ids, []string{id}) || slices.Contains(ids, other) {
				t.Fatalf("%s: sync since the previous change saw %v, want [%s]", s.name, ids, id)
			}
		}
		prev = now
	}
}

// TestPatchOnEveryResource: PATCH is a JSON merge patch wherever PUT
// exists: absent members stay, null clears, and the result is validated
// as PUT validates; PUT replaces (an omitted optional field is cleared).
func TestPatchOnEveryResource(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := str(e.createCustomer(map[string]any{"email": "patcher@example.com"})["id"])

	// Addresses.
	addr := e.do("POST", "/api/v1/customers/"+id+"/addresses", map[string]any{"label": "Home", "address_line1": "1 Main St",
		"address_line2": "Apt 4", "city": "Austin", "state": "TX", "country": "US", "postal_code": "78701"}).
		want(t, http.StatusCreated).data()
	ap := "/api/v1/customers/" + id + "/addresses/" + str(addr["id"])
	got := e.do("PATCH", ap, map[string]any{"city": "Dallas", "address_line2": nil}).want(t, http.StatusOK).data()
	if got["city"] != "Dallas" || got["address_line2"] != nil || got["address_line1"] != "1 Main St" ||
		got["postal_code"] != "78701" || got["is_default"] != true {
		t.Fatalf("patched address %v", got)
	}
	e.do("PATCH", ap, map[string]any{"city": nil}).wantError(t, http.StatusUnprocessableEntity, "city")
	e.do("PATCH", ap, map[string]any{"country": "Atlantis"}).wantError(t, http.StatusUnprocessableEntity, "country")
	e.do("PATCH", "/api/v1/customers/"+id+"/addresses/addr_missing", map[string]any{"city": "X"}).
		wantError(t, http.StatusNotFound, "id")
	// PUT is a full replacement: what it omits is cleared (is_default aside).
	got = e.do("PUT", ap, map[string]any{"label": "Home", "address_line1": "2 Main St", "city": "Dallas", "state": "TX",
		"country": "US"}).want(t, http.StatusOK).data()
	if got["postal_code"] != nil || got["is_default"] != true {
		t.Fatalf("replaced address %v", got)
	}

	// Groups: a name alone keeps the description under PATCH, clears it under PUT.
	grp := e.do("POST", "/api/v1/customer-groups", map[string]any{"name": "Regulars", "description": "Weekly visitors"}).
		want(t, http.StatusCreated).data()
	gp := "/api/v1/customer-groups/" + str(grp["id"])
	if got = e.do("PATCH", gp, map[string]any{"name": "Loyal"}).want(t, http.StatusOK).data(); got["name"] != "Loyal" ||
		got["description"] != "Weekly visitors" {
		t.Fatalf("patched group %v", got)
	}
	e.do("POST", "/api/v1/customer-groups", map[string]any{"name": "Taken"}).want(t, http.StatusCreated)
	e.do("PATCH", gp, map[string]any{"name": "taken"}).wantError(t, http.StatusConflict, "name")
	if got = e.do("PUT", gp, map[string]any{"name": "Loyal"}).want(t, http.StatusOK).data(); got["description"] != nil {
		t.Fatalf("PUT kept the description: %v", got)
	}
	e.do("PATCH", "/api/v1/customer-groups/grp_missing", map[string]any{"name": "X"}).wantError(t, http.StatusNotFound, "id")

	// Locations: a list member replaces the list.
	loc := e.createLocation(map[string]any{"name": "Mall", "code": "M1", "default_region": "SA", "timezone": "Asia/Riyadh",
		"default_tags": []string{"mall"}})
	lp := "/api/v1/locations/" + str(loc["id"])
	got = e.do("PATCH", lp, map[string]any{"default_tags": []string{"mall", "weekend"}, "code": nil}).want(t, http.StatusOK).data()
	if got["name"] != "Mall" || got["timezone"] != "Asia/Riyadh" || got["default_region"] != "SA" || got["code"] != nil ||
		!slices.Equal(anyStrings(got["default_tags"]), []string{"mall", "weekend"}) {
		t.Fatalf("patched location %v", got)
	}
	e.do("PATCH", lp, map[string]any{"timezone": "Mars/Olympus"}).wantError(t, http.StatusUnprocessableEntity, "timezone")
	e.do("PATCH", lp, map[string]any{"default_group_ids": []string{"grp_missing"}}).
		wantError(t, http.StatusUnprocessableEntity, "default_group_ids")
	if got = e.do("GET", lp, nil).want(t, http.StatusOK).data(); got["timezone"] != "Asia/Riyadh" {
		t.Fatalf("a refused patch changed the location: %v", got)
	}

	// The ERP record and contacts: PATCH beside seed 003's partial PUT.
	erp := e.do("POST", "/api/customers", map[string]any{"name": "Acme Trading", "email": "acme.patch@example.com",
		"payment_terms": "Net 30", "website": "https://acme.example"}).want(t, http.StatusCreated).data()
	got = e.do("PATCH", "/api/customers/"+str(erp["id"]), map[string]any{"payment_terms": "Net 60", "website": nil}).
		want(t, http.StatusOK).data()
	if got["payment_terms"] != "Net 60" || got["website"] != nil || got["name"] != "Acme Trading" {
		t.Fatalf("patched ERP customer %v", got)
	}
	con := e.do("POST", "/api/customers/"+str(erp["id"])+"/contacts", map[string]any{"name": "Ann Buyer", "title": "Buyer",
		"email": "ann.buyer@example.com"}).want(t, http.StatusCreated).data()
	got = e.do("PATCH", "/api/v1/customers/"+str(erp["id"])+"/contacts/"+str(con["id"]), map[string]any{"title": "Head buyer"}).
		want(t, http.StatusOK).data()
	if got["title"] != "Head buyer" || got["email"] != "ann.buyer@example.com" {
		t.Fatalf("patched contact %v", got)
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, str(x))
	}
	return out
}

// TestAddressesAcceptCountryNames: every address input reads a country
// as imports do — a code of two or three letters or a name — and stores
// its ISO 3166-1 alpha-2 code.
func TestAddressesAcceptCountryNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := str(e.createCustomer(map[string]any{"email": "countries@example.com"})["id"])
	for in, want := range map[string]string{"Saudi Arabia": "SA", "usa": "US", "Deutschland": "DE", "gb": "GB", "United Kingdom": "GB"} {
		a := e.do("POST", "/api/v1/customers/"+id+"/addresses", map[string]any{"label": "L", "address_line1": "1 St", "city": "C",
			"state": "S", "country": in}).want(t, http.StatusCreated).data()
		if a["country"] != want {
			t.Errorf("country %q stored as %v, want %s", in, a["country"], want)
		}
	}
	e.do("POST", "/api/v1/customers/"+id+"/addresses", map[string]any{"label": "L", "address_line1": "1 St", "city": "C",
		"state": "S", "country": "Atlantis"}).wantError(t, http.StatusUnprocessableEntity, "country")
	// The customer's billing address and the location-scoped address too.
	c := e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"billing_address": map[string]any{"line1": "1 St", "city": "Riyadh",
		"country": "Saudi Arabia"}}).want(t, http.StatusOK).data()
	if b, _ := c["billing_address"].(map[string]any); b["country"] != "SA" {
		t.Fatalf("billing address %v", c["billing_address"])
	}
	loc := str(e.createLocation(map[string]any{"name": "Country Store"})["id"])
	e.do("POST", "/api/v1/locations/"+loc+"/customers", map[string]any{"name": "Addr Person",
		"address": map[string]any{"address_line1": "1 St", "city": "Paris", "country": "France"}}).want(t, http.StatusCreated)
	var country string
	if err := e.store.Pool().QueryRow(t.Context(), "SELECT country FROM customer_addresses WHERE city = 'Paris'").Scan(&country); err != nil || country != "FR" {
		t.Fatalf("location-scoped address country %q (%v), want FR", country, err)
	}
}

// uploadWithKey posts file as multipart (a fresh boundary each time, as
// curl -F does) with an Idempotency-Key.
func (e *env) uploadWithKey(path, key, fileName string, file []byte) response {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("tags", "spring")
	fw, err := mw.CreateFormFile("file", fileName)
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = fw.Write(file)
	_ = mw.Close()
	req, err := http.NewRequest("POST", e.url+path, &buf)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+e.key)
	req.Header.Set("Idempotency-Key", key)
	return response{linkittest.Send(e.t, req)}
}

// TestImportIdempotencyKey: an upload retried with its Idempotency-Key and
// the same file and options gets the first answer again, byte for byte and
// marked replayed, and makes no second import; another file or other
// options under the key are a 422 naming it.
func TestImportIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	file := []byte("email,first_name\nidem.one@example.com,One\nidem.two@example.com,Two\n")
	first := e.uploadWithKey("/api/v1/imports", "nightly-2026-12-07", "customers.csv", file).want(t, http.StatusAccepted)
	id := str(first.data()["id"])
	if first.Header.Get("Location") != "/api/v1/imports/"+id || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first answer headers %v", first.Header)
	}
	e.waitImport(id)
	again := e.uploadWithKey("/api/v1/imports", "nightly-2026-12-07", "customers.csv", file)
	wantReplay(t, first, again)
	if n := e.count("SELECT count(*) FROM imports WHERE organization_id = $1", e.org); n != 1 {
		t.Fatalf("%d imports after a replayed upload, want 1", n)
	}
	other := []byte("email,first_name\nidem.three@example.com,Three\n")
	e.uploadWithKey("/api/v1/imports", "nightly-2026-12-07", "customers.csv", other).
		wantError(t, http.StatusUnprocessableEntity, "Idempotency-Key")
	e.uploadWithKey("/api/v1/imports?merge_policy=overwrite", "nightly-2026-12-07", "customers.csv", file).
		wantError(t, http.StatusUnprocessableEntity, "Idempotency-Key")
	// A key used by another creating POST is not an upload's.
	e.do("POST", "/api/v1/customers", map[string]any{"first_name": "K", "last_name": "Ey", "email": "idem.key@example.com"},
		"Idempotency-Key", "crm-1").want(t, http.StatusCreated)
	e.uploadWithKey("/api/v1/imports", "crm-1", "customers.csv", file).wantError(t, http.StatusUnprocessableEntity, "Idempotency-Key")
	// A refused upload keeps no answer: corrected, the same key imports it.
	e.uploadWithKey("/api/v1/imports?merge_policy=sometimes", "fixed-later", "customers.csv", file).
		wantError(t, http.StatusUnprocessableEntity, "merge_policy")
	e.uploadWithKey("/api/v1/imports", "fixed-later", "customers.csv", other).want(t, http.StatusAccepted)
	if n := e.count("SELECT count(*) FROM imports WHERE organization_id = $1", e.org); n != 2 {
		t.Fatalf("%d imports, want 2", n)
	}
}

// TestWebhookDeliveryMetrics: /metrics counts webhook attempts by outcome
// (three series whatever the receivers) with their latency.
func TestWebhookDeliveryMetrics(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t, linkittest.WithAPI(api.Config{WebhooksAllowPrivate: true, MetricsPublic: true}),
		linkittest.WithWorker(worker.Config{WebhooksAllowPrivate: true, WebhookPoll: 50 * time.Millisecond,
			WebhookRetryDelays: []time.Duration{200 * time.Millisecond}, WebhookRequeueAge: time.Second}))
	rc := newReceiver(t)
	rc.fail = 1
	subscribe(t, s, rc, "customer.created")
	s.Do("POST", "/api/v1/customers", map[string]any{"first_name": "Mira", "last_name": "Metric", "email": "mira.metric@example.com"}).
		Want(t, http.StatusCreated)
	rc.waitFor(1)
	m := linkittest.Call(t, "GET", s.URL+"/metrics", "", nil).Want(t, http.StatusOK).Raw
	for _, want := range []string{
		`linkit_webhook_deliveries_total{outcome="delivered"} 1`,
		`linkit_webhook_deliveries_total{outcome="retried"} 1`,
		`linkit_webhook_deliveries_total{outcome="failed"} 0`,
		`linkit_webhook_delivery_duration_seconds_count{outcome="delivered"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(m, "linkit_webhook"))
		}
	}
}

// TestEventsAndVisitsFilledOneWay: a visit's source and a history event's
// source and location_id are filled by one rule whichever path wrote them —
// the request's source, else "api" (imports: "import"); the location the
// request named, else none — and tag, group and address changes through
// the API are in the history as an upsert's are.
func TestEventsAndVisitsFilledOneWay(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	loc := str(e.createLocation(map[string]any{"name": "One Way Store", "default_region": "US"})["id"])
	history := func(id string) []map[string]any {
		t.Helper()
		return e.do("GET", "/api/v1/customers/"+id+"/history?limit=100", nil).want(t, http.StatusOK).list()
	}
	wantEvent := func(id, typ, source, location, changed string) {
		t.Helper()
		for _, ev := range history(id) {
			ch, _ := ev["changes"].(map[string]any)
			if ev["type"] == typ && ev["source"] == source && str(ev["location_id"]) == location && (changed == "" || ch[changed] != nil) {
				if location == "" && ev["location_id"] != nil {
					continue
				}
				return
			}
		}
		t.Fatalf("%s has no %s event from %q at %q changing %q: %v", id, typ, source, location, changed, history(id))
	}
	visitSource := func(c map[string]any) string {
		for _, v := range c["locations"].([]any) {
			if v := v.(map[string]any); v["location_id"] == loc {
				return str(v["source"])
			}
		}
		return "(no visit)"
	}

	// Created through the API at a location, and through the upsert.
	created := e.createCustomer(map[string]any{"email": "oneway.api@example.com", "location_id": loc})
	wantEvent(str(created["id"]), "customer.created", "api", loc, "")
	upserted := e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "oneway.upsert@example.com", "location_id": loc}).
		want(t, http.StatusCreated).data()
	wantEvent(str(upserted["id"]), "customer.created", "api", loc, "")
	scoped := e.do("POST", "/api/v1/locations/"+loc+"/customers", map[string]any{"name": "One Way"}).want(t, http.StatusCreated).data()
	wantEvent(str(scoped["id"]), "customer.created", "api", loc, "")
	for _, c := range []map[string]any{created, upserted, scoped} {
		if got := visitSource(e.do("GET", "/api/v1/customers/"+str(c["id"]), nil).want(t, http.StatusOK).data()); got != "api" {
			t.Errorf("%s: visit source %q, want api", c["id"], got)
		}
	}
	// A source sent is the source, on either path.
	withSource := e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "oneway.pos@example.com", "location_id": loc,
		"source": "pos"}).want(t, http.StatusCreated).data()
	wantEvent(str(withSource["id"]), "customer.created", "pos", loc, "")
	if got := visitSource(withSource); got != "pos" {
		t.Errorf("upsert with source pos: visit source %q", got)
	}
	// An update through the location-scoped API happened at its location.
	e.do("PUT", "/api/v1/locations/"+loc+"/customers/"+str(scoped["id"]), map[string]any{"company_name": "Way Co"}).want(t, http.StatusOK)
	wantEvent(str(scoped["id"]), "customer.updated", "api", loc, "company_name")

	// Tags, groups and addresses changed through the API are history events.
	id := str(created["id"])
	e.do("POST", "/api/v1/customers/"+id+"/tags", map[string]any{"tags": []string{"regular"}, "location_id": loc}).want(t, http.StatusOK)
	wantEvent(id, "customer.tagged", "api", loc, "tags")
	grp := str(e.createGroup("One Way Club")["id"])
	e.addMembers(grp, map[string]any{"customer_ids": []string{id}, "location_id": loc})
	wantEvent(id, "customer.tagged", "api", loc, "group_id")
	e.do("POST", "/api/v1/customers/"+id+"/addresses", map[string]any{"label": "Home", "address_line1": "1 Way", "city": "Austin",
		"state": "TX", "country": "US"}).want(t, http.StatusCreated)
	wantEvent(id, "customer.updated", "api", "", "address")
	n := len(history(id))
	e.do("POST", "/api/v1/customers/"+id+"/tags", map[string]any{"tags": []string{"REGULAR"}, "location_id": loc}).want(t, http.StatusOK)
	if got := len(history(id)); got != n {
		t.Fatalf("a tag already there wrote an event: %d events, was %d", got, n)
	}
}

// TestJobErrorIsNullUntilItFails: a job's error is null (not "") while it
// is queued, running or completed.
func TestJobErrorIsNullUntilItFails(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	acc := e.do("POST", "/api/v1/customers/upsert?wait=0", map[string]any{"email": "job.null@example.com"}).want(t, http.StatusAccepted)
	loc := acc.Header.Get("Location")
	for range 200 {
		res := e.do("GET", loc, nil).want(t, http.StatusOK)
		d := res.data()
		if v, ok := d["error"]; !ok || v != nil {
			t.Fatalf("job in state %v has error %#v: %s", d["state"], v, res.Raw)
		}
		if d["state"] == "completed" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the job never completed")
}
