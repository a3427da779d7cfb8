package api_test

import (
	"net/http"
	"testing"
)

// warningsOf returns meta.warnings of an answer as "code field message".
func warningsOf(r response) []string {
	var out []string
	list, _ := r.meta()["warnings"].([]any)
	for _, w := range list {
		m, _ := w.(map[string]any)
		out = append(out, str(m["code"])+" "+str(m["field"])+" "+str(m["message"]))
	}
	return out
}

func TestUpsertWarnsAboutInvalidPhones(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	// A test number is kept as given, and the answer says it is not valid.
	res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "test@example.com", "phone": "+1-555-0999"}).
		want(t, http.StatusCreated)
	if got := warningsOf(res); len(got) != 1 || got[0] != "invalid_phone phone phone +15550999 is not a valid number; kept as given" {
		t.Fatalf("warnings %q; body %s", got, res.Raw)
	}
	if res.data()["phone"] != "+15550999" || res.data()["phone_valid"] != false {
		t.Fatalf("customer %v", res.data())
	}
	// A valid phone warns about nothing.
	res = e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "ok@example.com", "phone": "+14155550100"}).
		want(t, http.StatusCreated)
	if _, ok := res.meta()["warnings"]; ok {
		t.Fatalf("valid phone warned: %s", res.Raw)
	}
	// An order for a customer given by identifiers says so in meta.customer.
	res = e.do("POST", "/api/v1/orders", map[string]any{"order_number": "SO-1", "total_amount": 10,
		"customer": map[string]any{"email": "order@example.com", "phone": "+1-555-0998"}}).want(t, http.StatusCreated)
	warns, _ := orderCustomerMeta(res)["warnings"].([]any)
	if w, _ := firstOf(warns).(map[string]any); len(warns) != 1 || w["code"] != "invalid_phone" || w["field"] != "phone" {
		t.Fatalf("order meta %s", res.Raw)
	}
	// The location-scoped upsert answers the same meta.
	loc := e.createLocation(map[string]any{"name": "Test lab"})
	res = e.do("POST", "/api/v1/locations/"+str(loc["id"])+"/customers/upsert", map[string]any{"email": "test@example.com", "phone": "+1-555-0999"}).
		want(t, http.StatusOK)
	if got := warningsOf(res); len(got) != 1 || res.data()["id"] == nil {
		t.Fatalf("location upsert warnings %q; body %s", got, res.Raw)
	}
}

// Overwrite lets input win, except a number that is not valid over one that
// is: the valid primary stays, the other is kept as an alias, with a warning.
func TestUpsertOverwriteKeepsValidPhone(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	id := str(e.createCustomer(map[string]any{"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "phone": "+14155550100"})["id"])
	res := e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "ann@example.com", "phone": "+9664155550100",
		"first_name": "Anne", "last_name": "Lee", "merge_policy": "overwrite"}).want(t, http.StatusOK)
	c := res.data()
	if c["id"] != id || c["first_name"] != "Anne" || c["phone"] != "+14155550100" || c["phone_valid"] != true {
		t.Fatalf("overwrite: %s", res.Raw)
	}
	if !hasAlias(c, "phone:+9664155550100") {
		t.Fatalf("invalid phone not kept as an alias: %v", aliasesOf(c))
	}
	want := "invalid_phone phone phone +9664155550100 is not a valid number; kept as an alias, the valid +14155550100 stays primary"
	if got := warningsOf(res); len(got) != 1 || got[0] != want {
		t.Fatalf("warnings %q", got)
	}
	// A valid number still wins under overwrite.
	res = e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "ann@example.com", "phone": "+14155550177",
		"merge_policy": "overwrite"}).want(t, http.StatusOK)
	if c := res.data(); c["phone"] != "+14155550177" || !hasAlias(c, "phone:+14155550100") || len(warningsOf(res)) != 0 {
		t.Fatalf("valid overwrite: %s", res.Raw)
	}
	// A customer left with an invalid primary (the old rule's damage) gets
	// the valid number as primary under the default fill_blanks.
	bob := str(e.createCustomer(map[string]any{"email": "bob@example.com", "phone": "+9664155550101"})["id"])
	res = e.do("POST", "/api/v1/customers/upsert", map[string]any{"email": "bob@example.com", "phone": "+1 415 555 0101"}).
		want(t, http.StatusOK)
	if c := res.data(); c["id"] != bob || c["phone"] != "+14155550101" || c["phone_valid"] != true ||
		!hasAlias(c, "phone:+9664155550101") || metaOf(res)["action"] != "updated" || len(warningsOf(res)) != 0 {
		t.Fatalf("valid phone over an invalid primary: %s", res.Raw)
	}
}

