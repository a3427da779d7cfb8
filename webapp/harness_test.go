package webapp

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/linkitworks/customers/linkittest"
)

// syncBuffer collects the logs of the API, worker and app, to check that
// no API key is ever written.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is the service with the web app mounted as the binary mounts it.
type env struct {
	*linkittest.Stack
	Web  *httptest.Server
	Logs *syncBuffer
}

func newEnv(t *testing.T, opts ...linkittest.Option) *env {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st := linkittest.New(t, append([]linkittest.Option{linkittest.WithLogger(log)}, opts...)...)
	apiHandler := st.Server.Config.Handler
	web := httptest.NewServer(Mount(New(Config{}, apiHandler, st.Store, log), apiHandler))
	t.Cleanup(web.Close)
	t.Cleanup(func() {
		if t.Failed() {
			l := logs.String()
			t.Logf("service logs (last 8 KB):\n%s", l[max(0, len(l)-8<<10):])
		}
	})
	return &env{Stack: st, Web: web, Logs: logs}
}

// browserlessClient keeps cookies and does not follow redirects.
func browserlessClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func postForm(t *testing.T, c *http.Client, u string, v url.Values, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
