package webapp

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// messyCSV writes 1,000 customers the way spreadsheets export them: mixed
// case and spaces in emails, one header no alias knows ("Primary Contact",
// the phone), rows whose only identifier is that phone, rows without any
// valid identifier, and the same person twice.
func messyCSV(t *testing.T) (path string, phoneOnly, invalid int) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "spring customers.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"First Name", "Last Name", "E-mail Address", "Primary Contact", "City"})
	for i := 0; i < 1000; i++ {
		first, last := fmt.Sprintf("Given%d", i), fmt.Sprintf("Family%d", i)
		email, phone := fmt.Sprintf("  Shopper%d@Example.COM ", i), ""
		switch {
		case i%10 == 3:
			email, phone = "", fmt.Sprintf("+1 (212) 555-%04d", i)
			phoneOnly++
		case i%25 == 7:
			email = "not-an-email"
			invalid++
		case i%40 == 11:
			email = fmt.Sprintf("shopper%d@example.com", i-1) // the row before, again
			first, last = fmt.Sprintf("Given%d", i-1), fmt.Sprintf("Family%d", i-1)
		}
		_ = w.Write([]string{first, last, email, phone, "Springfield"})
	}
	w.Flush()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, phoneOnly, invalid
}

// setSelect chooses an option and tells the page, as a person picking it does.
func setSelect(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); return true })()`, sel, value))
}

// TestBrowserImportSearchAndSignOut is the merchant's day in the browser:
// sign in, upload a messy 1,000-row CSV, check the preview, fix a column's
// mapping, start, watch it complete, compare the counts with the API's,
// download the error CSV, find an imported customer and its history, then
// sign out; a POST without the CSRF token is refused; the key leaks nowhere.
func TestBrowserImportSearchAndSignOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	file, phoneOnly, _ := messyCSV(t)
	tb := newTab(t, e.Web.URL)

	tb.signIn(e.Key)
	if got := tb.text("h1"); got != "Imports" {
		t.Fatalf("after sign-in the page is %q, want Imports", got)
	}
	if empty := tb.text("#past + p.empty"); !strings.Contains(empty, "No imports yet") {
		t.Fatalf("empty state = %q", empty)
	}

	// Preview: the unknown column is kept as an attribute until mapped.
	tb.do(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}), visible("#preview table.mapping"))
	tb.snapshot()
	if d := tb.text("#preview .detected"); !strings.Contains(d, "csv") || !strings.Contains(d, "separator ,") {
		t.Fatalf("detected = %q", d)
	}
	mapIndex := eval[string](tb, `String([...document.querySelectorAll('#preview input[name=col]')].findIndex(i => i.value === 'Primary Contact'))`)
	if mapIndex == "-1" {
		t.Fatal("the preview lists no Primary Contact column")
	}
	sel := "#map-" + mapIndex
	chosen := run(tb, chromedp.Value(chromedp.CSS(sel)))
	if chosen != "@attribute" {
		t.Fatalf("Primary Contact is read as %q before the fix, want an attribute", chosen)
	}
	rowText := tb.text("#preview table.rows tbody tr:nth-child(4)")
	if !strings.Contains(rowText, "Not imported") {
		t.Fatalf("row 4 (phone only, unmapped) should be refused in the preview: %q", rowText)
	}

	// Fix the mapping: the preview re-reads the rows with it.
	tb.do(setSelect(sel, "phone"), visible(sel+" + .badge"))
	tb.snapshot()
	if shots := os.Getenv("LINKIT_SCREENSHOTS"); shots != "" {
		tb.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#preview').scrollIntoView()`))
		tb.screenshot(filepath.Join(shots, "import-preview.png"))
	}
	rowText = tb.text("#preview table.rows tbody tr:nth-child(4)")
	if strings.Contains(rowText, "Not imported") || !strings.Contains(rowText, "+1212555") {
		t.Fatalf("row 4 after mapping Primary Contact → phone: %q", rowText)
	}

	// Start, then watch the progress until the result shows.
	tb.do(chromedp.Click(chromedp.CSS("#start")), visible("#progress"))
	loc := run(tb, chromedp.Location())
	id := loc[strings.LastIndex(loc, "/")+1:]
	if !strings.HasPrefix(id, "imp_") {
		t.Fatalf("after start the browser is at %s, want the import's page", loc)
	}
	tb.do(visible("#counts"))
	tb.snapshot()
	if s := tb.text("#import-status"); s != "completed" {
		t.Fatalf("status = %q", s)
	}
	im := e.Do("GET", "/api/v1/imports/"+id, nil).Data()
	counts := im["counts"].(map[string]any)
	for _, k := range []string{"rows", "created", "updated", "unchanged", "merged_in_file", "invalid", "warnings"} {
		want := formatNumber(counts[k])
		if got := tb.text(`dd[data-count="` + k + `"]`); got != want {
			t.Errorf("count %s on the page = %q, the API says %s", k, got, want)
		}
	}
	if n, _ := counts["rows"].(float64); n != 1000 {
		t.Fatalf("rows = %v, want 1000", counts["rows"])
	}
	if c, _ := counts["created"].(float64); c < float64(900+phoneOnly)-float64(1000-900) || counts["invalid"].(float64) == 0 {
		t.Fatalf("counts = %v: the phone-only rows must have been created and the bad rows refused", counts)
	}
	// The errors table lists rows with their reasons.
	if txt := tb.text("#problems-table tbody tr:first-child"); !strings.Contains(txt, "error") {
		t.Fatalf("first problem row = %q", txt)
	}

	// The error CSV the page offers is the API's.
	href := run(tb, chromedp.AttributeValue(chromedp.CSS("#download-errors"), "href")).Value
	got := eval[string](tb, fmt.Sprintf(`fetch(%q).then(r => r.ok ? r.text() : "HTTP " + r.status)`, href))
	want := apiText(t, e, "/api/v1/imports/"+id+"/errors?format=csv")
	if got != want || !strings.Contains(got, "not-an-email") {
		t.Fatalf("downloaded error CSV differs from the API's:\n%s\n---\n%s", got, want)
	}
	if lines := strings.Count(strings.TrimSpace(got), "\n"); lines != int(counts["invalid"].(float64)) {
		t.Errorf("error CSV has %d rows, the import %v invalid", lines, counts["invalid"])
	}

	// Past imports list it.
	tb.open("/app/imports", "#past")
	if txt := tb.text("main table tbody tr:first-child"); !strings.Contains(txt, "spring customers.csv") || !strings.Contains(txt, "completed") {
		t.Fatalf("past imports row = %q", txt)
	}

	// Search finds an imported customer (typed as a person would, any case).
	tb.open("/app/customers", "#search")
	tb.do(chromedp.SendKeys(chromedp.CSS("#search"), "SHOPPER42@example.com"), chromedp.Click(chromedp.CSS("#search-button")),
		// The old page's table is visible too: wait for the filtered page's "Clear filters" link.
		visible(`.filters .actions a[href="/app/customers"]`), visible("#customers-table"))
	if txt := tb.text("#customers-table tbody"); !strings.Contains(txt, "Given42 Family42") || strings.Count(txt, "\n") > 0 {
		t.Fatalf("search result = %q, want only Given42 Family42", txt)
	}
	tb.do(chromedp.Click(chromedp.CSS("#customers-table tbody a")), visible("#timeline"))
	tb.snapshot()
	if name := tb.text("#customer-name"); name != "Given42 Family42" {
		t.Fatalf("detail of %q", name)
	}
	if tl := tb.text("#timeline"); !strings.Contains(tl, "Created") || !strings.Contains(tl, "import") {
		t.Fatalf("history = %q, want the creation by the import", tl)
	}

	tb.assertNoBrowserProblems() // before the refusal below, which the browser reports

	// No CSRF token, no change: the browser's own session is not enough.
	status := eval[int](tb, `fetch('/app/settings', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'default_region=SA&match_keys=email&default_merge_policy=fill_blanks'}).then(r => r.status)`)
	if status != http.StatusForbidden {
		t.Fatalf("POST without the CSRF token = %d, want 403", status)
	}
	if r := e.Do("GET", "/api/v1/settings", nil).Data()["default_region"]; r == "SA" {
		t.Fatal("the refused POST changed the settings")
	}

	// Narrow phone screen: nothing sticks out sideways.
	tb.do(chromedp.EmulateViewport(390, 844), chromedp.Reload(), visible("#timeline"))
	overflow := eval[bool](tb, `document.documentElement.scrollWidth > window.innerWidth + 1`)
	if overflow {
		t.Error("the customer page scrolls sideways at 390×844")
	}
	tb.do(chromedp.EmulateViewport(1280, 800))

	tb.assertKeyNeverExposed(e.Key, e.Logs.String())

	// Sign out: back to the sign-in page, and the app is closed.
	tb.do(chromedp.Click(chromedp.CSS(`.signout button`)), visible("#api_key"))
	tb.do(chromedp.Navigate(e.Web.URL+"/app/customers"), visible("#api_key"))
}

func apiText(t *testing.T, e *env, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.Key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