func TestEditsWarnAboutInvalidPhones(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do("POST", "/api/v1/customers", map[string]any{"first_name": "A", "last_name": "B", "phone": "+1-555-0999"}).
		want(t, http.StatusCreated)
	id := str(res.data()["id"])
	want := "invalid_phone phone phone +15550999 is not a valid number; kept as given"
	if got := warningsOf(res); len(got) != 1 || got[0] != want {
		t.Fatalf("create warnings %q", got)
	}
	res = e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"notes": "test line"}).want(t, http.StatusOK)
	if got := warningsOf(res); len(got) != 1 || got[0] != want {
		t.Fatalf("PATCH warnings %q", got)
	}
	res = e.do("PUT", "/api/customers/"+id, map[string]any{"notes": "still a test line"}).want(t, http.StatusOK)
	if got := warningsOf(res); len(got) != 1 || got[0] != want || res.data()["notes"] != "still a test line" {
		t.Fatalf("ERP PUT warnings %q; body %s", got, res.Raw)
	}
	// The location-scoped API answers the same meta beside its envelope.
	loc := str(e.createLocation(map[string]any{"name": "Lab"})["id"])
	res = e.do("POST", "/api/v1/locations/"+loc+"/customers", map[string]any{"name": "Test Line", "phone": "+1-555-0998"}).
		wantScoped(t, http.StatusCreated, "Customer created!")
	if got := warningsOf(res); len(got) != 1 || got[0] != "invalid_phone phone phone +15550998 is not a valid number; kept as given" {
		t.Fatalf("location create warnings %q; body %s", got, res.Raw)
	}
	res = e.do("PUT", "/api/v1/locations/"+loc+"/customers/"+str(res.data()["id"]), map[string]any{"phone": "+14155550142"}).
		wantScoped(t, http.StatusOK, "Customer updated!")
	if _, ok := res.Body["meta"]; ok {
		t.Fatalf("location update with a valid phone warned: %s", res.Raw)
	}
	// A valid phone ends the warnings; GET never warns.
	res = e.do("PUT", "/api/v1/customers/"+id, map[string]any{"first_name": "A", "last_name": "B", "phone": "+14155550100"}).
		want(t, http.StatusOK)
	if _, ok := res.Body["meta"]; ok {
		t.Fatalf("valid phone warned: %s", res.Raw)
	}
	e.do("PATCH", "/api/v1/customers/"+id, map[string]any{"phone": "+1-555-0999"}).want(t, http.StatusOK)
	if res := e.do("GET", "/api/v1/customers/"+id, nil).want(t, http.StatusOK); res.Body["meta"] != nil {
		t.Fatalf("GET warned: %s", res.Raw)
	}
}

