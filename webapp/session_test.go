package webapp

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/linkitworks/customers/linkittest"
)

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// TestSessionSignInCSRFAndRevocation: a key buys an HttpOnly session
// cookie, forms need the CSRF token (403 without), a revoked key ends the
// session, sign-out ends it, and the key is in no page, cookie or log.
func TestSessionSignInCSRFAndRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := browserlessClient(t)

	res, err := c.Get(e.Web.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/app/" {
		t.Fatalf("GET / = %d %q, want 302 to /app/", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ = c.Get(e.Web.URL + "/app/customers")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/app/login") {
		t.Fatalf("signed-out page = %d %q, want 303 to the sign-in page", res.StatusCode, res.Header.Get("Location"))
	}

	res = postForm(t, c, e.Web.URL+"/app/login", url.Values{"api_key": {"lk_nope_nope"}})
	if b := body(t, res); res.StatusCode != http.StatusUnauthorized || !strings.Contains(b, "That key was not accepted") {
		t.Fatalf("wrong key = %d, body lacks the explanation:\n%s", res.StatusCode, b)
	}
	// A sign-in posted by another site's page is refused.
	res = postForm(t, c, e.Web.URL+"/app/login", url.Values{"api_key": {e.Key}}, "Origin", "https://evil.example")
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site sign-in = %d, want 403", res.StatusCode)
	}

	res = postForm(t, c, e.Web.URL+"/app/login", url.Values{"api_key": {e.Key}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in = %d, want 303", res.StatusCode)
	}
	cookies := res.Cookies()
	if len(cookies) != 1 || cookies[0].Name != cookieName || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteLaxMode || cookies[0].Secure {
		t.Fatalf("cookies = %+v, want one HttpOnly SameSite=Lax session cookie (not Secure over plain HTTP)", cookies)
	}
	if strings.Contains(cookies[0].Value, e.Key) || strings.Contains(res.Header.Get("Location"), e.Key) {
		t.Fatal("the API key is in the cookie or the redirect")
	}

	res, _ = c.Get(e.Web.URL + "/app/settings")
	page := body(t, res)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Save settings") {
		t.Fatalf("settings page = %d:\n%s", res.StatusCode, page)
	}
	if strings.Contains(page, e.Key) {
		t.Fatal("the API key is in the page")
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("Content-Security-Policy = %q", csp)
	}
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token in the settings form")
	}
	token := m[1]

	form := url.Values{"default_region": {"SA"}, "match_keys": {"email, phone"}, "default_merge_policy": {"fill_blanks"}, "name_check": {"true"}}
	res = postForm(t, c, e.Web.URL+"/app/settings", form)
	if b := body(t, res); res.StatusCode != http.StatusForbidden {
		t.Fatalf("POST without CSRF token = %d, want 403:\n%s", res.StatusCode, b)
	}
	if got := e.Do("GET", "/api/v1/settings", nil).Data()["default_region"]; got == "SA" {
		t.Fatal("the refused POST changed the settings")
	}
	form.Set("csrf_token", "not-the-token")
	if res = postForm(t, c, e.Web.URL+"/app/settings", form); res.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with a wrong CSRF token = %d, want 403", res.StatusCode)
	}
	form.Set("csrf_token", token)
	if res = postForm(t, c, e.Web.URL+"/app/settings", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST with the CSRF token = %d, want 303: %s", res.StatusCode, body(t, res))
	}
	st := e.Do("GET", "/api/v1/settings", nil).Data()
	if st["default_region"] != "SA" || len(st["match_keys"].([]any)) != 2 {
		t.Fatalf("settings after the form = %v", st)
	}
	// A bad value comes back as the API's message naming the field.
	form.Set("default_region", "ZZ")
	res = postForm(t, c, e.Web.URL+"/app/settings", form)
	if b := body(t, res); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b, "default_region") {
		t.Fatalf("bad region = %d, want 422 naming default_region:\n%s", res.StatusCode, b)
	}

	// Revoking the key ends the session at once.
	keyID := "key_" + strings.SplitN(strings.TrimPrefix(e.Key, "lk_"), "_", 2)[0]
	if _, err := e.Store.RevokeAPIKey(context.Background(), keyID); err != nil {
		t.Fatal(err)
	}
	res, _ = c.Get(e.Web.URL + "/app/settings")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/app/login") {
		t.Fatalf("page after revocation = %d %q, want the sign-in page", res.StatusCode, res.Header.Get("Location"))
	}
	if strings.Contains(e.Logs.String(), e.Key) {
		t.Fatal("the API key is in the logs")
	}
}

