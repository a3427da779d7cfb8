package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// sqlLockJobs locks a batch's job rows in id order (concurrent batches and
// single upserts of the same jobs queue behind each other, never deadlock).
const sqlLockJobs = `SELECT id, state, result FROM jobs WHERE organization_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE`

// BatchItem is one upsert of a batch: its own job and request.
type BatchItem struct {
	JobID   string
	Request *dedupe.Request
	// NewJob (its Type, RequestHash and, as the task carried it, Payload)
	// is set when the API left the job row to the worker (a caller
	// waiting, without an Idempotency-Key): the transaction that applies
	// the request writes it, completed, and an advisory lock on the job id
	// stands in for the row lock.
	NewJob *customer.Job
}

// lockKeys are the advisory locks an item takes: its identity keys and,
// for a job row not written yet, the job id.
func (it BatchItem) lockKeys() []dedupe.Key {
	keys := it.Request.Record.Keys()
	if it.NewJob != nil {
		keys = append(slices.Clip(keys), dedupe.Key{Kind: "job", Value: it.JobID})
	}
	return keys
}

// payload is the job row's payload: the request's JSON as the task
// carried it (NewJob.Payload), else encoded.
func (it BatchItem) payload() ([]byte, error) {
	if it.NewJob != nil && len(it.NewJob.Payload) > 0 {
		return it.NewJob.Payload, nil
	}
	payload, err := json.Marshal(it.Request)
	if err != nil {
		return nil, fmt.Errorf("encode job payload: %w", err)
	}
	return payload, nil
}

// BatchOutcome is one item's answer: its reply, or the error of that item
// alone (the others are applied all the same).
type BatchOutcome struct {
	Reply *UpsertReply
	Err   error
}

// RunUpsertBatch performs a batch of upsert jobs in one transaction, in
// order: each is matched against what the earlier ones did, and each gets
// its own job result, audit events and reply — what RunUpsert does, one
// transaction and one job-row lock per job. A job completed already (a
// redelivered batch, a job also queued alone) answers its stored result.
// An item the engine refuses (validation, a conflict) gets its error and
// writes nothing.
//
// The batch is applied as one workspace (runBatchSet): one round trip
// reads, one writes. When that cannot tell whose statement failed, or the
// batch needs a merge or a source record (errPerRequest), it is applied
// again request by request (one round trip each, runBatch): an item whose statements fail there is left out
// and the rest run again, its error in its outcome. The error returned is
// the batch's (nothing committed): a race retried five times, the
// database gone.
func (s *Store) RunUpsertBatch(ctx context.Context, orgID string, items []BatchItem) ([]BatchOutcome, error) {
	out := make([]BatchOutcome, len(items))
	left := make([]bool, len(items))
	var err error
	perRequest := false
	for attempt := 0; attempt < 5; {
		var failed int
		if !perRequest {
			err = s.inConn(ctx, func(conn *pgx.Conn) error { return runBatchSet(ctx, conn, orgID, items, out) })
			switch {
			case err == nil:
				return out, nil
			case retryable(err):
				attempt++
			case errors.Is(err, errPerRequest) || itemFault(ctx, err):
				perRequest = true
			default:
				return nil, fmt.Errorf("upsert batch: %w", err)
			}
			continue
		}
		if failed, err = s.runBatchOnce(ctx, orgID, items, left, out); err == nil {
			return out, nil
		}
		switch {
		case retryable(err):
			attempt++
		case failed >= 0 && itemFault(ctx, err):
			left[failed], out[failed] = true, BatchOutcome{Err: err}
		default:
			return nil, fmt.Errorf("upsert batch: %w", err)
		}
	}
	return nil, fmt.Errorf("upsert batch: %w", err)
}

// itemFault reports whether an item's failed statement is the item's own
// fault, not the database's or the task's (gone, cancelled, timed out).
func itemFault(ctx context.Context, err error) bool {
	var pgErr *pgconn.PgError
	return ctx.Err() == nil && customer.ErrorCode(err) != customer.EUNAVAILABLE &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) &&
		!(errors.As(err, &pgErr) && pgErr.Code == "57014")
}

// runBatchOnce is one attempt; on an item's failed statements it returns
// the item's index with the error (else -1).
func (s *Store) runBatchOnce(ctx context.Context, orgID string, items []BatchItem, left []bool, out []BatchOutcome) (int, error) {
	failed := -1
	err := s.inConn(ctx, func(conn *pgx.Conn) error {
		var err error
		failed, err = runBatch(ctx, conn, orgID, items, left, out)
		return err
	})
	return failed, err
}

