// Per-API-key rate limits: GCRA in Redis (redis_rate), requests taken from
// Redis in small reservations (ratelimit_reserve.go), failing open when Redis
// does not answer.

package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/customer"
)

// RateLimits are the server's per-API-key limits in requests per minute, by
// bucket. Zero takes the Default… constant, a negative value leaves the
// bucket unlimited unless an organization sets its own (settings.rate_limit).
type RateLimits struct {
	Default int // every authenticated route not below
	Upsert  int // find-or-create: POST /customers/upsert, its location-scoped form, /unified/customer
	Import  int // uploads: POST /imports and /imports/preview
}

// The default limits: far above what a till, an integration or the docs'
// tour sends, so only a runaway client meets them. Checkouts get their own,
// higher bucket so a burst of reads never blocks a sale; uploads a lower one,
// each being a whole file.
const (
	DefaultRateLimit       = 6000
	DefaultRateLimitUpsert = 30000
	DefaultRateLimitImport = 600
)

// Rate limit buckets, as the RateLimit-Policy header names them.
const (
	bucketDefault = "default"
	bucketUpsert  = "upsert"
	bucketImport  = "import"
)

// rateLimitWindow is the window of every policy: limits are per minute.
const rateLimitWindow = time.Minute

// rateLimitTimeout bounds the wait for Redis: past it the request is served
// unlimited rather than slowed.
const rateLimitTimeout = 250 * time.Millisecond

// rateLimitPause is how long the limiter leaves Redis alone after it failed,
// so an outage costs requests no timeout each.
const rateLimitPause = time.Second

// bucketOf maps a route pattern (routes.go) to its bucket.
func bucketOf(pattern string) string {
	switch pattern {
	case "POST /api/v1/customers/upsert", "POST /api/v1/locations/{location_id}/customers/upsert",
		"POST /api/v1/unified/customer":
		return bucketUpsert
	case "POST /api/v1/imports", "POST /api/v1/imports/preview", "POST /api/v1/imports/{id}/retry":
		return bucketImport
	}
	return bucketDefault
}

// rateLimiter counts requests per API key and bucket in Redis.
type rateLimiter struct {
	lim      *redis_rate.Limiter
	defaults RateLimits
	log      *slog.Logger
	// pausedUntil (unix ns) skips Redis after a failure; failing says the
	// outage was logged, so it is logged once, and its end once.
	pausedUntil  atomic.Int64
	failing      atomic.Bool
	reservations reservations
	decisions    *prometheus.CounterVec
	errors       prometheus.Counter
}

func newRateLimiter(rdb redis.UniversalClient, limits RateLimits, log *slog.Logger, reg *prometheus.Registry) *rateLimiter {
	or := func(v, def int) int {
		if v == 0 {
			return def
		}
		return v
	}
	l := &rateLimiter{
		lim: redis_rate.NewLimiter(rdb),
		defaults: RateLimits{Default: or(limits.Default, DefaultRateLimit), Upsert: or(limits.Upsert, DefaultRateLimitUpsert),
			Import: or(limits.Import, DefaultRateLimitImport)},
		log: log,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkit_rate_limit_requests_total",
			Help: "Authenticated requests by rate limit bucket and result: allowed, limited (429), unchecked (Redis unavailable: served).",
		}, []string{"bucket", "result"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "linkit_rate_limit_errors_total", Help: "Rate limiter calls to Redis that failed or timed out (requests then served unlimited).",
		}),
	}
	reg.MustRegister(l.decisions, l.errors)
	return l
}

// limitFor is the requests per minute of bucket for an organization's keys
// (0: unlimited).
func (l *rateLimiter) limitFor(bucket string, own customer.RateLimits) int {
	set, def := own.Default, l.defaults.Default
	switch bucket {
	case bucketUpsert:
		set, def = own.Upsert, l.defaults.Upsert
	case bucketImport:
		set, def = own.Import, l.defaults.Import
	}
	if set != nil {
		return *set
	}
	return max(def, 0)
}

