package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// seed001Keys are the keys of seed 001's data, in its order.
var seed001Keys = []string{"id", "source_system", "source_system_img_url", "source_id", "external_system_provider_id",
	"external_system_config_id", "external_system_data", "supporting_data_definition_id", "email", "name",
	"address_line1", "address_line2", "address_city", "address_country", "address_state", "address_postal_code",
	"shipping_address_line1", "shipping_address_line2", "shipping_address_city", "shipping_address_country",
	"shipping_address_state", "shipping_address_postal_code", "phone", "is_primary", "local_was_deleted",
	"local_was_updated", "source_data_created_at", "is_active"}

func wantSeed001Shape(t *testing.T, d map[string]any) {
	t.Helper()
	for _, k := range seed001Keys {
		if _, ok := d[k]; !ok {
			t.Fatalf("data lacks %q: %v", k, d)
		}
	}
	if len(d) != len(seed001Keys) {
		t.Fatalf("data has %d keys, the seed %d: %v", len(d), len(seed001Keys), d)
	}
}

// seedBody is seed 001's example as a request.
func seedBody() map[string]any {
	return map[string]any{
		"email": "Customer@Example.com", "name": "Acme Corp",
		"address_line1": "123 Main St", "address_line2": "Suite 456", "address_city": "Los Santos",
		"address_country": "USA", "address_state": "California", "address_postal_code": "90001",
		"shipping_address_line1": "789 Market St", "shipping_address_line2": "Floor 2", "shipping_address_city": "San Fierro",
		"shipping_address_country": "United States", "shipping_address_state": "Nevada", "shipping_address_postal_code": "94103",
		"phone": "+1 415 555 0100", "source_system": "Salesforce", "source_id": "sf_98765",
		"external_system_provider_id": "provider_001", "external_system_config_id": "config_abc",
		"supporting_data_definition_id": "support_001", "external_system_data": map[string]any{"custom_field": "value"},
	}
}

