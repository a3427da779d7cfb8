package queue

import (
	"context"
	"sync"
	"time"
)

// Coalescer sends upserts that arrive together as one task: the per-task
// cost of the queue (three Redis scripts to enqueue, dequeue and finish a
// task) and of the worker's transaction (its locks, reads, COMMIT: about
// as much PostgreSQL time as six requests' own writes) otherwise bounds
// throughput whatever the worker does. An upsert of an organization with
// nothing in flight from this process goes at once, alone; while others
// are in flight, upserts collect for Linger or until Max of them, then
// travel as one UpsertBatchPayload, in arrival order.
//
// While Tasks of the organization's tasks from this process are still
// being applied (some of their callers not answered yet), a batch whose
// linger is over waits for one of them to finish — at most Hold — and
// gathers what arrives meanwhile: under load batches grow instead of
// tasks queueing for the same cores, and each request carries less of the
// per-task cost. An idle or lightly loaded process is not slowed: the
// wait starts only when Tasks are in flight.
type Coalescer struct {
	linger time.Duration
	max    int
	tasks  int
	hold   time.Duration

	mu   sync.Mutex
	orgs map[string]*orgUpserts
}

// Coalescing defaults (LINKIT_UPSERT_LINGER, LINKIT_UPSERT_BATCH).
const (
	DefaultLinger   = time.Millisecond
	DefaultBatchMax = 32
	// DefaultTasks is how many tasks of an organization one API process
	// keeps in flight before a lingered batch waits (the box's two
	// cores: more only queue behind each other).
	DefaultTasks = 2
	// DefaultHold bounds that wait: a task whose worker died holds its
	// slot until its callers give up, and a batch does not wait for that.
	DefaultHold = 20 * time.Millisecond
)

// NewCoalescer collects for linger or up to max upserts (max < 2, or
// linger ≤ 0: every upsert is a task of its own), with DefaultTasks and
// DefaultHold.
func NewCoalescer(linger time.Duration, max int) *Coalescer {
	return &Coalescer{linger: linger, max: max, tasks: DefaultTasks, hold: DefaultHold, orgs: map[string]*orgUpserts{}}
}

// WithTasks sets how many tasks may be in flight before a lingered batch
// waits (≤ 0: never waits) and how long it waits at most.
func (co *Coalescer) WithTasks(tasks int, hold time.Duration) *Coalescer {
	co.tasks, co.hold = tasks, hold
	return co
}

// orgUpserts is one organization's upserts in flight, its tasks not
// finished, and the batch being collected, if any.
type orgUpserts struct {
	inflight int
	tasks    int
	open     *batch
}

type batch struct {
	ctx      context.Context // the first request's, uncancelled: the task continues its trace
	client   *Client
	p        UpsertBatchPayload
	timer    *time.Timer
	lingered bool          // linger over: goes as soon as a task slot is free
	done     chan struct{} // closed once sent; err is then set
	err      error
	waiting  int // callers in the task not done yet
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
	if st.inflight == 1 && st.open == nil {
		// Idle: nothing to wait for, nothing to join.
		alone := &batch{waiting: 1}
		st.tasks++
		co.mu.Unlock()
		return co.doneFunc(st, p.OrgID, alone), c.EnqueueUpsert(ctx, p)
	}
	b := st.open
	if b == nil {
		b = &batch{ctx: context.WithoutCancel(ctx), client: c, p: UpsertBatchPayload{OrgID: p.OrgID}, done: make(chan struct{})}
		st.open = b
		b.timer = time.AfterFunc(co.linger, func() { co.lingerOver(st, b) })
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
	return co.doneFunc(st, p.OrgID, b), b.err
}

// doneFunc is a caller's done: the last of a task's callers frees its
// slot, and a lingered batch waiting for one goes.
func (co *Coalescer) doneFunc(st *orgUpserts, orgID string, b *batch) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			co.mu.Lock()
			if b.waiting--; b.waiting == 0 {
				st.tasks--
			}
			st.inflight--
			next := st.open
			if next != nil && !(next.lingered && co.slotFree(st)) {
				next = nil
			}
			if st.inflight == 0 && st.open == nil {
				delete(co.orgs, orgID)
			}
			co.mu.Unlock()
			if next != nil {
				co.send(st, next)
			}
		})
	}
}

// slotFree reports whether another task may go (co.mu held).
func (co *Coalescer) slotFree(st *orgUpserts) bool {
	return co.tasks <= 0 || st.tasks < co.tasks
}

// lingerOver sends b, or, while the organization's tasks are all in
// flight, marks it to go when one finishes or at hold, whichever first.
func (co *Coalescer) lingerOver(st *orgUpserts, b *batch) {
	co.mu.Lock()
	if st.open != b {
		co.mu.Unlock()
		return
	}
	if !co.slotFree(st) && !b.lingered && co.hold > 0 {
		b.lingered = true
		b.timer.Reset(co.hold)
		co.mu.Unlock()
		return
	}
	co.mu.Unlock()
	co.send(st, b)
}

// send closes b to newcomers and queues it (once, whoever calls first).
func (co *Coalescer) send(st *orgUpserts, b *batch) {
	co.mu.Lock()
	if st.open != b {
		co.mu.Unlock()
		return
	}
	st.open = nil
	st.tasks++
	b.waiting = len(b.p.Items)
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

// Open is how many upserts of orgID wait in the batch being collected.
func (co *Coalescer) Open(orgID string) int {
	co.mu.Lock()
	defer co.mu.Unlock()
	if st := co.orgs[orgID]; st != nil && st.open != nil {
		return len(st.open.p.Items)
	}
	return 0
}
