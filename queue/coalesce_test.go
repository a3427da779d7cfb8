package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/queue"
)

func upsertOf(job string) queue.UpsertPayload {
	return queue.UpsertPayload{JobID: job, OrgID: "org_1", ReplyTo: "ch", Request: &dedupe.Request{Source: job}}
}

// An upsert with nothing in flight goes at once and alone; upserts that
// arrive while others are in flight travel together, in arrival order,
// as soon as the batch is full (linger an hour: only the cap sends it);
// once nothing is in flight the next one goes alone again.
func TestCoalescerBatchesOnlyWhenBusy(t *testing.T) {
	t.Parallel()
	opt, names := setup(t)
	c := queue.NewClient(opt, names)
	defer c.Close()
	co := queue.NewCoalescer(time.Hour, 3)
	ctx := context.Background()

	start := time.Now()
	doneFirst, err := co.Enqueue(ctx, c, upsertOf("job_a"))
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("an idle upsert waited %v", took)
	}
	// Three more, one after the other joining the batch.
	var wg sync.WaitGroup
	dones := make([]func(), 3)
	for i, job := range []string{"job_b", "job_c", "job_d"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := co.Enqueue(ctx, c, upsertOf(job))
			if err != nil {
				t.Error(err)
			}
			dones[i] = d
		}()
		time.Sleep(150 * time.Millisecond) // arrival order b, c, d
	}
	wg.Wait()
	tasks := pending(t, opt, names.Critical())
	if len(tasks) != 2 {
		t.Fatalf("%d tasks, want the lone upsert and one batch", len(tasks))
	}
	byID := map[string][]byte{}
	for _, ti := range tasks {
		byID[ti.Type+" "+ti.ID] = ti.Payload
	}
	if _, ok := byID[queue.TypeUpsert+" job_a"]; !ok {
		t.Fatalf("the idle upsert is not a task of its own: %v", keys(byID))
	}
	raw, ok := byID[queue.TypeUpsertBatch+" batch:job_b"]
	if !ok {
		t.Fatalf("no batch task: %v", keys(byID))
	}
	var p queue.UpsertBatchPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, it := range p.Items {
		order = append(order, it.JobID+"/"+it.Request.Source)
	}
	if fmt.Sprint(order) != "[job_b/job_b job_c/job_c job_d/job_d]" || p.OrgID != "org_1" || p.ReplyTo != "ch" {
		t.Fatalf("batch %+v, items %v", p, order)
	}

	// Nothing in flight any more: the next upsert goes alone, at once.
	doneFirst()
	for _, d := range dones {
		d()
	}
	start = time.Now()
	d, err := co.Enqueue(ctx, c, upsertOf("job_e"))
	if err != nil {
		t.Fatal(err)
	}
	d()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("an idle upsert waited %v", took)
	}
	if n := len(pending(t, opt, names.Critical())); n != 3 {
		t.Fatalf("%d tasks, want 3", n)
	}
}

// Upserts of another organization do not join a batch, nor wait for one.
func TestCoalescerPerOrganization(t *testing.T) {
	t.Parallel()
	opt, names := setup(t)
	c := queue.NewClient(opt, names)
	defer c.Close()
	co := queue.NewCoalescer(time.Hour, 3)
	ctx := context.Background()
	d1, err := co.Enqueue(ctx, c, upsertOf("job_a"))
	if err != nil {
		t.Fatal(err)
	}
	defer d1()
	other := upsertOf("job_x")
	other.OrgID = "org_2"
	d2, err := co.Enqueue(ctx, c, other) // org_2 is idle: at once
	if err != nil {
		t.Fatal(err)
	}
	d2()
	if n := len(pending(t, opt, names.Critical())); n != 2 {
		t.Fatalf("%d tasks, want 2 single upserts", n)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// While the organization's tasks are all in flight, a batch whose linger
// is over waits for one to finish and takes along what arrives
// meanwhile; when none finishes, it goes at the hold.
func TestCoalescerWaitsForATaskSlot(t *testing.T) {
	t.Parallel()
	opt, names := setup(t)
	c := queue.NewClient(opt, names)
	defer c.Close()
	co := queue.NewCoalescer(time.Millisecond, 32).WithTasks(1, time.Hour)
	ctx := context.Background()

	doneFirst, err := co.Enqueue(ctx, c, upsertOf("job_a")) // idle: alone, the one task in flight
	if err != nil {
		t.Fatal(err)
	}
	sent := make(chan string, 3)
	var dones []func()
	var mu sync.Mutex
	enqueue := func(job string) {
		d, err := co.Enqueue(ctx, c, upsertOf(job))
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		dones = append(dones, d)
		mu.Unlock()
		sent <- job
	}
	go enqueue("job_b")
	// job_b's linger is long over while job_a's task is in flight: it
	// waits, and job_c joins it.
	waitFor(t, func() bool { return len(pending(t, opt, names.Critical())) == 1 && co.Open("org_1") == 1 })
	go enqueue("job_c")
	waitFor(t, func() bool { return co.Open("org_1") == 2 })
	select {
	case job := <-sent:
		t.Fatalf("%s was sent while the task slot was taken", job)
	default:
	}
	doneFirst() // job_a answered: the waiting batch goes at once
	<-sent
	<-sent
	tasks := pending(t, opt, names.Critical())
	if len(tasks) != 2 {
		t.Fatalf("%d tasks, want the lone upsert and one batch of two", len(tasks))
	}
	for _, ti := range tasks {
		if ti.Type == queue.TypeUpsertBatch {
			var p queue.UpsertBatchPayload
			if err := json.Unmarshal(ti.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != 2 || p.Items[0].JobID != "job_b" || p.Items[1].JobID != "job_c" {
				t.Fatalf("batch %+v", p.Items)
			}
		}
	}

	// A task that is never answered holds its slot; a batch waits for it
	// no longer than the hold.
	co2 := queue.NewCoalescer(time.Millisecond, 32).WithTasks(1, 50*time.Millisecond)
	stuck, err := co2.Enqueue(ctx, c, upsertOf("job_d"))
	if err != nil {
		t.Fatal(err)
	}
	defer stuck()
	d, err := co2.Enqueue(ctx, c, upsertOf("job_e"))
	if err != nil {
		t.Fatal(err)
	}
	d()
	if n := len(pending(t, opt, names.Critical())); n != 4 {
		t.Fatalf("%d tasks, want 4", n)
	}
	mu.Lock()
	for _, d := range dones {
		d()
	}
	mu.Unlock()
}

// waitFor polls cond until it holds (at most 10 s).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