func TestUnifiedCustomerCreateAndMatchOnSource(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	res := e.do("POST", "/api/v1/unified/customer", seedBody()).want(t, http.StatusCreated)
	d := res.data()
	wantSeed001Shape(t, d)
	id := str(d["id"])
	for k, want := range map[string]any{
		"source_system": "salesforce", "source_system_img_url": nil, "source_id": "sf_98765",
		"external_system_provider_id": "provider_001", "external_system_config_id": "config_abc",
		"supporting_data_definition_id": "support_001", "email": "customer@example.com", "name": "Acme Corp",
		"address_line1": "123 Main St", "address_line2": "Suite 456", "address_city": "Los Santos", "address_country": "US",
		"address_state": "California", "address_postal_code": "90001", "shipping_address_line1": "789 Market St",
		"shipping_address_line2": "Floor 2", "shipping_address_city": "San Fierro", "shipping_address_country": "US",
		"shipping_address_state": "Nevada", "shipping_address_postal_code": "94103", "phone": "+14155550100",
		"is_primary": true, "local_was_deleted": false, "local_was_updated": false, "is_active": true,
	} {
		if d[k] != want {
			t.Errorf("%s = %v, want %v", k, d[k], want)
		}
	}
	if data, _ := d["external_system_data"].(map[string]any); data["custom_field"] != "value" {
		t.Errorf("external_system_data = %v", d["external_system_data"])
	}
	if !strings.HasPrefix(id, "cust_") || metaOf(res)["action"] != "created" {
		t.Fatalf("id %q meta %v", id, metaOf(res))
	}
	// The same customer through the rest of the API; first sighting = created.
	c := e.do("GET", "/api/v1/customers/"+id, nil).want(t, http.StatusOK).data()
	if c["source"] != "salesforce" || c["first_name"] != "Acme" || c["last_name"] != "Corp" {
		t.Errorf("customer %v", c)
	}
	if ba, _ := c["billing_address"].(map[string]any); ba["line1"] != "123 Main St" || ba["country"] != "US" {
		t.Errorf("billing_address %v", c["billing_address"])
	}
	created := mustTime(t, c["created"])
	firstSeen := mustTime(t, d["source_data_created_at"])
	if !firstSeen.Equal(created) {
		t.Errorf("source_data_created_at %v, customer created %v", firstSeen, created)
	}

	// The same body again: matched on the external id, nothing changed.
	again := e.do("POST", "/api/v1/unified/customer", seedBody()).want(t, http.StatusOK)
	if d := again.data(); d["id"] != id || d["local_was_updated"] != false || metaOf(again)["matched_on"] != "external_id" {
		t.Fatalf("repeat: %s", again.Raw)
	}

	// Same source record, another email: matched on the external id, the
	// email is added (fill_blanks keeps the primary; the new one is an alias).
	body := seedBody()
	body["email"] = "billing@acme.example"
	moved := e.do("POST", "/api/v1/unified/customer", body).want(t, http.StatusOK)
	d = moved.data()
	if d["id"] != id || d["local_was_updated"] != true || metaOf(moved)["matched_on"] != "external_id" || metaOf(moved)["action"] != "updated" {
		t.Fatalf("new email: %s", moved.Raw)
	}
	if d["email"] != "customer@example.com" || !mustTime(t, d["source_data_created_at"]).Equal(firstSeen) {
		t.Fatalf("new email: %s", moved.Raw)
	}
	if look := e.do("GET", "/api/v1/customers/lookup?email=billing@acme.example", nil).want(t, http.StatusOK); look.data()["id"] != id {
		t.Fatalf("alias lookup %v", look.data()["id"])
	}

	// New source data replaces the stored data; a call without it keeps it.
	body["external_system_data"] = map[string]any{"custom_field": "changed", "tier": 2}
	res = e.do("POST", "/api/v1/unified/customer", body).want(t, http.StatusOK)
	if data, _ := res.data()["external_system_data"].(map[string]any); data["custom_field"] != "changed" || data["tier"] != 2.0 || res.data()["local_was_updated"] != true {
		t.Fatalf("data change: %s", res.Raw)
	}
	res = e.do("POST", "/api/v1/unified/customer", map[string]any{"email": "billing@acme.example", "name": "Acme Corp",
		"source_system": "salesforce", "source_id": "sf_98765"}).want(t, http.StatusOK)
	if data, _ := res.data()["external_system_data"].(map[string]any); data["custom_field"] != "changed" || res.data()["local_was_updated"] != false ||
		res.data()["external_system_config_id"] != "config_abc" || res.data()["address_line1"] != "123 Main St" {
		t.Fatalf("partial call: %s", res.Raw)
	}
	// The history says where the change came from.
	hist := e.do("GET", "/api/v1/customers/"+id+"/history", nil).want(t, http.StatusOK).list()
	// created, the new email kept as an alias, then the source data change.
	if len(hist) != 3 || hist[0]["type"] != "customer.updated" || hist[0]["source"] != "salesforce" ||
		hist[1]["type"] != "customer.updated" || hist[2]["type"] != "customer.created" {
		t.Fatalf("history %v", hist)
	}
	if ch, _ := hist[0]["changes"].(map[string]any); ch["source_record"] == nil {
		t.Fatalf("history changes %v", hist[0]["changes"])
	}
	if ch, _ := hist[1]["changes"].(map[string]any); ch["alias_email"] == nil {
		t.Fatalf("alias not in history: %v", hist[1]["changes"])
	}
	var customers int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM customers").Scan(&customers)
	if customers != 1 {
		t.Fatalf("%d customers, want 1", customers)
	}
}

func mustTime(t *testing.T, v any) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, str(v))
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return tm
}

