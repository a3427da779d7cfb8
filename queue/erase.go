package queue

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// eraseStates are the task states whose payloads are copies of requests
// already handled: retrying, failed for good (archived), kept after
// completion, or held back (scheduled). Pending tasks are requests still to
// run — after the erasure, as a new request would — and an active one is
// running (asynq cannot delete it).
var eraseStates = []asynq.TaskState{
	asynq.TaskStateScheduled, asynq.TaskStateRetry, asynq.TaskStateArchived, asynq.TaskStateCompleted,
}

// eraseScanPages bounds the scan of one queue's state (pages of 500
// tasks): asynq keeps at most 10,000 archived tasks per queue, and pending
// upserts are drained in milliseconds.
const (
	erasePageSize  = 500
	eraseScanPages = 40
)

// DeleteTasks deletes from Redis the tasks of the given job ids (a task id
// is its job id; jobs already handled) in every queue and state, and every
// task in eraseStates whose payload matches
// (dedupe.Mentions.MatchJSON over the payload; nil skips the scan): an
// erased person's requests leave no copy in the queue. It returns how many
// it deleted.
func DeleteTasks(insp *asynq.Inspector, names Names, jobIDs []string, match func(payload []byte) bool) (int, error) {
	n := 0
	var errs []error
	for _, q := range names.All() {
		for _, id := range jobIDs {
			err := insp.DeleteTask(q, id)
			switch {
			case err == nil:
				n++
			case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound), isActive(err):
				// A duplicate delivery running: it finds its job done.
			default:
				errs = append(errs, fmt.Errorf("delete task %s: %w", id, err))
			}
		}
		if match == nil {
			continue
		}
		for _, state := range eraseStates {
			d, err := deleteMatching(insp, q, state, match)
			n += d
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return n, errors.Join(errs...)
}

func deleteMatching(insp *asynq.Inspector, q string, state asynq.TaskState, match func([]byte) bool) (int, error) {
	list := map[asynq.TaskState]func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		asynq.TaskStateScheduled: insp.ListScheduledTasks,
		asynq.TaskStateRetry:     insp.ListRetryTasks,
		asynq.TaskStateArchived:  insp.ListArchivedTasks,
		asynq.TaskStateCompleted: insp.ListCompletedTasks,
	}[state]
	var doomed []string
	for page := 1; page <= eraseScanPages; page++ {
		tasks, err := list(q, asynq.PageSize(erasePageSize), asynq.Page(page))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("list %s tasks of %s: %w", state, q, err)
		}
		for _, t := range tasks {
			if match(t.Payload) {
				doomed = append(doomed, t.ID)
			}
		}
		if len(tasks) < erasePageSize {
			break
		}
	}
	// Deleted after the scan, so the pages do not shift under it.
	n := 0
	var errs []error
	for _, id := range doomed {
		if err := insp.DeleteTask(q, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !isActive(err) {
			errs = append(errs, fmt.Errorf("delete task %s: %w", id, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// isActive reports asynq's refusal to delete a running task (it has no
// sentinel error for it); the task was listed in another state a moment ago.
func isActive(err error) bool {
	return err != nil && strings.Contains(err.Error(), "active state")
}

// PurgeArchived deletes, in every queue, up to limit archived tasks (requests
// that failed for good, payload included) archived before the given time,
// oldest first, and returns how many. asynq itself keeps them 90 days:
// longer than the jobs they copy (retention).
func PurgeArchived(insp *asynq.Inspector, names Names, before time.Time, limit int) (int, error) {
	n := 0
	var errs []error
	for _, q := range names.All() {
		// Listed oldest first (the archive is sorted by the time of archiving).
		tasks, err := insp.ListArchivedTasks(q, asynq.PageSize(limit), asynq.Page(1))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("list archived tasks of %s: %w", q, err))
			continue
		}
		for _, t := range tasks {
			if !t.LastFailedAt.Before(before) {
				break
			}
			if err := insp.DeleteTask(q, t.ID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
				errs = append(errs, fmt.Errorf("delete archived task %s: %w", t.ID, err))
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}
