// The location-scoped API's answers: its {success, message, data} envelope and its error shape.

package api

import (
	"net/http"
	"strings"

	"github.com/linkitworks/customers/customer"
)

// The location-scoped API (seed 004) answers {success, message, data} with
// these messages, exactly as documented.
const (
	msgCustomersFetched = "Customers fetched!"
	msgCustomerCreated  = "Customer created!"
	msgCustomerFetched  = "Customer fetched!"
	msgCustomerUpdated  = "Customer updated!"
	msgCustomerDeleted  = "Customer deleted!"
	msgCustomerUpserted = "Customer upserted!"
)

// scopedEnvelope is the seed 004 success body.
type scopedEnvelope struct {
	Success bool           `json:"success"`
	Message string         `json:"message"`
	Data    any            `json:"data"`
	Meta    *customer.Page `json:"meta,omitempty"`
}

// writeScopedCustomer is writeScoped for a created or edited customer c:
// meta.warnings when its stored phone is not valid, as writeCustomer.
func writeScopedCustomer(w http.ResponseWriter, status int, message string, data any, c *customer.Customer) {
	encode(w, status, struct {
		scopedEnvelope
		Meta *customerMeta `json:"meta,omitempty"`
	}{scopedEnvelope{Success: true, Message: message, Data: data}, metaOfCustomer(c)})
}

// scopedErrorBody is the seed 004 error body (SPEC §13).
type scopedErrorBody struct {
	Success bool              `json:"success"`
	Message string            `json:"message"`
	Errors  map[string]string `json:"errors"`
}

func writeScoped(w http.ResponseWriter, status int, message string, data any, meta *customer.Page) {
	encode(w, status, scopedEnvelope{Success: true, Message: message, Data: data, Meta: meta})
}

// handleScoped is handle for the location-scoped API's error shape.
func (s *Server) handleScoped(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeScopedError(w, r, err)
		}
	})
}

// writeScopedError writes err in the seed 004 shape with the status of
// SPEC §2. errors names fields for validation errors and conflicts only.
func (s *Server) writeScopedError(w http.ResponseWriter, r *http.Request, err error) {
	e, status := s.prepareError(w, r, err)
	fields := map[string]string{}
	switch d := e.Details.(type) {
	case map[string]string:
		switch e.Code {
		case customer.EINVALID, customer.ENOTFOUND: // ENOTFOUND: what was not found ({"id": …})
			fields = d
		case customer.ECONFLICT: // {email: value, customer_id: owner}
			for k, v := range d {
				if k == "customer_id" {
					fields[k] = v
				} else {
					fields[k] = "already belongs to another customer"
				}
			}
		}
	case map[string]any:
		if e.Code == customer.EINVALID {
			for k, v := range d {
				if problem, ok := v.(string); ok {
					fields[k] = problem
				}
			}
		}
	}
	encode(w, status, scopedErrorBody{Success: false, Message: e.Message, Errors: fields})
}

// isLocationScoped reports whether path is under
// /api/v1/locations/{location_id}/customers, whose errors take the seed 004 shape.
func isLocationScoped(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	return len(parts) >= 5 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "locations" && parts[4] == "customers"
}