// The Riyadh story of issue 19: a location in SA imports a US number
// written without its country code for a customer whose stored phone is
// that number. Read in SA it is not a valid number: the valid phone stays
// primary under every policy, the misread one is kept as an alias, and the
// import counts and lists a warning saying how it was read.
func TestImportRiyadhStoryKeepsValidPhone(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	loc := str(e.createLocation(map[string]any{"name": "Riyadh", "default_region": "SA"})["id"])
	id := str(e.createCustomer(map[string]any{"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "phone": "+14155550100"})["id"])
	for _, policy := range []string{"fill_blanks", "overwrite"} {
		file := "Email,First Name,Phone\nann@example.com,Anne,(415) 555-0100\n"
		im := e.importCSV("/api/v1/imports?location_id="+loc+"&merge_policy="+policy, []byte(file))
		if c := counts(im); c["updated"]+c["unchanged"] != 1 || c["created"] != 0 || c["warnings"] != 1 {
			t.Fatalf("%s: counts %v, want the customer matched and 1 warning", policy, c)
		}
		problems := e.do("GET", "/api/v1/imports/"+str(im["id"])+"/errors", nil).want(t, http.StatusOK).list()
		want := `phone "(415) 555-0100" read as +9664155550100 (region SA) is not a valid number; it never replaces a valid phone`
		if len(problems) != 1 || problems[0]["severity"] != "warning" || problems[0]["column"] != "Phone" ||
			problems[0]["row"] != 2.0 || problems[0]["reason"] != want {
			t.Fatalf("%s: problems %v", policy, problems)
		}
		c := e.do("GET", "/api/v1/customers/"+id, nil).want(t, http.StatusOK).data()
		if c["phone"] != "+14155550100" || c["phone_valid"] != true || !hasAlias(c, "phone:+9664155550100") {
			t.Fatalf("%s: phone %v valid %v aliases %v", policy, c["phone"], c["phone_valid"], aliasesOf(c))
		}
	}
	if n := e.count("SELECT count(*) FROM customers"); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
}

// The cause of the Riyadh story: a number without country code is read in
// the location's region first (SPEC §3), but when it is not valid there and
// is valid in the organization's region, that reading wins. A US
// organization's Riyadh store so finds the customer by phone, with nothing
// to warn about; a Saudi number is still read as Saudi there.
func TestRiyadhStoreReadsUSNumbersInTheOrganizationsRegion(t *testing.T) {
	t.Parallel()
	e := newQueueEnv(t, queueOpts{})
	e.do("PATCH", "/api/v1/settings", map[string]any{"default_region": "US"}).want(t, http.StatusOK)
	loc := str(e.createLocation(map[string]any{"name": "Riyadh", "default_region": "SA"})["id"])
	id := str(e.createCustomer(map[string]any{"first_name": "Ann", "last_name": "Lee", "phone": "+14155550100"})["id"])

	im := e.importCSV("/api/v1/imports?location_id="+loc, []byte("Phone,First Name,Email\n(415) 555-0100,Ann,ann@example.com\n050 123 4567,Sara,sara@example.com\n"))
	if c := counts(im); c["updated"] != 1 || c["created"] != 1 || c["warnings"] != 0 {
		t.Fatalf("counts %v, want Ann updated, Sara created, no warning", c)
	}
	ann := e.do("GET", "/api/v1/customers/"+id, nil).want(t, http.StatusOK).data()
	if ann["phone"] != "+14155550100" || ann["email"] != "ann@example.com" || len(aliasesOf(ann)) != 0 {
		t.Fatalf("ann %v aliases %v", ann, aliasesOf(ann))
	}
	sara := e.do("GET", "/api/v1/customers/lookup?email=sara@example.com", nil).want(t, http.StatusOK).data()
	if sara["phone"] != "+966501234567" || sara["phone_valid"] != true {
		t.Fatalf("sara's phone %v", sara["phone"])
	}
	// The upsert at that location reads the same way.
	res := e.do("POST", "/api/v1/locations/"+loc+"/customers/upsert", map[string]any{"phone": "(415) 555-0100"}).want(t, http.StatusOK)
	if res.data()["id"] != id || metaOf(res)["matched_on"] != "phone" || len(warningsOf(res)) != 0 {
		t.Fatalf("upsert at the location: %s", res.Raw)
	}
}

func firstOf(list []any) any {
	if len(list) == 0 {
		return nil
	}
	return list[0]
}