// allow spends one request of key's bucket; ok is false when Redis could not
// say (the request is then served). Most requests spend a token reserved
// earlier (ratelimit_reserve.go) and do not call Redis.
func (l *rateLimiter) allow(ctx context.Context, key, bucket string, perMinute int) (d decision, ok bool) {
	return l.reservations.spend(ctx, l, key, bucket, perMinute)
}

// reserve takes up to n requests of key's bucket from Redis at once.
func (l *rateLimiter) reserve(ctx context.Context, key, bucket string, perMinute, n int) (*redis_rate.Result, bool) {
	now := time.Now()
	if now.UnixNano() < l.pausedUntil.Load() {
		return nil, false
	}
	type outcome struct {
		res *redis_rate.Result
		err error
	}
	// The call runs apart so that a Redis that accepts connections but never
	// answers costs a request rateLimitTimeout, not the client's read timeout.
	done := make(chan outcome, 1)
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	go func() {
		defer cancel()
		limit := redis_rate.Limit{Rate: perMinute, Burst: perMinute, Period: rateLimitWindow}
		r, err := l.lim.AllowAtMost(callCtx, "linkit:"+key+":"+bucket, limit, n)
		done <- outcome{r, err}
	}()
	timer := time.NewTimer(rateLimitTimeout)
	defer timer.Stop()
	var o outcome
	select {
	case o = <-done:
	case <-timer.C:
		o.err = fmt.Errorf("no answer from Redis within %s", rateLimitTimeout)
	}
	if o.err != nil {
		l.errors.Inc()
		l.pausedUntil.Store(now.Add(rateLimitPause).UnixNano())
		if !l.failing.Swap(true) {
			l.log.WarnContext(ctx, "rate limiter unavailable: serving requests unlimited until Redis answers", "err", o.err)
		}
		return nil, false
	}
	if l.failing.Swap(false) {
		l.log.InfoContext(ctx, "rate limiter available again")
	}
	return o.res, true
}

// rateLimited applies the rate limit of the request's route to its API key:
// it sets the RateLimit-Policy and RateLimit headers (IETF
// draft-ietf-httpapi-ratelimit-headers) and, over the limit, answers 429
// with Retry-After and reports true.
func (s *Server) rateLimited(w http.ResponseWriter, r *http.Request, writeError errorWriter, keyID string, o *customer.Organization) bool {
	if s.limiter == nil {
		return false
	}
	bucket := bucketOf(r.Pattern)
	perMinute := s.limiter.limitFor(bucket, o.Settings.RateLimit)
	if perMinute <= 0 {
		return false
	}
	res, ok := s.limiter.allow(r.Context(), keyID, bucket, perMinute)
	if !ok {
		s.limiter.decisions.WithLabelValues(bucket, "unchecked").Inc()
		return false
	}
	h := w.Header()
	h["Ratelimit-Policy"] = []string{policyHeader(bucket, perMinute)}
	h["Ratelimit"] = []string{`"` + bucket + `";r=` + strconv.Itoa(res.remaining) + ";t=" + strconv.Itoa(ceilSeconds(res.resetAfter))}
	if res.allowed {
		s.limiter.decisions.WithLabelValues(bucket, "allowed").Inc()
		return false
	}
	s.limiter.decisions.WithLabelValues(bucket, "limited").Inc()
	retry := max(ceilSeconds(res.retryAfter), 1)
	h.Set("Retry-After", strconv.Itoa(retry))
	writeError(w, r, &customer.Error{Code: customer.ERATELIMIT,
		Message: fmt.Sprintf("Rate limit exceeded: %d %s requests per minute for this API key; retry in %d s", perMinute, bucket, retry),
		Details: map[string]any{"policy": bucket, "limit": perMinute, "window_seconds": int(rateLimitWindow / time.Second),
			"retry_after_seconds": retry}})
	return true
}

// policyHeader is the RateLimit-Policy header of a bucket and limit.
func policyHeader(bucket string, perMinute int) string {
	return `"` + bucket + `";q=` + strconv.Itoa(perMinute) + ";w=" + strconv.Itoa(int(rateLimitWindow/time.Second))
}

// ceilSeconds rounds d up to whole seconds (negative: 0).
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}
