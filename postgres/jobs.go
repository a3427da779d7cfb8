package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
)

const (
	jobColumns = `id, organization_id, type, state, payload, request_hash, coalesce(idempotency_key, ''),
		result, error, created, completed`

	sqlInsertJob = `INSERT INTO jobs (organization_id, id, type, payload, request_hash, idempotency_key)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''))
		ON CONFLICT (organization_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
		RETURNING created`
	sqlSelectJob       = `SELECT ` + jobColumns + ` FROM jobs WHERE organization_id = $1 AND id = $2`
	sqlSelectJobByIdem = `SELECT ` + jobColumns + ` FROM jobs WHERE organization_id = $1 AND idempotency_key = $2`
	// An idempotency key is remembered for 24 hours; after that it is free.
	sqlExpireIdemKey = `UPDATE jobs SET idempotency_key = NULL
		WHERE organization_id = $1 AND idempotency_key = $2 AND created < now() - interval '24 hours'`
	sqlFailJob = `UPDATE jobs SET state = 'failed', error = $3, completed = now()
		WHERE organization_id = $1 AND id = $2 AND state = 'queued'`
	sqlCompleteJob = `UPDATE jobs SET state = 'completed', result = $3, completed = now(), attempts = attempts + 1
		WHERE organization_id = $1 AND id = $2`
	// A job whose row the API left to the worker (BatchItem.NewJob) is
	// written completed; a row written meanwhile (the caller stopped
	// waiting) is completed as sqlCompleteJob would.
	sqlInsertCompletedJob = `INSERT INTO jobs (organization_id, id, type, payload, request_hash, state, result, completed, attempts)
		VALUES ($1, $2, $3, $4, $5, 'completed', $6, now(), 1)
		ON CONFLICT (organization_id, id) DO UPDATE SET state = 'completed', result = EXCLUDED.result,
			completed = now(), attempts = jobs.attempts + 1`
	// The API writes a job it left to the worker once its caller stops
	// waiting (202, gone) or its task could not be queued, the worker when
	// the job fails for good; a failure replaces only a queued row, and a
	// queued row replaces nothing.
	sqlRecordJob = `INSERT INTO jobs (organization_id, id, type, payload, request_hash, state, error, completed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $6 = 'failed' THEN now() END)
		ON CONFLICT (organization_id, id) DO UPDATE SET state = EXCLUDED.state, error = EXCLUDED.error,
			completed = EXCLUDED.completed
		WHERE jobs.state = 'queued' AND EXCLUDED.state = 'failed'
		RETURNING created`
	sqlStaleJobs = `SELECT ` + jobColumns + ` FROM jobs WHERE state = 'queued' AND created < $1
		ORDER BY created LIMIT $2`
)

func scanJob(row pgx.Row) (*customer.Job, error) {
	var j customer.Job
	err := row.Scan(&j.ID, &j.OrganizationID, &j.Type, &j.State, &j.Payload, &j.RequestHash,
		&j.IdempotencyKey, &j.Result, &j.Error, &j.Created, &j.Completed)
	return &j, err
}

// CreateJob stores an accepted job. With an idempotency key already used in
// the last 24 hours it stores nothing and returns the earlier job, existing=true.
func (s *Store) CreateJob(ctx context.Context, j *customer.Job) (stored *customer.Job, existing bool, err error) {
	if j.ID == "" {
		j.ID = customer.NewID(customer.PrefixJob)
	}
	j.State = customer.JobQueued
	for range 2 {
		err = s.pool.QueryRow(ctx, sqlInsertJob, j.OrganizationID, j.ID, j.Type, j.Payload, j.RequestHash, j.IdempotencyKey).Scan(&j.Created)
		if err == nil {
			return j, false, nil
		}
		if err != pgx.ErrNoRows {
			return nil, false, interpretError(fmt.Errorf("insert job: %w", err), nil)
		}
		prev, err := scanJob(s.pool.QueryRow(ctx, sqlSelectJobByIdem, j.OrganizationID, j.IdempotencyKey))
		if err != nil {
			return nil, false, interpretError(fmt.Errorf("idempotent job: %w", err), nil)
		}
		if time.Since(prev.Created) < 24*time.Hour {
			return prev, true, nil
		}
		if _, err := s.pool.Exec(ctx, sqlExpireIdemKey, j.OrganizationID, j.IdempotencyKey); err != nil {
			return nil, false, interpretError(fmt.Errorf("expire idempotency key: %w", err), nil)
		}
	}
	return nil, false, fmt.Errorf("insert job: idempotency key race")
}

