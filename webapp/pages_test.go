package webapp

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// seed gives the organization what every page shows: a location, a group,
// an import with a refused row, customers with an address, tags and a
// conflict (a suggested duplicate where the duplicate review exists).
func seed(t *testing.T, e *env) (importID, customerID string) {
	t.Helper()
	grp := e.Do("POST", "/api/v1/customer-groups", map[string]any{"name": "VIP", "description": "Top spenders"}).Want(t, http.StatusCreated).Data()["id"].(string)
	loc := e.Do("POST", "/api/v1/locations", map[string]any{"name": "Riyadh Mall", "code": "RUH", "default_region": "SA",
		"timezone": "Asia/Riyadh", "default_tags": []string{"riyadh"}, "default_group_ids": []string{grp}}).Want(t, http.StatusCreated).Data()["id"].(string)
	csv := "First Name,Last Name,E-mail Address,Mobile,City\n" +
		"Hana,Saleh,hana@example.com,0502223344,Riyadh\n" +
		"Khalid,Omar,khalid@example.com,0503334455,Riyadh\n" +
		"Hana,Saleh,HANA@example.com,,Riyadh\n" +
		"Bad,Row,not-an-email,12,Riyadh\n"
	id := e.Upload("/api/v1/imports?tags=spring&location_id="+loc, "customers.csv", "", []byte(csv)).Want(t, http.StatusAccepted).Data()["id"].(string)
	im := e.WaitImport(id, time.Minute)
	if im["status"] != "completed" {
		t.Fatalf("seed import: %v", im)
	}
	hana := e.Do("GET", "/api/v1/customers/lookup?email=hana@example.com", nil).Want(t, http.StatusOK).Data()["id"].(string)
	e.Do("POST", "/api/v1/customers/"+hana+"/addresses", map[string]any{"label": "Home", "address_line1": "King Fahd Road 1",
		"city": "Riyadh", "state": "Riyadh", "country": "SA", "postal_code": "12211"}).Want(t, http.StatusCreated)
	// Khalid's email with Hana's phone: a conflict the engine records.
	e.Do("POST", "/api/v1/customers/upsert", map[string]any{"first_name": "Khalid", "last_name": "Omar",
		"email": "khalid@example.com", "phone": "+966502223344"})
	return im["id"].(string), hana
}

// TestBrowserEveryPage opens every page of the app at 1280×800 and 390×844:
// each renders its data (no template gaps), nothing scrolls sideways on a
// phone, and the browser reports no script error or CSP refusal. With
// LINKIT_SCREENSHOTS=docs/screenshots (from the repository root:
// ../docs/screenshots) it also writes the README's screenshots.
func TestBrowserEveryPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	importID, hana := seed(t, e)
	tb := newTab(t, e.Web.URL)
	shots := os.Getenv("LINKIT_SCREENSHOTS")

	tb.open("/app/login", "#api_key")
	if shots != "" {
		tb.screenshot(filepath.Join(shots, "sign-in.png"))
	}
	tb.signIn(e.Key)

	pages := []struct{ name, path, wait, want string }{
		{"imports", "/app/imports", "#past", "customers.csv"},
		{"import", "/app/imports/" + importID, "#counts", "Not imported"},
		{"customers", "/app/customers", "#customers-table", "hana@example.com"},
		{"customer", "/app/customers/" + hana, "#timeline", "King Fahd Road 1"},
		{"duplicates", "/app/duplicates", "h1", "Duplicate review"},
		{"settings", "/app/settings", "#settings-form", "Save settings"},
		{"locations", "/app/locations", "#locations-table", "Riyadh Mall"},
	}
	// The pair under review, where this build has the duplicate review.
	if res := e.Do("GET", "/api/v1/duplicates", nil); res.Status == http.StatusOK {
		pairs := waitPairs(t, e)
		pages = append(pages, struct{ name, path, wait, want string }{"duplicate", "/app/duplicates/" + pairs[0]["id"].(string), "#compare", "Same person?"})
		pages[4].want = "Khalid Omar" // the queue names its customers
	}
	for _, p := range pages {
		for _, size := range []struct{ w, h int64 }{{1280, 800}, {390, 844}} {
			tb.do(chromedp.EmulateViewport(size.w, size.h))
			tb.open(p.path, p.wait)
			html := tb.pages[len(tb.pages)-1]
			if !strings.Contains(html, p.want) {
				t.Errorf("%s page lacks %q", p.name, p.want)
			}
			if strings.Contains(html, "no value") || strings.Contains(html, "could not be shown") {
				t.Errorf("%s page has a template gap", p.name)
			}
			if eval[bool](tb, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
				t.Errorf("%s page scrolls sideways at %d×%d", p.name, size.w, size.h)
			}
			if shots != "" && size.w == 1280 {
				tb.screenshot(filepath.Join(shots, p.name+".png"))
			}
		}
	}
	// Keyboard: the first Tab reaches the skip link, which is labelled.
	tb.do(chromedp.EmulateViewport(1280, 800), chromedp.KeyEvent("\t"))
	if got := eval[string](tb, `document.activeElement.textContent`); got != "Skip to content" {
		t.Errorf("first Tab focuses %q, want the skip link", got)
	}
	// Every control has a label.
	unlabelled := eval[[]string](tb, `[...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.name)`)
	if len(unlabelled) > 0 {
		t.Errorf("controls without a label: %v", unlabelled)
	}
	tb.assertNoBrowserProblems()
	tb.assertKeyNeverExposed(e.Key, e.Logs.String())
}

// screenshot saves the viewport as PNG.
func (tb *tab) screenshot(path string) {
	tb.t.Helper()
	png := run(tb, chromedp.CaptureScreenshot())
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}