// inConn runs fn, which begins a transaction, on a pooled connection and
// ends the transaction whatever happened: committed (a batch of replays
// commits its empty reads) or rolled back on fn's error.
func (s *Store) inConn(ctx context.Context, fn func(conn *pgx.Conn) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return interpretError(fmt.Errorf("acquire: %w", err), nil)
	}
	defer conn.Release()
	err = fn(conn.Conn())
	end := "COMMIT"
	if err != nil {
		end = "ROLLBACK"
	}
	if conn.Conn().PgConn().TxStatus() != 'I' {
		if _, eerr := conn.Exec(context.WithoutCancel(ctx), end); eerr != nil && err == nil {
			return interpretError(fmt.Errorf("end transaction: %w", eerr), nil)
		}
	}
	return err
}

type jobRow struct {
	state  string
	result []byte
}

func runBatch(ctx context.Context, tx batchSender, orgID string, items []BatchItem, left []bool, out []BatchOutcome) (int, error) {
	jobs := map[string]jobRow{}
	b := &pgx.Batch{}
	queueLockBatch(b, orgID, items, left, jobs)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return -1, interpretError(fmt.Errorf("lock batch: %w", err), nil)
	}
	// One round trip per request: the writes of one travel with the reads
	// of the next, which run after them and see them. A marker statement
	// between the two tells whose statement failed.
	var p pendingWrite
	for i, it := range items {
		if left[i] {
			continue
		}
		j, ok := jobs[it.JobID]
		switch {
		case !ok && it.NewJob == nil:
			out[i] = BatchOutcome{Err: customer.NotFound("Job", it.JobID)}
			continue
		case j.state == customer.JobCompleted:
			out[i] = storedOutcome(it.JobID, j.result)
			continue
		}
		b := p.batch()
		wrote := false
		b.Queue(sqlGenericPlans).Exec(func(pgconn.CommandTag) error { wrote = true; return nil })
		req := it.Request
		cand := queueCandidates(b, orgID, req.Record.Keys(), req.LocationID, withRelations(req))
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			err = sentError{interpretError(fmt.Errorf("upsert batch: %w", err), nil)}
			if !wrote {
				return p.index, err
			}
			return i, err
		}
		p.done(out)
		if err := p.queue(orgID, i, it, cand); err != nil {
			if retryable(err) {
				return i, err
			}
			out[i] = BatchOutcome{Err: err} // refused before writing: the others go on
		}
	}
	b = p.batch()
	wrote := false
	b.Queue(sqlGenericPlans).Exec(func(pgconn.CommandTag) error { wrote = true; return nil })
	b.Queue("COMMIT")
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		err = sentError{interpretError(fmt.Errorf("write upsert batch: %w", err), nil)}
		if !wrote {
			return p.index, err
		}
		return -1, err
	}
	p.done(out)
	return -1, nil
}

// pendingWrite is a request's queued writes, sent with what comes next.
type pendingWrite struct {
	b     *pgx.Batch
	index int // -1: none
	reply *UpsertReply
	byID  map[string]*customer.Customer
}

// batch is the batch to send next: the pending writes, or a new one.
func (p *pendingWrite) batch() *pgx.Batch {
	if p.b == nil {
		p.b, p.index = &pgx.Batch{}, -1
	}
	return p.b
}

// done records the pending request's reply once its writes ran.
func (p *pendingWrite) done(out []BatchOutcome) {
	if p.b != nil && p.index >= 0 {
		p.reply.Customer = p.byID[p.reply.CustomerID]
		out[p.index] = BatchOutcome{Reply: p.reply}
	}
	p.b, p.index = nil, -1
}

// queue runs the engine for request i over its candidates and queues its
// writes: customers, keys, tags, audit, its job's result and the read-back.
func (p *pendingWrite) queue(orgID string, i int, it BatchItem, cand *candidates) error {
	req := it.Request
	wb := &pgx.Batch{}
	res, err := queueMatchWrite(wb, orgID, auditContext{source: req.Source, jobID: it.JobID, locationID: req.LocationID}, req, cand)
	if err != nil {
		return err
	}
	reply := &UpsertReply{Result: &res, JobID: it.JobID}
	if err := completeUpsertJob(wb, orgID, it, reply); err != nil {
		return err
	}
	byID := map[string]*customer.Customer{}
	queueReadBack(wb, orgID, []string{res.CustomerID}, byID)
	p.b, p.index, p.reply, p.byID = wb, i, reply, byID
	return nil
}

// sentError marks an error of statements sent: the transaction is aborted.
type sentError struct{ error }

func (e sentError) Unwrap() error { return e.error }

// storedOutcome is a completed job's stored result.
func storedOutcome(jobID string, result []byte) BatchOutcome {
	if result == nil { // erased since (postgres/erase.go)
		return BatchOutcome{Err: &customer.Error{Code: customer.EGONE, Message: "The job's data was erased"}}
	}
	var done UpsertReply
	if err := json.Unmarshal(result, &done); err != nil {
		return BatchOutcome{Err: fmt.Errorf("stored result of %s: %w", jobID, err)}
	}
	return BatchOutcome{Reply: &done}
}
