package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/queue"
)

// handleDuplicateScan queues a rescan of the organization for fuzzy
// duplicates (SPEC §10.2): 202 with the job, read at GET /api/v1/jobs/{id}.
func (s *Server) handleDuplicateScan(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	o := org(r)
	job := &customer.Job{OrganizationID: o.ID, Type: queue.TypeSuggestScan, Payload: json.RawMessage(`{}`),
		IdempotencyKey: strings.TrimSpace(r.Header.Get("Idempotency-Key"))}
	if len(job.IdempotencyKey) > 200 {
		return customer.Invalid(map[string]string{"Idempotency-Key": "must be at most 200 characters"})
	}
	stored, existing, err := s.store.CreateJob(ctx, job)
	if err != nil {
		return err
	}
	if existing {
		if stored.Type != queue.TypeSuggestScan {
			return customer.Invalid(map[string]string{"Idempotency-Key": "was already used with a different request"})
		}
		w.Header().Set("Location", "/api/v1/jobs/"+stored.ID)
		writeData(w, http.StatusAccepted, stored)
		return nil
	}
	if s.Queue == nil {
		return s.queueDown(ctx, job, errors.New("no queue configured"))
	}
	if err := s.Queue.EnqueueSuggestScan(ctx, queue.SuggestPayload{OrgID: o.ID, JobID: job.ID}); err != nil {
		return s.queueDown(ctx, job, err)
	}
	acceptJob(w, job)
	writeData(w, http.StatusAccepted, job)
	return nil
}