// FindJobByKey returns the job of an organization created with an
// idempotency key, or nil when none.
func (s *Store) FindJobByKey(ctx context.Context, orgID, key string) (*customer.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, sqlSelectJobByIdem, orgID, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return j, interpretError(err, nil)
}

// FindJob returns one job of an organization.
func (s *Store) FindJob(ctx context.Context, orgID, id string) (*customer.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, sqlSelectJob, orgID, id))
	if err != nil {
		return nil, interpretError(err, customer.NotFound("Job", id))
	}
	return j, nil
}

// FailJob marks a queued job failed (it will not be re-enqueued).
func (s *Store) FailJob(ctx context.Context, orgID, id, reason string) error {
	_, err := s.pool.Exec(ctx, sqlFailJob, orgID, id, reason)
	return interpretError(err, nil)
}

// StaleJobs lists jobs still queued that were accepted before olderThan:
// the reconciler re-enqueues them in case Redis lost their tasks.
func (s *Store) StaleJobs(ctx context.Context, olderThan time.Time, limit int) ([]*customer.Job, error) {
	rows, err := s.pool.Query(ctx, sqlStaleJobs, olderThan, limit)
	if err != nil {
		return nil, interpretError(fmt.Errorf("stale jobs: %w", err), nil)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*customer.Job, error) { return scanJob(r) })
	return jobs, interpretError(err, nil)
}

// RecordJob writes the row of a job the API left to the worker (see
// BatchItem.NewJob), in state (queued or failed), unless the worker
// wrote it first. written=false: it did, and stored is the row as it is.
func (s *Store) RecordJob(ctx context.Context, j *customer.Job, state, reason string) (stored *customer.Job, written bool, err error) {
	j.State = state
	err = s.pool.QueryRow(ctx, sqlRecordJob, j.OrganizationID, j.ID, j.Type, j.Payload, j.RequestHash, state, reason).Scan(&j.Created)
	switch {
	case err == nil:
		return j, true, nil
	case err != pgx.ErrNoRows:
		return nil, false, interpretError(fmt.Errorf("record job: %w", err), nil)
	}
	stored, err = s.FindJob(ctx, j.OrganizationID, j.ID)
	return stored, false, err
}

// FailUpsertJob is FailJob for an upsert whose job row may not be written
// yet (it.NewJob): then it is written, failed.
func (s *Store) FailUpsertJob(ctx context.Context, orgID string, it BatchItem, reason string) error {
	if it.NewJob == nil {
		return s.FailJob(ctx, orgID, it.JobID, reason)
	}
	payload, err := json.Marshal(it.Request)
	if err != nil {
		return fmt.Errorf("encode job payload: %w", err)
	}
	j := &customer.Job{OrganizationID: orgID, ID: it.JobID, Type: it.NewJob.Type, Payload: payload, RequestHash: it.NewJob.RequestHash}
	_, _, err = s.RecordJob(ctx, j, customer.JobFailed, reason)
	return err
}

// completeUpsertJob queues the completion of an upsert's job: an update of
// its row, or, for a row left to the worker (it.NewJob), its insert.
func completeUpsertJob(b *pgx.Batch, orgID string, it BatchItem, reply *UpsertReply) error {
	if it.NewJob == nil {
		return completeJob(b, orgID, it.JobID, reply)
	}
	payload, err := it.payload()
	if err != nil {
		return err
	}
	result, err := json.Marshal(reply)
	if err != nil {
		return fmt.Errorf("encode job result: %w", err)
	}
	b.Queue(sqlInsertCompletedJob, orgID, it.JobID, it.NewJob.Type, payload, it.NewJob.RequestHash, result)
	return nil
}

func completeJob(b *pgx.Batch, orgID, jobID string, result any) error {
	raw, err := json.Marshal(result)
	if err != nil {
		return fmt.Errorf("encode job result: %w", err)
	}
	b.Queue(sqlCompleteJob, orgID, jobID, raw)
	return nil
}

// CompleteJob records a background job's result (a scan's counts).
func (s *Store) CompleteJob(ctx context.Context, orgID, jobID string, result any) error {
	raw, err := json.Marshal(result)
	if err != nil {
		return fmt.Errorf("encode job result: %w", err)
	}
	_, err = s.pool.Exec(ctx, sqlCompleteJob, orgID, jobID, raw)
	return interpretError(err, nil)
}
