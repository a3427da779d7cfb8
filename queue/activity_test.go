package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/linkitworks/customers/queue"
)

// An API process is busy, for every process sharing its Redis, while a
// request is in flight through whole ticks, and no longer soon after; an
// idle one never is.
func TestActivityBusy(t *testing.T) {
	t.Parallel()
	opt, names := setup(t)
	rdb := queue.NewRedis(opt)
	defer rdb.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := queue.NewActivity(rdb, names)
	go api.Run(ctx)
	worker := queue.NewActivity(rdb, names) // another process's view
	other := queue.NewActivity(rdb, queue.Names{Namespace: names.Namespace + "x"})
	time.Sleep(3 * queue.ActivityTick) // idle ticks: nothing published
	if worker.Busy(ctx) {
		t.Fatal("busy before any request")
	}
	done := api.Serving()
	waitFor(t, func() bool { return worker.Busy(ctx) })
	if other.Busy(ctx) {
		t.Fatal("another namespace's API counted")
	}
	done()
	done() // a second call changes nothing
	waitFor(t, func() bool { return !worker.Busy(ctx) })
	// Short requests far apart stay below the load of one in flight.
	for range 20 {
		api.Serving()()
		time.Sleep(5 * time.Millisecond)
	}
	if worker.Busy(ctx) {
		t.Fatal("busy with requests of microseconds")
	}
}
