package queue

import (
	"context"
	"sync"
	"time"
)

// Coalescer sends upserts that arrive together as one task: the per-task
// cost of the queue (three Redis scripts to enqueue, dequeue and finish a
// task) otherwise bounds throughput whatever the worker does. An upsert of
// an organization with nothing in flight from this process goes at once,
// alone; while others are in flight, upserts collect for Linger or until
// Max of them, then travel as one UpsertBatchPayload, in arrival order.
type Coalescer struct {
	linger time.Duration
	max    int

	mu   sync.Mutex
	orgs map[string]*orgUpserts
}

// Coalescing defaults (LINKIT_UPSERT_LINGER, LINKIT_UPSERT_BATCH).
const (
	DefaultLinger   = time.Millisecond
	DefaultBatchMax = 32
)

// NewCoalescer collects for linger or up to max upserts (max < 2, or
// linger ≤ 0: every upsert is a task of its own).
func NewCoalescer(linger time.Duration, max int) *Coalescer {
	return &Coalescer{linger: linger, max: max, orgs: map[string]*orgUpserts{}}
}

// orgUpserts is one organization's upserts in flight and the batch being
// collected, if any.
type orgUpserts struct {
	inflight int
	open     *batch
}

type batch struct {
	ctx    context.Context // the first request's, uncancelled: the task continues its trace
	client *Client
	p      UpsertBatchPayload
	timer  *time.Timer
	done   chan struct{} // closed once sent; err is then set
	err    error
}

// Enqueue queues p, alone or in a batch, and returns once the task holding
// it is in Redis (err: it is not). done must be called when the caller no
// longer waits for p's reply: p is in flight until then.
func (co *Coalescer) Enqueue(ctx context.Context, c *Client, p UpsertPayload) (done func(), err error) {
	if co == nil || co.linger <= 0 || co.max < 2 {
		return func() {}, c.EnqueueUpsert(ctx, p)
	}
	co.mu.Lock()
	st := co.orgs[p.OrgID]
	if st == nil {
		st = &orgUpserts{}
		co.orgs[p.OrgID] = st
	}
	st.inflight++
	var once sync.Once
	done = func() {
		once.Do(func() {
			co.mu.Lock()
			defer co.mu.Unlock()
			if st.inflight--; st.inflight == 0 && st.open == nil {
				delete(co.orgs, p.OrgID)
			}
		})
	}
	if st.inflight == 1 && st.open == nil {
		// Idle: nothing to wait for, nothing to join.
		co.mu.Unlock()
		return done, c.EnqueueUpsert(ctx, p)
	}
	b := st.open
	if b == nil {
		b = &batch{ctx: context.WithoutCancel(ctx), client: c, p: UpsertBatchPayload{OrgID: p.OrgID}, done: make(chan struct{})}
		st.open = b
		b.timer = time.AfterFunc(co.linger, func() { co.send(st, b) })
	}
	b.p.Items = append(b.p.Items, UpsertItem{JobID: p.JobID, Request: p.Request, RequestHash: p.RequestHash, RawRequest: p.RawRequest})
	if b.p.ReplyTo == "" {
		// One process, one reply channel: a request that does not wait
		// (no channel) gets a reply nobody reads.
		b.p.ReplyTo = p.ReplyTo
	}
	full := len(b.p.Items) >= co.max
	co.mu.Unlock()
	if full {
		co.send(st, b)
	}
	// Not cut short by ctx: the batch goes whatever this caller does, and
	// the caller must not fail a job that is being queued.
	<-b.done
	return done, b.err
}

// send closes b to newcomers and queues it (once, whoever calls first).
func (co *Coalescer) send(st *orgUpserts, b *batch) {
	co.mu.Lock()
	if st.open != b {
		co.mu.Unlock()
		return
	}
	st.open = nil
	co.mu.Unlock()
	b.timer.Stop()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if len(b.p.Items) == 1 {
		it := b.p.Items[0]
		b.err = b.client.EnqueueUpsert(ctx, UpsertPayload{JobID: it.JobID, OrgID: b.p.OrgID, ReplyTo: b.p.ReplyTo,
			Request: it.Request, RequestHash: it.RequestHash, RawRequest: it.RawRequest})
	} else {
		b.err = b.client.EnqueueUpsertBatch(ctx, b.p)
	}
	close(b.done)
}
