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
	s.mux.Handle("GET /api/v1/customers/{id}/addresses", auth(s.handleAddressList))
	s.mux.Handle("POST /api/v1/customers/{id}/addresses", auth(s.handleAddressCreate))
	s.mux.Handle("PUT /api/v1/customers/{id}/addresses/{addressId}", auth(s.handleAddressUpdate))
	s.mux.Handle("DELETE /api/v1/customers/{id}/addresses/{addressId}", auth(s.handleAddressDelete))

	// ERP view (seed 003): the same customers in the seed's shape.
	s.mux.Handle("GET /api/customers", auth(s.handleERPCustomerList))
	s.mux.Handle("POST /api/customers", auth(s.handleERPCustomerCreate))
	s.mux.Handle("GET /api/customers/{id}", auth(s.handleERPCustomerGet))
	s.mux.Handle("PUT /api/customers/{id}", auth(s.handleERPCustomerUpdate))

	// Contacts, orders, analytics and credit checks of a customer, served
	// under both the ERP paths and /api/v1 (SPEC §9).
	for _, base := range []string{"/api/customers/{id}", "/api/v1/customers/{id}"} {
		s.mux.Handle("GET "+base+"/contacts", auth(s.handleContactList))
		s.mux.Handle("POST "+base+"/contacts", auth(s.handleContactCreate))
		s.mux.Handle("PUT "+base+"/contacts/{contact_id}", auth(s.handleContactUpdate))
		s.mux.Handle("DELETE "+base+"/contacts/{contact_id}", auth(s.handleContactDelete))
		s.mux.Handle("GET "+base+"/orders", auth(s.handleCustomerOrders))
		s.mux.Handle("GET "+base+"/analytics", auth(s.handleCustomerAnalytics))
		s.mux.Handle("POST "+base+"/credit-check", auth(s.handleCreditCheck))
	}

	// Orders (SPEC §9, §13).
	s.mux.Handle("POST /api/v1/orders", auth(s.handleOrderCreate))
	s.mux.Handle("GET /api/v1/orders/{id}", auth(s.handleOrderGet))
	s.mux.Handle("PATCH /api/v1/orders/{id}", auth(s.handleOrderPatch))
}
