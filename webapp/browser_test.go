package webapp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// One headless Chromium serves every browser test of the package; each test
// gets a browser context of its own (its own cookies and storage).
var browser struct {
	once    sync.Once
	ctx     context.Context
	err     error
	cleanup func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cleanup != nil {
		browser.cleanup()
	}
	os.Exit(code)
}

// chromiumPath finds the browser: LINKIT_CHROMIUM, else Debian's chromium.
func chromiumPath() (string, error) {
	if p := os.Getenv("LINKIT_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium found: the web app's browser tests need it; run scripts/test-deps.sh (apt-get install chromium) or set LINKIT_CHROMIUM")
}

func startBrowser() (context.Context, error) {
	browser.once.Do(func() {
		path, err := chromiumPath()
		if err != nil {
			browser.err = err
			return
		}
		dir, err := os.MkdirTemp("", "linkit-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 800),
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true),
		}
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(allocCtx)
		browser.cleanup = func() { cancel(); cancelAlloc(); os.RemoveAll(dir) }
		if err := chromedp.Do(ctx); err != nil {
			browser.err = fmt.Errorf("start %s: %w", path, err)
			return
		}
		browser.ctx = ctx
	})
	return browser.ctx, browser.err
}

// tab is one test's browser context, with what the key-leak checks need:
// every URL requested and every page seen.
type tab struct {
	t     *testing.T
	ctx   context.Context
	base  string
	mu    sync.Mutex
	urls  []string
	pages []string
	// problems the browser reported: script errors, CSP refusals
	problems []string
}

func (tb *tab) problem(msg string) {
	tb.mu.Lock()
	tb.problems = append(tb.problems, msg)
	tb.mu.Unlock()
	tb.t.Logf("browser: %s", msg)
}

// assertNoBrowserProblems: no script error and no Content-Security-Policy
// refusal happened on the pages shown.
func (tb *tab) assertNoBrowserProblems() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, p := range tb.problems {
		tb.t.Errorf("the browser reported: %s", p)
	}
}

func newTab(t *testing.T, base string) *tab {
	t.Helper()
	bctx, err := startBrowser()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, base: base}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("browser: %v", err)
	}
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.urls = append(tb.urls, ev.Request.URL)
			tb.mu.Unlock()
		}
	}()
	// The page's console errors, exceptions and the browser's own log (CSP
	// refusals, failed loads) are problems.
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("browser: %v", err)
	}
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError {
				tb.problem(fmt.Sprintf("%s %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}()
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type != runtime.ConsoleAPICalledTypeError {
				continue
			}
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			tb.problem("console.error: " + strings.Join(args, " "))
		}
	}()
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			tb.problem("exception: " + ev.ExceptionDetails.Text)
		}
	}()
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			// hx-confirm: the merchant says yes.
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	// Registered last, so it runs first: the tab is still open.
	t.Cleanup(func() {
		if t.Failed() {
			tb.saveArtifacts()
		}
	})
	return tb
}

// stepTimeout bounds one step (an import of 1,000 rows included) on a
// loaded machine.
const stepTimeout = time.Minute

// do performs steps, failing the test with the step that failed.
func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// get runs one action that returns a value.
func run[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
	return v
}

// eval runs JavaScript in the page, awaiting a promise.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	return run(tb, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// visible waits for the element sel.
func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

// open loads a page of the app and waits for sel.
func (tb *tab) open(path, sel string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.base+path), visible(sel))
	tb.snapshot()
}

// snapshot keeps the page's HTML for the key-leak check.
func (tb *tab) snapshot() {
	tb.t.Helper()
	html := run(tb, chromedp.OuterHTML(chromedp.CSS("html")))
	tb.mu.Lock()
	tb.pages = append(tb.pages, html)
	tb.mu.Unlock()
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return strings.TrimSpace(run(tb, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible)))
}

// saveArtifacts writes a screenshot and the page's HTML where CI keeps them.
func (tb *tab) saveArtifacts() {
	dir := os.Getenv("LINKIT_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	dir = filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(tb.t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Logf("artefacts: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	url, _ := chromedp.Run(ctx, chromedp.Location())
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Logf("artefacts: screenshot: %v", err)
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		tb.t.Logf("artefacts: HTML: %v", err)
	}
	_ = os.WriteFile(filepath.Join(dir, "page.png"), png, 0o644)
	_ = os.WriteFile(filepath.Join(dir, "page.html"), []byte("<!-- "+url+" -->\n"+html), 0o644)
	abs, _ := filepath.Abs(dir)
	tb.t.Logf("browser artefacts (screenshot, HTML) of the failure: %s", abs)
}

// signIn types the key into the sign-in page, as a merchant does.
func (tb *tab) signIn(key string) {
	tb.t.Helper()
	tb.open("/app/login", "#api_key")
	tb.do(chromedp.SendKeys(chromedp.CSS("#api_key"), key), chromedp.Submit(chromedp.CSS("#api_key")), visible(`nav[aria-label="Main"]`))
	tb.snapshot()
}

// assertKeyNeverExposed: the API key is in no page, cookie, URL, browser
// storage or log line.
func (tb *tab) assertKeyNeverExposed(key string, logs string) {
	tb.t.Helper()
	cookies, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		tb.t.Fatal(err)
	}
	storage := eval[string](tb, `JSON.stringify(localStorage) + JSON.stringify(sessionStorage)`)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for i, p := range tb.pages {
		if strings.Contains(p, key) {
			tb.t.Errorf("page %d shown holds the API key", i)
		}
	}
	if len(tb.urls) < 10 {
		tb.t.Errorf("only %d requests seen: the URL check is not watching", len(tb.urls))
	}
	for _, u := range tb.urls {
		if strings.Contains(u, key) {
			tb.t.Errorf("URL %q holds the API key", u)
		}
	}
	if len(cookies.Cookies) != 1 {
		tb.t.Errorf("cookies = %d, want only the session's", len(cookies.Cookies))
	}
	for _, c := range cookies.Cookies {
		if c.Name != cookieName {
			tb.t.Errorf("unexpected cookie %s", c.Name)
		}
		if strings.Contains(c.Value, key) {
			tb.t.Errorf("cookie %s holds the API key", c.Name)
		}
		if !c.HTTPOnly {
			tb.t.Errorf("cookie %s is readable by scripts", c.Name)
		}
	}
	if strings.Contains(storage, key) {
		tb.t.Error("browser storage holds the API key")
	}
	if strings.Contains(logs, key) {
		tb.t.Error("the logs hold the API key")
	}
}
