package api

import (
	"net/http"
)

// routes is the whole HTTP surface.
func (s *Server) routes() {
	auth := func(h handlerFunc) http.Handler { return s.authenticated(s.handle(h)) }

	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)

	// Customers (seed 000).
	s.mux.Handle("GET /api/v1/customers", auth(s.handleCustomerList))
	s.mux.Handle("POST /api/v1/customers", auth(s.handleCustomerCreate))
	s.mux.Handle("GET /api/v1/customers/lookup", auth(s.handleCustomerLookup))
	s.mux.Handle("POST /api/v1/customers/search", auth(s.handleCustomerSearch))
	s.mux.Handle("GET /api/v1/customers/{id}", auth(s.handleCustomerGet))
	s.mux.Handle("PUT /api/v1/customers/{id}", auth(s.handleCustomerReplace))
	s.mux.Handle("PATCH /api/v1/customers/{id}", auth(s.handleCustomerPatch))
	s.mux.Handle("DELETE /api/v1/customers/{id}", auth(s.handleCustomerDelete))
	s.mux.Handle("GET /api/v1/customers/{id}/history", auth(s.handleCustomerHistory))
	s.mux.Handle("GET /api/v1/customers/{id}/addresses", auth(s.handleAddressList))
	s.mux.Handle("POST /api/v1/customers/{id}/addresses", auth(s.handleAddressCreate))
	s.mux.Handle("PUT /api/v1/customers/{id}/addresses/{addressId}", auth(s.handleAddressUpdate))
	s.mux.Handle("DELETE /api/v1/customers/{id}/addresses/{addressId}", auth(s.handleAddressDelete))

	// Find-or-create through the queue (SPEC §6, seed 004) and its jobs.
	s.mux.Handle("POST /api/v1/customers/upsert", auth(s.handleUpsert))
	s.mux.Handle("POST /api/v1/locations/{location_id}/customers/upsert", s.authenticated(s.handleLocation(s.handleLocationUpsert)))
	s.mux.Handle("GET /api/v1/jobs/{id}", auth(s.handleJobGet))

	// Operations: queue dashboard and metrics.
	s.opsRoutes()
}
