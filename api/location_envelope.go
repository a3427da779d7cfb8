package api

import (
	"net/http"

	"github.com/linkitworks/customers/customer"
)

// locationBody is the envelope of the location-scoped API (seed 004).
type locationBody struct {
	Success bool           `json:"success"`
	Message string         `json:"message"`
	Data    any            `json:"data,omitempty"`
	Meta    any            `json:"meta,omitempty"`
	Errors  map[string]any `json:"errors,omitempty"`
}

// handleLocation wraps a location-scoped handler: its errors answer
// {"success": false, "message", "errors": {field: problem}} with the status
// of the shared error table.
func (s *Server) handleLocation(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			e := customer.AsError(err)
			status := statusOf[e.Code]
			if status == 0 || status >= 500 {
				s.log.ErrorContext(r.Context(), "request failed", "err", err)
			}
			if status == 0 {
				status = http.StatusInternalServerError
			}
			body := locationBody{Success: false, Message: e.Message}
			switch d := e.Details.(type) {
			case map[string]string:
				body.Errors = map[string]any{}
				for k, v := range d {
					body.Errors[k] = v
				}
			case map[string]any:
				body.Errors = d
			}
			encode(w, status, body)
		}
	})
}

func (s *Server) handleLocationUpsert(w http.ResponseWriter, r *http.Request) error {
	out, err := s.upsert(w, r, r.PathValue("location_id"))
	if err != nil {
		return err
	}
	if out.status == http.StatusAccepted {
		acceptJob(w, out.job)
		encode(w, http.StatusAccepted, locationBody{Success: true, Message: "Customer upsert accepted!", Data: out.job})
		return nil
	}
	encode(w, out.status, locationBody{Success: true, Message: "Customer upserted!", Data: out.customer, Meta: out.metaBlock()})
	return nil
}
