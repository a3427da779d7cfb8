package api

import (
	"encoding/json"
	"net/http"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/queue"
)

// handleImportRevert starts undoing an import (SPEC §10.3): 202 with its
// job. Repeating the request answers 202 with the same job (a failed job
// is replaced by a new one that resumes where it stopped).
func (s *Server) handleImportRevert(w http.ResponseWriter, r *http.Request) error {
	if s.Queue == nil {
		return &customer.Error{Code: customer.EUNAVAILABLE, Message: "Queue unavailable, try again"}
	}
	ctx := r.Context()
	o := org(r)
	job, created, err := s.store.StartImportRevert(ctx, o.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if created || job.State == customer.JobQueued {
		// The job row is committed: a task lost here is re-created by the
		// workers' reconciler from it.
		if _, err := s.Queue.EnqueueImportRevert(ctx, queue.RevertPayload{JobID: job.ID, OrgID: o.ID, ImportID: r.PathValue("id")}); err != nil {
			s.log.WarnContext(ctx, "revert task not queued: the reconciler will", "job_id", job.ID, "err", err)
		}
	}
	w.Header().Set("Location", "/api/v1/jobs/"+job.ID)
	writeData(w, http.StatusAccepted, revertJobView(job))
	return nil
}

// revertJobView shows a revert job: its result is the import's revert
// outcome (customer.ImportRevert).
func revertJobView(job *customer.Job) jobView {
	view := jobView{Job: job}
	if len(job.Result) > 0 {
		view.Result = json.RawMessage(job.Result)
	}
	if job.State == customer.JobFailed {
		var e any
		if json.Unmarshal([]byte(job.Error), &e) != nil {
			e = job.Error
		}
		view.Error = e
	}
	return view
}

// queueState tells running and retrying apart from queued, which only the
// queue knows.
func (s *Server) queueState(job *customer.Job, queueName string) {
	if job.State != customer.JobQueued || s.Inspector == nil {
		return
	}
	if info, err := s.Inspector.GetTaskInfo(queueName, job.ID); err == nil {
		switch info.State {
		case asynq.TaskStateActive:
			job.State = customer.JobRunning
		case asynq.TaskStateRetry:
			job.State = customer.JobRetrying
		}
	}
}