// A record from another system with a known email joins the same customer.
func TestUnifiedCustomerEmailAcrossSystems(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	first := e.do("POST", "/api/v1/unified/customer", map[string]any{"email": "nora@example.com", "name": "Nora Haddad",
		"source_system": "hubspot", "source_id": 501}).want(t, http.StatusCreated).data()
	if first["source_id"] != "501" {
		t.Fatalf("numeric source_id: %v", first["source_id"])
	}
	time.Sleep(10 * time.Millisecond) // the second sighting is later
	res := e.do("POST", "/api/v1/unified/customer", map[string]any{"email": " NORA@example.com", "name": "N. Haddad",
		"source_system": "Zendesk", "source_id": "z-7", "phone": "+966501234567"}).want(t, http.StatusOK)
	d := res.data()
	wantSeed001Shape(t, d)
	if d["id"] != first["id"] || metaOf(res)["matched_on"] != "email" || d["source_system"] != "zendesk" || d["source_id"] != "z-7" {
		t.Fatalf("cross-system match: %s", res.Raw)
	}
	// fill_blanks: the name stays, the phone fills a blank; a new link and a
	// new phone are an update.
	if d["name"] != "Nora Haddad" || d["phone"] != "+966501234567" || d["local_was_updated"] != true {
		t.Fatalf("merge: %s", res.Raw)
	}
	if !mustTime(t, d["source_data_created_at"]).After(mustTime(t, first["source_data_created_at"])) {
		t.Fatalf("zendesk first seen %v, hubspot %v", d["source_data_created_at"], first["source_data_created_at"])
	}
	// Each system's id now finds the customer.
	for _, src := range []map[string]any{{"source_system": "hubspot", "source_id": "501"}, {"source_system": "zendesk", "source_id": "z-7"}} {
		body := map[string]any{"email": "other@example.com", "name": "Someone"}
		for k, v := range src {
			body[k] = v
		}
		r := e.do("POST", "/api/v1/unified/customer", body).want(t, http.StatusOK)
		if r.data()["id"] != first["id"] || metaOf(r)["matched_on"] != "external_id" {
			t.Fatalf("%v: %s", src, r.Raw)
		}
	}
	// Without a source the record is Linkit's own: no source id.
	own := e.do("POST", "/api/v1/unified/customer", map[string]any{"email": "nora@example.com", "name": "Nora"}).want(t, http.StatusOK).data()
	if own["id"] != first["id"] || own["source_system"] != "linkit" || own["source_id"] != nil || own["local_was_updated"] != false {
		t.Fatalf("linkit record %v", own)
	}
	// A customer made through the customers API matches too.
	made := e.createCustomer(map[string]any{"email": "sam@example.com", "first_name": "Sam", "last_name": "Quinn"})
	r := e.do("POST", "/api/v1/unified/customer", map[string]any{"email": "sam@example.com", "name": "Sam Q", "source_system": "shopify", "source_id": "9"}).
		want(t, http.StatusOK).data()
	if r["id"] != made["id"] || r["name"] != "Sam Quinn" {
		t.Fatalf("customers API record %v", r)
	}
}

