package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/linkittest"
)

// newLimitedEnv is an API whose rate limiter runs on the tests' Redis.
func newLimitedEnv(t *testing.T, limits api.RateLimits) *env {
	t.Helper()
	return wrap(t, linkittest.New(t, linkittest.WithoutWorker(), linkittest.WithAPI(api.Config{RateLimits: limits})))
}

// newKey is another API key of the env's organization.
func (e *env) newKey() string {
	e.t.Helper()
	k, err := e.store.CreateAPIKey(context.Background(), e.org)
	if err != nil {
		e.t.Fatal(err)
	}
	return k.Secret
}

// remaining reads r= of a RateLimit header for policy.
func remaining(t *testing.T, r response, policy string) int {
	t.Helper()
	h := r.Header.Get("RateLimit")
	prefix := fmt.Sprintf("%q;r=", policy)
	rest, ok := strings.CutPrefix(h, prefix)
	if !ok {
		t.Fatalf("RateLimit = %q, want %s…;t=…", h, prefix)
	}
	n, err := strconv.Atoi(strings.Split(rest, ";")[0])
	if err != nil {
		t.Fatalf("RateLimit = %q: %v", h, err)
	}
	if !strings.Contains(rest, ";t=") {
		t.Fatalf("RateLimit = %q lacks t=", h)
	}
	return n
}

// A key over its limit gets 429 with Retry-After and the error body; the
// headers count down before; another key of the same organization and
// another organization keep their own quota.
func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	e := newLimitedEnv(t, api.RateLimits{Default: 5})
	for want := 4; want >= 0; want-- {
		r := e.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK)
		if got := r.Header.Get("RateLimit-Policy"); got != `"default";q=5;w=60` {
			t.Fatalf("RateLimit-Policy = %q", got)
		}
		if got := remaining(t, r, "default"); got != want {
			t.Fatalf("remaining = %d, want %d (RateLimit %q)", got, want, r.Header.Get("RateLimit"))
		}
	}
	r := e.do("GET", "/api/v1/customers", nil).wantError(t, http.StatusTooManyRequests, "policy", "limit", "retry_after_seconds")
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Fatalf("Retry-After = %q, want 1–60 seconds", r.Header.Get("Retry-After"))
	}
	if d := r.details(); d["policy"] != "default" || d["limit"] != float64(5) || d["retry_after_seconds"] != float64(retry) {
		t.Fatalf("details = %v", d)
	}
	if got := remaining(t, r, "default"); got != 0 {
		t.Fatalf("remaining on 429 = %d", got)
	}
	// The location-scoped routes keep their own error envelope.
	scoped := e.do("GET", "/api/v1/locations/loc_nope/customers", nil).want(t, http.StatusTooManyRequests)
	if scoped.Body["success"] != false || str(scoped.Body["message"]) == "" || scoped.Header.Get("Retry-After") == "" {
		t.Fatalf("scoped 429: %s (Retry-After %q)", scoped.Raw, scoped.Header.Get("Retry-After"))
	}
	// Uploads count in a bucket of their own: not limited yet.
	up := e.do("POST", "/api/v1/imports/preview", "x", "Content-Type", "text/plain")
	if up.Status == http.StatusTooManyRequests || !strings.HasPrefix(up.Header.Get("RateLimit-Policy"), `"import";q=`) {
		t.Fatalf("preview: status %d, RateLimit-Policy %q", up.Status, up.Header.Get("RateLimit-Policy"))
	}

	other := e.newKey()
	if got := remaining(t, e.doKey(other, "GET", "/api/v1/settings", nil).want(t, http.StatusOK), "default"); got != 4 {
		t.Fatalf("another key of the organization: remaining %d, want 4", got)
	}
	_, otherOrg := e.newOrg("Other", "")
	if got := remaining(t, e.doKey(otherOrg, "GET", "/api/v1/settings", nil).want(t, http.StatusOK), "default"); got != 4 {
		t.Fatalf("another organization: remaining %d, want 4", got)
	}
	// Failed authentication spends nothing and is answered as before.
	e.doKey("lk_nope_nope", "GET", "/api/v1/settings", nil).wantError(t, http.StatusUnauthorized)
}

