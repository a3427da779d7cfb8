package api_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/linkitworks/customers/linkittest"
)

// TestDocsPageRenders opens /docs in headless Chromium: Redoc, under the
// page's CSP, renders the document's operations, with no console error,
// exception or CSP refusal.
func TestDocsPageRenders(t *testing.T) {
	t.Parallel()
	path := os.Getenv("LINKIT_CHROMIUM")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatal("no Chromium found: run scripts/test-deps.sh (apt-get install chromium) or set LINKIT_CHROMIUM")
		}
	}
	s := linkittest.New(t, linkittest.WithoutQueue())
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-background-networking", true))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	var mu sync.Mutex
	var problems []string
	problem := func(p string) { mu.Lock(); problems = append(problems, p); mu.Unlock() }
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("browser: %v", err)
	}
	go func() {
		for ev, err := range chromedp.Events(ctx, cdplog.EntryAdded) {
			if err != nil {
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError {
				problem(fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(ctx, runtime.ExceptionThrown) {
			if err != nil {
				return
			}
			problem("exception: " + ev.ExceptionDetails.Text)
		}
	}()
	err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/docs"),
		// Redoc gives each operation a section named by its operationId.
		chromedp.WaitVisible(chromedp.CSS(`[data-section-id="operation/lookupCustomer"]`)))
	if err != nil {
		t.Fatalf("/docs did not render: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Linkit Customers API", "Find or create a customer through the queue", "bearer"} {
		if !strings.Contains(text, want) {
			t.Errorf("/docs lacks %q", want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		// The "API docs by Redocly" badge's image stays blocked: the page
		// loads nothing from elsewhere.
		if !strings.Contains(p, "https://cdn.redoc.ly/") {
			t.Errorf("browser: %s", p)
		}
	}
}
