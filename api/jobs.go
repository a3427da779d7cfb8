package api

import (
	"encoding/json"
	"net/http"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// jobView is GET /api/v1/jobs/{id} (SPEC §13).
type jobView struct {
	*customer.Job
	Result any `json:"result"`
	Error  any `json:"error"`
}

func (s *Server) handleJobGet(w http.ResponseWriter, r *http.Request) error {
	job, err := s.store.FindJob(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if job.Type == queue.TypeImportRevert {
		s.queueState(job, s.Names.Default())
		writeData(w, http.StatusOK, revertJobView(job))
		return nil
	}
	view := jobView{Job: job}
	switch job.State {
	case customer.JobQueued:
		// PostgreSQL knows queued or done; the queue knows running and retrying.
		if s.Inspector != nil {
			qname := s.Names.Critical()
			switch job.Type {
			case queue.TypeDuplicatesMerge:
				qname = s.Names.Default()
			case queue.TypeSuggestScan:
				qname = s.Names.Suggest()
			}
			if info, err := s.Inspector.GetTaskInfo(qname, job.ID); err == nil {
				switch info.State {
				case asynq.TaskStateActive:
					job.State = customer.JobRunning
				case asynq.TaskStateRetry:
					job.State = customer.JobRetrying
				}
			}
		}
	case customer.JobCompleted:
		if job.Type != queue.TypeUpsert {
			view.Result = job.Result // a job of its own kind: its result as stored
			break
		}
		res := postgres.UpsertReply{Result: &dedupe.Result{}}
		if err := json.Unmarshal(job.Result, &res); err == nil {
			c, err := s.store.FindSurvivor(r.Context(), job.OrganizationID, res.CustomerID)
			if err != nil && customer.ErrorCode(err) != customer.ENOTFOUND && customer.ErrorCode(err) != customer.EMOVED &&
				customer.ErrorCode(err) != customer.EGONE {
				return err
			}
			var shown any = c
			// A unified customer job shows its customer in seed 001's shape.
			var req dedupe.Request
			if c != nil && json.Unmarshal(job.Payload, &req) == nil && req.SourceRecord != nil {
				if shown, err = s.unifiedView(r.Context(), job.OrganizationID, &req, &res, c); err != nil {
					return err
				}
			}
			view.Result = struct {
				postgres.UpsertReply
				Customer any `json:"customer"`
			}{res, shown}
		}
	case customer.JobFailed:
		var e any
		if json.Unmarshal([]byte(job.Error), &e) != nil {
			e = job.Error
		}
		view.Error = e
	}
	writeData(w, http.StatusOK, view)
	return nil
}

func (s *Server) handleCustomerHistory(w http.ResponseWriter, r *http.Request) error {
	p := problems{}
	page, limit := pagination(r.URL.Query(), p)
	if err := p.err(); err != nil {
		return err
	}
	events, meta, err := s.store.FindHistory(r.Context(), org(r).ID, r.PathValue("id"), page, limit)
	if err != nil {
		return err
	}
	writeList(w, events, meta)
	return nil
}
