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