// Find-or-create routes count in the upsert bucket, with its own limit.
func TestRateLimitUpsertBucket(t *testing.T) {
	t.Parallel()
	e := newLimitedEnv(t, api.RateLimits{Default: 2, Upsert: 50})
	for _, path := range []string{"/api/v1/customers/upsert", "/api/v1/unified/customer"} {
		r := e.do("POST", path, map[string]any{})
		if r.Status == http.StatusTooManyRequests || r.Header.Get("RateLimit-Policy") != `"upsert";q=50;w=60` {
			t.Fatalf("%s: status %d, RateLimit-Policy %q", path, r.Status, r.Header.Get("RateLimit-Policy"))
		}
	}
	if got := remaining(t, e.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK), "default"); got != 1 {
		t.Fatalf("default bucket after two upserts: remaining %d, want 1", got)
	}
}

// settings.rate_limit changes the limit of the organization's keys from the
// next request; bad values are 422 naming the member.
func TestRateLimitOrgSetting(t *testing.T) {
	t.Parallel()
	e := newLimitedEnv(t, api.RateLimits{})
	r := e.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK)
	if got := r.Header.Get("RateLimit-Policy"); got != fmt.Sprintf(`"default";q=%d;w=60`, api.DefaultRateLimit) {
		t.Fatalf("default policy %q", got)
	}
	if rl := r.data()["rate_limit"]; fmt.Sprint(rl) != "map[default:<nil> import:<nil> upsert:<nil>]" {
		t.Fatalf("rate_limit = %v, want every member null", rl)
	}
	for _, tc := range []struct {
		patch any
		field string
	}{
		{map[string]any{"default": 0}, "rate_limit.default"},
		{map[string]any{"upsert": 1_000_001}, "rate_limit.upsert"},
		{map[string]any{"import": "ten"}, "rate_limit.import"},
		{"fast", "rate_limit"},
	} {
		e.do("PATCH", "/api/v1/settings", map[string]any{"rate_limit": tc.patch}).wantError(t, http.StatusUnprocessableEntity, tc.field)
	}

	d := e.do("PATCH", "/api/v1/settings", map[string]any{"rate_limit": map[string]any{"default": 3, "import": 7}}).
		want(t, http.StatusOK).data()
	if fmt.Sprint(d["rate_limit"]) != "map[default:3 import:7 upsert:<nil>]" {
		t.Fatalf("patched rate_limit = %v", d["rate_limit"])
	}
	limited := false
	for i := 0; i < 4 && !limited; i++ {
		r := e.do("GET", "/api/v1/customers", nil)
		if r.Header.Get("RateLimit-Policy") != `"default";q=3;w=60` {
			t.Fatalf("request %d after the patch: RateLimit-Policy %q", i, r.Header.Get("RateLimit-Policy"))
		}
		limited = r.Status == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("no 429 within 4 requests at 3 per minute")
	}
	// Another organization keeps the server's limits.
	_, otherOrg := e.newOrg("Other", "")
	if got := e.doKey(otherOrg, "GET", "/api/v1/settings", nil).Header.Get("RateLimit-Policy"); !strings.Contains(got, fmt.Sprintf("q=%d", api.DefaultRateLimit)) {
		t.Fatalf("another organization: RateLimit-Policy %q", got)
	}
	// null resets to the server's default, from the next request on.
	fresh := e.newKey()
	e.doKey(fresh, "PATCH", "/api/v1/settings", map[string]any{"rate_limit": nil}).want(t, http.StatusOK)
	r = e.doKey(fresh, "GET", "/api/v1/settings", nil).want(t, http.StatusOK)
	if got := r.Header.Get("RateLimit-Policy"); got != fmt.Sprintf(`"default";q=%d;w=60`, api.DefaultRateLimit) {
		t.Fatalf("after reset: RateLimit-Policy %q", got)
	}
}

