package queue

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Interactive activity, told across processes through Redis: an API process
// that is busy serving requests says so under one key, and background work
// (a duplicate scan's PostgreSQL statements, which the kernel cannot lower
// as it lowers the scan's comparing threads) makes way while the key
// exists. API and workers may be separate processes, hosts even.
const (
	// ActivityTick is how often an API process weighs its load.
	ActivityTick = 100 * time.Millisecond
	// activityTTL keeps the key a few ticks: a missed tick does not let a
	// scan in, and the key is gone soon after the API goes quiet.
	activityTTL = 3 * ActivityTick
	// ActivityBusyLoad is the load from which an API process is busy: on
	// average this many requests in flight over a tick. A lone checkout's
	// calls (a few ms every second) stay below it; sixteen clients
	// searching at once are far above.
	ActivityBusyLoad = 1.0
)

func activityKey(names Names) string { return "linkit:api-busy:" + names.Namespace }

// Activity measures an API process's load (requests in flight, integrated
// over time) and publishes it as busy or not; its Busy reads what every API
// process sharing the Redis published.
type Activity struct {
	rdb redis.UniversalClient
	key string

	mu       sync.Mutex
	inflight int
	last     time.Time     // of the last change of inflight
	area     time.Duration // request-time in flight since from
	from     time.Time
	now      func() time.Time
}

// NewActivity is the activity of the API processes of names on rdb.
func NewActivity(rdb redis.UniversalClient, names Names) *Activity {
	now := time.Now()
	return &Activity{rdb: rdb, key: activityKey(names), now: time.Now, last: now, from: now}
}

// Serving counts a request as in flight until done is called (done may be
// called more than once: the first counts).
func (a *Activity) Serving() (done func()) {
	a.add(1)
	ended := false
	return func() {
		if !ended {
			ended = true
			a.add(-1)
		}
	}
}

func (a *Activity) add(d int) {
	a.mu.Lock()
	now := a.now()
	a.area += time.Duration(a.inflight) * now.Sub(a.last)
	a.last, a.inflight = now, a.inflight+d
	a.mu.Unlock()
}

// load is the average number of requests in flight since the last call,
// which starts the next span.
func (a *Activity) load() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	a.area += time.Duration(a.inflight) * now.Sub(a.last)
	area, span := a.area, now.Sub(a.from)
	a.area, a.last, a.from = 0, now, now
	if span <= 0 {
		return 0
	}
	return float64(area) / float64(span)
}

// Run publishes the process's load every ActivityTick until ctx ends: the
// key is set while the load is at least ActivityBusyLoad (one write a tick
// while busy, none while idle).
func (a *Activity) Run(ctx context.Context) {
	t := time.NewTicker(ActivityTick)
	defer t.Stop()
	a.load() // forget what came before
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if a.load() >= ActivityBusyLoad {
			// A failed write only lets background work run meanwhile.
			_ = a.rdb.Set(ctx, a.key, 1, activityTTL).Err()
		}
	}
}

// Busy tells whether an API process was busy within the last few ticks.
// Redis unreachable: false (background work goes on as it did before).
func (a *Activity) Busy(ctx context.Context) bool {
	n, err := a.rdb.Exists(ctx, a.key).Result()
	return err == nil && n > 0
}

// MarkBusy says an API process is busy now, for the key's lifetime (tests,
// and callers that know of a burst before it is measured).
func (a *Activity) MarkBusy(ctx context.Context) error {
	return a.rdb.Set(ctx, a.key, 1, activityTTL).Err()
}
