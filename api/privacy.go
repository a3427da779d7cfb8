package api

import (
	"fmt"
	"net/http"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// eraseView is the answer of POST /customers/{id}/erase.
type eraseView struct {
	*postgres.EraseReport
	// TasksDeleted counts the queued copies of the person's requests
	// deleted from Redis.
	TasksDeleted int `json:"tasks_deleted"`
}

// handleCustomerErase anonymizes a person everywhere (postgres.EraseCustomer)
// and deletes the queue's copies of their requests before the database
// commits: with Redis unreachable nothing is erased (503) and the call can
// be repeated. Synchronous: every step is bounded by the organization's
// rows, which retention keeps bounded (docs/decisions.md).
func (s *Server) handleCustomerErase(w http.ResponseWriter, r *http.Request) error {
	var deleted int
	rep, err := s.store.EraseCustomer(r.Context(), org(r).ID, r.PathValue("id"), func(rep *postgres.EraseReport) error {
		if s.Inspector == nil {
			return nil // no queue configured: nothing holds copies
		}
		var match func([]byte) bool
		if !rep.Mentions.Empty() {
			match = rep.Mentions.MatchJSON
		}
		n, err := queue.DeleteTasks(s.Inspector, s.Names, rep.JobIDs, match)
		deleted = n
		if err != nil {
			s.log.WarnContext(r.Context(), "erase: queued tasks not deleted", "err", err, "customer_id", rep.ID)
			return &customer.Error{Code: customer.EUNAVAILABLE, Message: "Queue unavailable: nothing was erased, try again"}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "customer erased", "customer_id", rep.ID, "records", len(rep.Records), "tasks_deleted", deleted)
	writeData(w, http.StatusOK, eraseView{EraseReport: rep, TasksDeleted: deleted})
	return nil
}

// handleCustomerExport answers everything held about a person, as one
// bounded document (postgres.ExportLimit per list).
func (s *Server) handleCustomerExport(w http.ResponseWriter, r *http.Request) error {
	e, err := s.store.ExportCustomer(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "customer-"+e.Customer.ID+".json"))
	writeData(w, http.StatusOK, e)
	return nil
}
