package api_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/linkittest"
)

func TestSettingsDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK).data()
	want := map[string]any{
		"default_region":         nil,
		"match_keys":             []any{"external_id", "email", "phone"},
		"email_canonicalization": false,
		"default_merge_policy":   "fill_blanks",
		"name_check":             true,
		"blocklist":              map[string]any{"emails": []any{}, "phones": []any{}},
	}
	for k, v := range want {
		if !reflect.DeepEqual(d[k], v) {
			t.Errorf("%s = %#v, want %#v", k, d[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339, str(d["updated"])); err != nil {
		t.Errorf("updated = %v, want an RFC 3339 time", d["updated"])
	}

	// The region given at creation is the settings' default region.
	_, key := e.newOrg("Riyadh Retail", "SA")
	d = e.doKey(key, "GET", "/api/v1/settings", nil).want(t, http.StatusOK).data()
	if d["default_region"] != "SA" {
		t.Errorf("default_region = %v, want SA", d["default_region"])
	}
}

func TestSettingsRequireKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.doKey("", "GET", "/api/v1/settings", nil).wantError(t, http.StatusUnauthorized)
	e.doKey("", "PATCH", "/api/v1/settings", map[string]any{"name_check": false}).wantError(t, http.StatusUnauthorized)
	e.doKey("lk_nope_nope", "GET", "/api/v1/settings", nil).wantError(t, http.StatusUnauthorized)
}

func TestSettingsPatchEachMember(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK).data()
	for _, tc := range []struct {
		member string
		value  any
		want   any
	}{
		{"default_region", "gb", "GB"},
		{"match_keys", []string{"phone", "email"}, []any{"phone", "email"}},
		{"email_canonicalization", true, true},
		{"default_merge_policy", "overwrite", "overwrite"},
		{"name_check", false, false},
		{"blocklist", map[string]any{"emails": []string{"front@store.example"}},
			map[string]any{"emails": []any{"front@store.example"}, "phones": []any{}}},
	} {
		got := e.do("PATCH", "/api/v1/settings", map[string]any{tc.member: tc.value}).want(t, http.StatusOK).data()
		if !reflect.DeepEqual(got[tc.member], tc.want) {
			t.Errorf("PATCH %s: answered %#v, want %#v", tc.member, got[tc.member], tc.want)
		}
		read := e.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK).data()
		if !reflect.DeepEqual(read[tc.member], tc.want) {
			t.Errorf("GET after PATCH %s: %#v, want %#v", tc.member, read[tc.member], tc.want)
		}
	}
	after := e.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK).data()
	if after["default_region"] != "GB" || after["name_check"] != false || after["default_merge_policy"] != "overwrite" {
		t.Errorf("later patches undid earlier ones: %v", after)
	}
	if str(after["updated"]) <= str(before["updated"]) {
		t.Errorf("updated = %v, want later than %v", after["updated"], before["updated"])
	}

	// merge-patch+json is the patch's own media type; unknown members and
	// "updated" are ignored.
	res := e.do("PATCH", "/api/v1/settings", `{"email_canonicalization": false, "colour": "red", "updated": "2001-01-01T00:00:00Z"}`,
		"Content-Type", "application/merge-patch+json").want(t, http.StatusOK).data()
	if res["email_canonicalization"] != false || strings.HasPrefix(str(res["updated"]), "2001") {
		t.Errorf("merge-patch+json answer: %v", res)
	}
}

func TestSettingsNullResets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("PATCH", "/api/v1/settings", map[string]any{
		"default_region": "US", "match_keys": []string{"email"}, "email_canonicalization": true,
		"default_merge_policy": "do_not_update", "name_check": false,
		"blocklist": map[string]any{"emails": []string{"a@b.example"}, "phones": []string{"4155550100"}},
	}).want(t, http.StatusOK)

	// Emails only: the phones stay.
	d := e.do("PATCH", "/api/v1/settings", map[string]any{"blocklist": map[string]any{"emails": nil}}).want(t, http.StatusOK).data()
	if want := map[string]any{"emails": []any{}, "phones": []any{"+14155550100"}}; !reflect.DeepEqual(d["blocklist"], want) {
		t.Errorf("blocklist = %#v, want %#v", d["blocklist"], want)
	}

	d = e.do("PATCH", "/api/v1/settings", `{"default_region": null, "match_keys": null, "email_canonicalization": null,
		"default_merge_policy": null, "name_check": null, "blocklist": null}`).want(t, http.StatusOK).data()
	fresh := newEnv(t).do("GET", "/api/v1/settings", nil).want(t, http.StatusOK).data()
	for _, k := range []string{"default_region", "match_keys", "email_canonicalization", "default_merge_policy", "name_check", "blocklist"} {
		if !reflect.DeepEqual(d[k], fresh[k]) {
			t.Errorf("%s after null = %#v, want the default %#v", k, d[k], fresh[k])
		}
	}
}