// When Redis refuses connections or never answers, the limiter fails open:
// requests are served (without RateLimit headers) and the failures counted.
func TestRateLimitRedisUnavailable(t *testing.T) {
	t.Parallel()
	// A listener that accepts and never answers: a hung Redis.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hung.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()

	s := linkittest.New(t, linkittest.WithoutQueue())
	for name, addr := range map[string]string{"refused": refused, "hung": hung.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
			t.Cleanup(func() { rdb.Close() })
			h := api.NewServer(api.Config{AdminToken: "admin-secret", RateLimits: api.RateLimits{Default: 1}},
				api.Deps{Store: s.Store, RateLimitRedis: rdb})
			e := newServerEnv(t, s.Store, h)
			for i := range 3 {
				start := time.Now()
				r := e.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK)
				if r.Header.Get("RateLimit") != "" {
					t.Fatalf("request %d: RateLimit %q without Redis", i, r.Header.Get("RateLimit"))
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Fatalf("request %d took %s", i, d)
				}
			}
			m := linkittest.Call(t, "GET", e.url+"/metrics", "Bearer admin-secret", nil).Want(t, http.StatusOK).Raw
			// One failure pauses the limiter; a slow machine may see a second.
			if !strings.Contains(m, `linkit_rate_limit_requests_total{bucket="default",result="unchecked"} 3`) ||
				!regexp.MustCompile(`(?m)^linkit_rate_limit_errors_total [1-3]$`).MatchString(m) {
				t.Fatalf("metrics lack the failures:\n%s", grepLines(m, "linkit_rate_limit"))
			}
		})
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A busy key takes its requests from Redis a few at a time (reservations):
// one process's headers still count down one request at a time, a second
// process sees the first one's requests as spent, and concurrent clients
// of both together get no more than the limit (plus what the window
// refilled meanwhile), nor much less.
func TestRateLimitReservedAcrossProcesses(t *testing.T) {
	t.Parallel()
	const limit = 600 // 10 a second: reservations of up to 5 requests
	e := newLimitedEnv(t, api.RateLimits{Default: limit})
	other := e.stack.AnotherAPI(t, api.Config{RateLimits: api.RateLimits{Default: limit}})
	start := time.Now()
	prev := limit
	const first = 40
	for i := range first {
		r := e.do("GET", "/api/v1/settings", nil).want(t, http.StatusOK)
		got := remaining(t, r, "default")
		// Down by one, or unchanged when the window refilled one meanwhile.
		if got != prev-1 && !(i > 0 && got == prev) {
			t.Fatalf("request %d: remaining %d after %d", i, got, prev)
		}
		prev = got
	}
	refilled := func() int { return int(time.Since(start)/(time.Minute/limit)) + 1 }
	r := other.Do("GET", "/api/v1/settings", nil).Want(t, http.StatusOK)
	if got := remaining(t, response{r}, "default"); got > limit-first-1+refilled() {
		t.Fatalf("the other process: remaining %d, want at most %d − %d spent", got, limit, first+1)
	}

	// Both processes, four clients each, until every client is refused.
	var allowed, refused atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for _, url := range []string{e.url, other.URL} {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					req, _ := http.NewRequest("GET", url+"/api/v1/settings", nil)
					req.Header.Set("Authorization", "Bearer "+e.key)
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						errs <- err
						return
					}
					res.Body.Close()
					switch res.StatusCode {
					case http.StatusOK:
						allowed.Add(1)
					case http.StatusTooManyRequests:
						if res.Header.Get("Retry-After") == "" {
							errs <- fmt.Errorf("429 without Retry-After")
						}
						refused.Add(1)
						return
					default:
						errs <- fmt.Errorf("status %d", res.StatusCode)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	spent := first + 1 + int(allowed.Load())
	// Each process may let go of one reservation unspent (at most 5).
	if spent > limit+refilled() || spent < limit-2*5 {
		t.Fatalf("%d requests served of a %d limit (refilled %d meanwhile)", spent, limit, refilled())
	}
}