func TestUnifiedCustomerValidation(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{noWorker: true})
	for _, tc := range []struct {
		body   any
		fields []string
	}{
		{map[string]any{}, []string{"email", "name"}},
		{map[string]any{"name": "Acme"}, []string{"email"}},
		{map[string]any{"email": "a@example.com"}, []string{"name"}},
		{map[string]any{"email": "not-an-email", "name": "Acme"}, []string{"email"}},
		{map[string]any{"email": "a@example.com", "name": "  "}, []string{"name"}},
		{map[string]any{"email": "a@example.com", "name": "Acme", "phone": "12"}, []string{"phone"}},
		{map[string]any{"email": "a@example.com", "name": "Acme", "source_id": map[string]any{}}, []string{"source_id"}},
		{map[string]any{"email": "a@example.com", "name": "Acme", "source_system": "a:b", "source_id": "1"}, []string{"source_system"}},
		{map[string]any{"email": "a@example.com", "name": "Acme", "external_system_data": "text"}, []string{"external_system_data"}},
		{map[string]any{"email": "a@example.com", "name": "Acme", "source_system_img_url": "ftp://x"}, []string{"source_system_img_url"}},
		{map[string]any{"email": "a@example.com", "name": "Acme", "address_postal_code": strings.Repeat("9", 21)}, []string{"address_postal_code"}},
		{map[string]any{"email": "a@example.com", "name": "Acme", "merge_policy": "smash"}, []string{"merge_policy"}},
		{map[string]any{"email": 5, "name": "Acme"}, []string{"email"}},
	} {
		e.do("POST", "/api/v1/unified/customer", tc.body).wantError(t, http.StatusUnprocessableEntity, tc.fields...)
	}
	e.do("POST", "/api/v1/unified/customer", `{"email":`).wantError(t, http.StatusBadRequest)
	e.do("POST", "/api/v1/unified/customer", `{}`, "Content-Type", "text/plain").wantError(t, http.StatusUnsupportedMediaType)
	e.doKey("", "POST", "/api/v1/unified/customer", seedBody()).wantError(t, http.StatusUnauthorized)
	var jobs int
	_ = e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM jobs").Scan(&jobs)
	if jobs != 0 {
		t.Fatalf("%d jobs stored for rejected requests", jobs)
	}
}

// Another organization's identical record is its own customer.
func TestUnifiedCustomerIsolation(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	a := e.do("POST", "/api/v1/unified/customer", seedBody()).want(t, http.StatusCreated).data()
	_, keyB := e.newOrg("B", "")
	b := e.doKey(keyB, "POST", "/api/v1/unified/customer", seedBody()).want(t, http.StatusCreated).data()
	if b["id"] == a["id"] || b["local_was_updated"] != false {
		t.Fatalf("org B got %v", b)
	}
	e.doKey(keyB, "GET", "/api/v1/customers/"+str(a["id"]), nil).wantError(t, http.StatusNotFound)
	if c := e.do("GET", "/api/v1/customers/"+str(a["id"]), nil).want(t, http.StatusOK).data(); c["email"] != "customer@example.com" {
		t.Fatalf("org A's customer %v", c)
	}
}

func TestUnifiedCustomerAsync(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	res := e.do("POST", "/api/v1/unified/customer", seedBody(), "Prefer", "respond-async").want(t, http.StatusAccepted)
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, "/api/v1/jobs/job_") || res.data()["state"] != "queued" {
		t.Fatalf("202 answer %s (Location %q)", res.Raw, loc)
	}
	job := pollJob(t, e.env, loc)
	result, _ := job["result"].(map[string]any)
	cust, _ := result["customer"].(map[string]any)
	if job["state"] != "completed" || result["action"] != "created" {
		t.Fatalf("job %v", job)
	}
	wantSeed001Shape(t, cust)
	if cust["source_id"] != "sf_98765" || cust["address_country"] != "US" {
		t.Fatalf("job customer %v", cust)
	}
	// Idempotency-Key replays the first answer.
	first := e.do("POST", "/api/v1/unified/customer", seedBody(), "Idempotency-Key", "u-1").want(t, http.StatusOK)
	again := e.do("POST", "/api/v1/unified/customer", seedBody(), "Idempotency-Key", "u-1").want(t, http.StatusOK)
	if metaOf(first)["job_id"] != metaOf(again)["job_id"] || first.data()["id"] != cust["id"] {
		t.Fatalf("replay %s vs %s", again.Raw, first.Raw)
	}
}

// Countries other systems send become ISO codes; unknown ones stay as sent.
func TestUnifiedCustomerCountries(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	d := e.do("POST", "/api/v1/unified/customer", map[string]any{"email": "c@example.com", "name": "C",
		"address_country": "Saudi Arabia", "shipping_address_country": "Narnia"}).want(t, http.StatusCreated).data()
	if d["address_country"] != "SA" || d["shipping_address_country"] != "Narnia" || d["address_line1"] != nil || d["phone"] != nil {
		t.Fatalf("countries %v", d)
	}
}