// TestSignOutEndsSession: after sign-out the old cookie opens nothing.
func TestSignOutEndsSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := browserlessClient(t)
	res := postForm(t, c, e.Web.URL+"/app/login", url.Values{"api_key": {e.Key}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", res.StatusCode)
	}
	cookie := res.Cookies()[0]
	res, _ = c.Get(e.Web.URL + "/app/imports")
	page := body(t, res)
	token := csrfField.FindStringSubmatch(page)[1]
	res = postForm(t, c, e.Web.URL+"/app/logout", url.Values{"csrf_token": {token}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out = %d", res.StatusCode)
	}
	// Even a client that kept the cookie is signed out.
	req, _ := http.NewRequest(http.MethodGet, e.Web.URL+"/app/imports", nil)
	req.AddCookie(cookie)
	res, err := browserlessClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("old cookie after sign-out = %d, want 303 to sign-in", res.StatusCode)
	}
}

// TestOtherOrganizationIsNotFound: a signed-in merchant opening another
// organization's import or customer gets the not-found page, nothing of it.
func TestOtherOrganizationIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, otherKey := linkittest.NewOrg(t, e.Store, "Other", "")
	other := linkittest.Client{T: t, URL: e.URL, Key: otherKey}
	imp := other.Upload("/api/v1/imports", "secret-list.csv", "", []byte("Email\nsecret@example.com\n")).Want(t, http.StatusAccepted).Data()["id"].(string)
	other.WaitImport(imp, time.Minute)
	cust := other.Do("GET", "/api/v1/customers/lookup?email=secret@example.com", nil).Want(t, http.StatusOK).Data()["id"].(string)

	c := browserlessClient(t)
	if res := postForm(t, c, e.Web.URL+"/app/login", url.Values{"api_key": {e.Key}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", res.StatusCode)
	}
	for _, path := range []string{"/app/imports/" + imp, "/app/customers/" + cust, "/app/imports/" + imp + "/errors.csv"} {
		res, err := c.Get(e.Web.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b := body(t, res)
		if res.StatusCode != http.StatusNotFound || strings.Contains(b, "secret") {
			t.Errorf("GET %s = %d, want 404 without the other organization's data:\n%s", path, res.StatusCode, b)
		}
	}
}

// TestSessionSpendsItsKeysRateLimit: the app's calls count against the
// signed-in key's rate limit, and a merchant over it is told to wait.
func TestSessionSpendsItsKeysRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Do("PATCH", "/api/v1/settings", map[string]any{"rate_limit": map[string]any{"default": 10}}).Want(t, http.StatusOK)
	c := browserlessClient(t)
	if res := postForm(t, c, e.Web.URL+"/app/login", url.Values{"api_key": {e.Key}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", res.StatusCode)
	}
	// More pages than the limit needs: the limiter fails open when Redis
	// is slow to answer, which a loaded machine can make it.
	for i := 0; i < 30; i++ {
		res, err := c.Get(e.Web.URL + "/app/customers")
		if err != nil {
			t.Fatal(err)
		}
		b := body(t, res)
		if res.StatusCode == http.StatusTooManyRequests {
			if !strings.Contains(b, "Rate limit exceeded") {
				t.Fatalf("429 page does not say why:\n%s", b)
			}
			return
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("page %d = %d:\n%s", i, res.StatusCode, b)
		}
	}
	t.Fatal("thirty pages of three API calls each stayed under a limit of 10 a minute")
}