func TestSettingsBlocklistNormalized(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.do("PATCH", "/api/v1/settings", map[string]any{
		"default_region": "US",
		"blocklist": map[string]any{
			"emails": []string{"  Family@Example.COM ", "family@example.com", "test@test.com"},
			"phones": []string{"(415) 555-0100", "+1 415 555 0100", "0000000000"},
		},
	}).want(t, http.StatusOK).data()
	want := map[string]any{
		"emails": []any{"family@example.com", "test@test.com"},
		"phones": []any{"+14155550100", "+10000000000"},
	}
	if !reflect.DeepEqual(d["blocklist"], want) {
		t.Errorf("blocklist = %#v, want %#v", d["blocklist"], want)
	}
	if got := e.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK).data()["blocklist"]; !reflect.DeepEqual(got, want) {
		t.Errorf("stored blocklist = %#v, want %#v", got, want)
	}
}

func TestSettingsInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprintf("user%d@example.com", i)
	}
	for _, tc := range []struct {
		name  string
		patch any
		field string
	}{
		{"unknown region", map[string]any{"default_region": "XX"}, "default_region"},
		{"region not a code", map[string]any{"default_region": "USA"}, "default_region"},
		{"unknown match key", map[string]any{"match_keys": []string{"email", "name"}}, "match_keys"},
		{"empty match keys", map[string]any{"match_keys": []string{}}, "match_keys"},
		{"duplicate match key", map[string]any{"match_keys": []string{"email", "phone", "email"}}, "match_keys"},
		{"bad policy", map[string]any{"default_merge_policy": "newest_wins"}, "default_merge_policy"},
		{"bad blocklist email", map[string]any{"blocklist": map[string]any{"emails": []string{"not-an-email"}}}, "blocklist.emails"},
		{"bad blocklist phone", map[string]any{"blocklist": map[string]any{"phones": []string{"call me"}}}, "blocklist.phones"},
		{"too many emails", map[string]any{"blocklist": map[string]any{"emails": many}}, "blocklist.emails"},
		{"too many phones", map[string]any{"blocklist": map[string]any{"phones": many}}, "blocklist.phones"},
		{"region type", `{"default_region": 1}`, "default_region"},
		{"match keys type", `{"match_keys": "email"}`, "match_keys"},
		{"canonicalization type", `{"email_canonicalization": "yes"}`, "email_canonicalization"},
		{"policy type", `{"default_merge_policy": true}`, "default_merge_policy"},
		{"name check type", `{"name_check": 0}`, "name_check"},
		{"blocklist type", `{"blocklist": ["a@b.example"]}`, "blocklist"},
		{"blocklist emails type", `{"blocklist": {"emails": "a@b.example"}}`, "blocklist.emails"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do("PATCH", "/api/v1/settings", tc.patch).wantError(t, http.StatusUnprocessableEntity, tc.field)
		})
	}
	// Nothing of the refused patches was stored.
	d := e.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK).data()
	if d["default_region"] != nil || d["default_merge_policy"] != "fill_blanks" || len(d["match_keys"].([]any)) != 3 {
		t.Errorf("settings after refused patches: %v", d)
	}
	e.do("PATCH", "/api/v1/settings", `{"name_check": false`).wantError(t, http.StatusBadRequest)
	e.do("PATCH", "/api/v1/settings", `{}`, "Content-Type", "text/plain").wantError(t, http.StatusUnsupportedMediaType)
}

func TestSettingsTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, other := e.newOrg("Other", "FR")
	e.do("PATCH", "/api/v1/settings", map[string]any{"default_region": "US", "name_check": false,
		"blocklist": map[string]any{"emails": []string{"front@store.example"}}}).want(t, http.StatusOK)
	d := e.doKey(other, "GET", "/api/v1/settings", nil).want(t, http.StatusOK).data()
	if d["default_region"] != "FR" || d["name_check"] != true || len(d["blocklist"].(map[string]any)["emails"].([]any)) != 0 {
		t.Errorf("other org's settings changed: %v", d)
	}
}

// TestSettingsSeenByAnotherProcess runs two API servers over one database
// and Redis, each caching keys for 10 s: a change made through one is
// served by the other within a second.
func TestSettingsSeenByAnotherProcess(t *testing.T) {
	t.Parallel()
	cfg := api.Config{AuthCacheTTL: 10 * time.Second}
	stack := linkittest.New(t, linkittest.WithAPI(cfg), linkittest.WithoutWorker())
	a := wrap(t, stack)
	second := stack.AnotherAPI(t, cfg)
	other := &env{t: t, url: second.URL, store: stack.Store, org: a.org, key: a.key}

	// The second process caches the key with the settings of now.
	if d := other.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK).data(); d["name_check"] != true {
		t.Fatalf("name_check = %v before the change", d["name_check"])
	}
	a.do("PATCH", "/api/v1/settings", map[string]any{"name_check": false, "default_region": "DE"}).want(t, http.StatusOK)
	deadline := time.Now().Add(time.Second)
	for {
		d := other.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK).data()
		if d["name_check"] == false && d["default_region"] == "DE" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("other process still serves %v a second after the change", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
