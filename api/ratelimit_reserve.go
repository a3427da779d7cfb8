// Rate limit reservations: requests of a key's bucket taken from Redis a few at a time, so a busy key costs Redis a call per batch, not per request.

package api

import (
	"context"
	"math"
	"sync"
	"time"
)

// A key's bucket takes requests from Redis's GCRA in reservations of up to
// reserveMax(perMinute) requests, which this process spends locally for at
// most reserveTTL; what is left then is let go (it stays spent in Redis).
// A reservation grows from one request, doubling while each is spent in
// time, and halves when one expires unspent, so a key sending a few
// requests a minute reserves one at a time as before, and a limit below
// 2 × 60 ÷ reserveShare requests a minute is never reserved ahead.
// Requests are never served beyond the limit: every one was allowed by
// Redis first. What the headers say is this process's view: exact for a
// key served by one process; with several, another's requests of the
// last reservation (≤ reserveTTL) are missing from the remaining count.
const (
	reserveTTL   = time.Second
	reserveShare = 2   // at most 1/reserveShare second of the limit per reservation
	reserveCap   = 64  // and at most this many requests
	reserveKeys  = 1e4 // buckets remembered; past it they are forgotten at once
)

// reserveMax is the largest reservation of a perMinute limit.
func reserveMax(perMinute int) int {
	return max(1, min(reserveCap, perMinute/60/reserveShare))
}

// decision is what the limiter says of one request.
type decision struct {
	allowed    bool
	remaining  int           // requests left (RateLimit r=)
	resetAfter time.Duration // until the quota is full again (t=)
	retryAfter time.Duration // when not allowed
}

type reserveKey struct{ key, bucket string }

// reservations are the process's reservations, by key and bucket.
type reservations struct {
	mu sync.Mutex
	m  map[reserveKey]*reservation
}

// reservation is one key's bucket as this process knows it.
type reservation struct {
	mu        sync.Mutex
	perMinute int       // the limit it was taken under: another drops it
	tokens    int       // requests reserved in Redis, not spent yet
	expires   time.Time // tokens are let go then
	// tat is Redis's theoretical arrival time after the last answer, on
	// this process's clock: the quota is full again then (GCRA).
	tat         time.Time
	deniedUntil time.Time     // Redis refused before this; it will until then
	batch       int           // the next reservation's size
	refill      chan struct{} // closed when the call to Redis in flight ends
}

func (rs *reservations) get(key, bucket string) *reservation {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	k := reserveKey{key, bucket}
	r := rs.m[k]
	if r == nil {
		if rs.m == nil || len(rs.m) >= reserveKeys {
			rs.m = map[reserveKey]*reservation{}
		}
		r = &reservation{}
		rs.m[k] = r
	}
	return r
}

// spend takes one request of key's bucket: a reserved one, else a new
// reservation from Redis (one call in flight per bucket; concurrent
// requests wait for it, at most rateLimitTimeout). ok is false when Redis
// could not say.
func (rs *reservations) spend(ctx context.Context, l *rateLimiter, key, bucket string, perMinute int) (decision, bool) {
	r := rs.get(key, bucket)
	var deadline time.Time
	r.mu.Lock()
	for {
		now := time.Now()
		if r.perMinute != perMinute {
			r.perMinute, r.tokens, r.batch = perMinute, 0, 1
			r.expires, r.tat, r.deniedUntil = time.Time{}, time.Time{}, time.Time{}
		}
		if r.tokens > 0 && now.Before(r.expires) {
			r.tokens--
			d := r.decide(now, true)
			r.mu.Unlock()
			return d, true
		}
		if now.Before(r.deniedUntil) {
			d := r.decide(now, false)
			r.mu.Unlock()
			return d, true
		}
		if r.refill == nil {
			break
		}
		ch := r.refill
		r.mu.Unlock()
		if deadline.IsZero() {
			deadline = now.Add(rateLimitTimeout)
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-ch:
			timer.Stop()
		case <-timer.C:
			return decision{}, false
		}
		r.mu.Lock()
	}
	now := time.Now()
	n := r.nextBatch(now)
	ch := make(chan struct{})
	r.refill = ch
	r.tokens = 0
	r.mu.Unlock()

	res, ok := l.reserve(ctx, key, bucket, perMinute, n)

	r.mu.Lock()
	defer r.mu.Unlock()
	close(ch)
	r.refill = nil
	if !ok {
		return decision{}, false
	}
	now = time.Now()
	if r.perMinute != perMinute {
		// The limit changed meanwhile: Redis's answer for this request
		// stands, the reservation under the old limit is not kept.
		return decision{allowed: res.Allowed > 0, remaining: res.Remaining, resetAfter: res.ResetAfter, retryAfter: res.RetryAfter}, true
	}
	r.tat = now.Add(max(res.ResetAfter, 0))
	if res.Allowed <= 0 {
		r.deniedUntil = now.Add(res.RetryAfter)
		r.expires = time.Time{}
		return r.decide(now, false), true
	}
	r.tokens, r.expires = res.Allowed-1, now.Add(reserveTTL)
	return r.decide(now, true), true
}

// nextBatch sizes a new reservation after the last one: twice as large
// when it was spent before it expired, half when it expired unspent.
func (r *reservation) nextBatch(now time.Time) int {
	switch {
	case r.batch < 1:
		r.batch = 1
	case r.tokens == 0 && !r.expires.IsZero() && now.Before(r.expires):
		r.batch *= 2
	case r.tokens > 0:
		r.batch /= 2
	}
	r.batch = max(1, min(r.batch, reserveMax(r.perMinute)))
	return r.batch
}

// decide is the answer to a request at now, from the GCRA state: the
// reserved tokens not spent yet count as remaining (Redis counted them as
// spent), as they do in Redis's own answer to a reservation of one.
func (r *reservation) decide(now time.Time, allowed bool) decision {
	interval := float64(rateLimitWindow) / float64(r.perMinute)
	tat := r.tat.Add(-time.Duration(float64(r.tokens) * interval))
	reset := max(tat.Sub(now), 0)
	d := decision{allowed: allowed, resetAfter: reset}
	if !allowed {
		d.retryAfter = max(r.deniedUntil.Sub(now), 0)
		return d
	}
	// Redis's float clock may put the reset a nanosecond past a whole
	// number of intervals: not a request fewer.
	d.remaining = max(0, int(math.Floor(float64(r.perMinute)-float64(reset)/interval+1e-6)))
	return d
}
