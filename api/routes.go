package api

import (
	"net/http"
)

// routes is the whole HTTP surface.
func (s *Server) routes() {
	auth := func(h handlerFunc) http.Handler { return s.authenticated(s.handle(h)) }
	// creating POSTs honour Idempotency-Key (idempotency.go).
	creating := func(h handlerFunc) http.Handler {
		return s.authenticated(s.idempotent(s.writeError, false, s.handle(h)))
	}
	// findOrCreate POSTs record a job under the key themselves: a retry
	// joins it even while the first request's claim is pending.
	findOrCreate := func(h handlerFunc) http.Handler {
		return s.authenticated(s.idempotent(s.writeError, true, s.handle(h)))
	}

	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	s.docsRoutes()

	// Org settings (SPEC §10.1).
	s.mux.Handle("GET /api/v1/settings", auth(accepts(noParams, s.handleSettingsGet)))
	s.mux.Handle("PATCH /api/v1/settings", auth(s.handleSettingsPatch))

	// Customers (seed 000).
	s.mux.Handle("GET /api/v1/customers", auth(accepts(customerListParams, s.handleCustomerList)))
	s.mux.Handle("POST /api/v1/customers", creating(s.handleCustomerCreate))
	s.mux.Handle("GET /api/v1/customers/lookup", auth(accepts(lookupParams, s.handleCustomerLookup)))
	s.mux.Handle("POST /api/v1/customers/search", auth(s.handleCustomerSearch))
	s.mux.Handle("GET /api/v1/customers/{id}", auth(accepts(noParams, s.handleCustomerGet)))
	s.mux.Handle("PUT /api/v1/customers/{id}", auth(s.handleCustomerReplace))
	s.mux.Handle("PATCH /api/v1/customers/{id}", auth(s.handleCustomerPatch))
	s.mux.Handle("DELETE /api/v1/customers/{id}", auth(s.handleCustomerDelete))
	s.mux.Handle("GET /api/v1/customers/{id}/history", auth(accepts(pageParams, s.handleCustomerHistory)))
	s.mux.Handle("GET /api/v1/customers/{id}/addresses", auth(accepts(noParams, s.handleAddressList)))
	s.mux.Handle("POST /api/v1/customers/{id}/addresses", creating(s.handleAddressCreate))
	s.mux.Handle("PUT /api/v1/customers/{id}/addresses/{addressId}", auth(s.handleAddressUpdate))
	s.mux.Handle("PATCH /api/v1/customers/{id}/addresses/{addressId}", auth(s.handleAddressPatch))
	s.mux.Handle("DELETE /api/v1/customers/{id}/addresses/{addressId}", auth(s.handleAddressDelete))
	s.mux.Handle("POST /api/v1/customers/{id}/tags", auth(s.handleCustomerTag))
	s.mux.Handle("DELETE /api/v1/customers/{id}/tags/{tag}", auth(s.handleCustomerUntag))
	s.mux.Handle("DELETE /api/v1/customers/{id}/aliases/{value}", auth(s.handleAliasDelete))
	s.mux.Handle("POST /api/v1/customers/{id}/merge", auth(s.handleCustomerMerge))
	s.mux.Handle("POST /api/v1/customers/{id}/unmerge", auth(s.handleCustomerUnmerge))

	// Duplicate review (SPEC §10.2).
	s.mux.Handle("GET /api/v1/duplicates", auth(accepts(duplicateListParams, s.handleDuplicateList)))
	s.mux.Handle("POST /api/v1/duplicates/merge", auth(s.handleDuplicatesMerge))
	s.mux.Handle("GET /api/v1/duplicates/{id}", auth(accepts(noParams, s.handleDuplicateGet)))
	s.mux.Handle("POST /api/v1/duplicates/{id}/dismiss", auth(s.handleDuplicateDismiss))

	// Privacy (issue 21): erase a person everywhere, export what is held.
	s.mux.Handle("POST /api/v1/customers/{id}/erase", auth(s.handleCustomerErase))
	s.mux.Handle("GET /api/v1/customers/{id}/export", auth(accepts(noParams, s.handleCustomerExport)))

	// Customer groups (seed 002).
	s.mux.Handle("GET /api/v1/customer-groups", auth(accepts(pageParams, s.handleGroupList)))
	s.mux.Handle("POST /api/v1/customer-groups", creating(s.handleGroupCreate))
	s.mux.Handle("GET /api/v1/customer-groups/{id}", auth(accepts(noParams, s.handleGroupGet)))
	s.mux.Handle("PUT /api/v1/customer-groups/{id}", auth(s.handleGroupUpdate))
	s.mux.Handle("PATCH /api/v1/customer-groups/{id}", auth(s.handleGroupPatch))
	s.mux.Handle("DELETE /api/v1/customer-groups/{id}", auth(s.handleGroupDelete))
	s.mux.Handle("GET /api/v1/customer-groups/{id}/customers", auth(accepts(customerListParams, s.handleGroupCustomers)))
	s.mux.Handle("POST /api/v1/customer-groups/{id}/customers", auth(s.handleGroupAddCustomers))
	s.mux.Handle("DELETE /api/v1/customer-groups/{id}/customers/{customerId}", auth(s.handleGroupRemoveCustomer))

	// Locations and tags (SPEC §5).
	s.mux.Handle("GET /api/v1/locations", auth(accepts(pageParams, s.handleLocationList)))
	s.mux.Handle("POST /api/v1/locations", creating(s.handleLocationCreate))
	s.mux.Handle("GET /api/v1/locations/{id}", auth(accepts(noParams, s.handleLocationGet)))
	s.mux.Handle("PUT /api/v1/locations/{id}", auth(s.handleLocationUpdate))
	s.mux.Handle("PATCH /api/v1/locations/{id}", auth(s.handleLocationPatch))
	s.mux.Handle("DELETE /api/v1/locations/{id}", auth(s.handleLocationDelete))
	s.mux.Handle("GET /api/v1/tags", auth(accepts(tagListParams, s.handleTagList)))
	// Identifiers several people carry (SPEC §10.1).
	s.mux.Handle("GET /api/v1/shared-identifiers", auth(accepts(pageParams, s.handleSharedIdentifierList)))

	// Location-scoped customers (seed 004): {success, message, data} bodies
	// and {success: false, message, errors} errors, authentication included.
	scoped := func(h handlerFunc) http.Handler { return s.authenticatedAs(s.writeScopedError, s.handleScoped(h)) }
	scopedCreating := func(h handlerFunc) http.Handler {
		return s.authenticatedAs(s.writeScopedError, s.idempotent(s.writeScopedError, false, s.handleScoped(h)))
	}
	scopedFindOrCreate := func(h handlerFunc) http.Handler {
		return s.authenticatedAs(s.writeScopedError, s.idempotent(s.writeScopedError, true, s.handleScoped(h)))
	}
	s.mux.Handle("GET /api/v1/locations/{location_id}/customers", scoped(accepts(locationCustomersParams, s.handleLocationCustomerList)))
	s.mux.Handle("POST /api/v1/locations/{location_id}/customers", scopedCreating(s.handleLocationCustomerCreate))
	s.mux.Handle("POST /api/v1/locations/{location_id}/customers/upsert", scopedFindOrCreate(s.handleLocationUpsert))
	s.mux.Handle("GET /api/v1/locations/{location_id}/customers/{id}", scoped(accepts(noParams, s.handleLocationCustomerGet)))
	s.mux.Handle("PUT /api/v1/locations/{location_id}/customers/{id}", scoped(s.handleLocationCustomerUpdate))
	s.mux.Handle("DELETE /api/v1/locations/{location_id}/customers/{id}", scoped(s.handleLocationCustomerDelete))

	// Find-or-create through the queue (SPEC §6, seed 004) and its jobs.
	s.mux.Handle("POST /api/v1/customers/upsert", findOrCreate(s.handleUpsert))
	s.mux.Handle("GET /api/v1/jobs/{id}", auth(accepts(noParams, s.handleJobGet)))

	// Fuzzy duplicate suggestions: a rescan of the organization, as a job (SPEC §10.2).
	s.mux.Handle("POST /api/v1/duplicates/scan", auth(s.handleDuplicateScan))

	// Unified customer (seed 001): the same engine, one source system's view.
	s.mux.Handle("POST /api/v1/unified/customer", findOrCreate(s.handleUnifiedCustomer))

	// Bulk imports (SPEC §7).
	// Uploads and the error report stream whole files (no overall deadline;
	// they must progress).
	s.mux.Handle("POST /api/v1/imports", s.streaming(auth(s.handleImportCreate)))
	s.mux.Handle("POST /api/v1/imports/preview", s.streaming(auth(s.handleImportPreview)))
	s.mux.Handle("GET /api/v1/imports", auth(accepts(pageParams, s.handleImportList)))
	s.mux.Handle("GET /api/v1/imports/{id}", auth(accepts(noParams, s.handleImportGet)))
	s.mux.Handle("POST /api/v1/imports/{id}/cancel", auth(s.handleImportCancel))
	s.mux.Handle("GET /api/v1/imports/{id}/errors", s.streaming(auth(accepts(importErrorParams, s.handleImportErrors))))
	s.mux.Handle("POST /api/v1/imports/{id}/revert", auth(s.handleImportRevert))
	s.mux.Handle("POST /api/v1/imports/{id}/retry", s.streaming(auth(s.handleImportRetry)))

	// ERP view (seed 003): the same customers in the seed's shape.
	s.mux.Handle("GET /api/customers", auth(accepts(erpListParams, s.handleERPCustomerList)))
	s.mux.Handle("POST /api/customers", creating(s.handleERPCustomerCreate))
	s.mux.Handle("GET /api/customers/{id}", auth(accepts(noParams, s.handleERPCustomerGet)))
	// Seed 003's PUT is partial already; PATCH is the same merge patch.
	s.mux.Handle("PUT /api/customers/{id}", auth(s.handleERPCustomerUpdate))
	s.mux.Handle("PATCH /api/customers/{id}", auth(s.handleERPCustomerUpdate))

	// Contacts, orders, analytics and credit checks of a customer, served
	// under both the ERP paths and /api/v1 (SPEC §9).
	for _, base := range []string{"/api/customers/{id}", "/api/v1/customers/{id}"} {
		s.mux.Handle("GET "+base+"/contacts", auth(accepts(pageParams, s.handleContactList)))
		s.mux.Handle("POST "+base+"/contacts", creating(s.handleContactCreate))
		s.mux.Handle("PUT "+base+"/contacts/{contact_id}", auth(s.handleContactUpdate))
		s.mux.Handle("PATCH "+base+"/contacts/{contact_id}", auth(s.handleContactUpdate))
		s.mux.Handle("DELETE "+base+"/contacts/{contact_id}", auth(s.handleContactDelete))
		s.mux.Handle("GET "+base+"/orders", auth(accepts(orderListParams, s.handleCustomerOrders)))
		s.mux.Handle("GET "+base+"/analytics", auth(accepts(analyticsParams, s.handleCustomerAnalytics)))
		s.mux.Handle("POST "+base+"/credit-check", auth(s.handleCreditCheck))
	}

	// Orders (SPEC §9, §13).
	s.mux.Handle("POST /api/v1/orders", creating(s.handleOrderCreate))
	s.mux.Handle("GET /api/v1/orders/{id}", auth(accepts(noParams, s.handleOrderGet)))
	s.mux.Handle("PATCH /api/v1/orders/{id}", auth(s.handleOrderPatch))

	// Webhooks (SPEC §10.4).
	s.mux.Handle("GET /api/v1/webhooks", auth(accepts(pageParams, s.handleWebhookList)))
	s.mux.Handle("POST /api/v1/webhooks", creating(s.handleWebhookCreate))
	s.mux.Handle("GET /api/v1/webhooks/{id}", auth(accepts(noParams, s.handleWebhookGet)))
	s.mux.Handle("PUT /api/v1/webhooks/{id}", auth(s.handleWebhookReplace))
	s.mux.Handle("PATCH /api/v1/webhooks/{id}", auth(s.handleWebhookPatch))
	s.mux.Handle("DELETE /api/v1/webhooks/{id}", auth(s.handleWebhookDelete))
	s.mux.Handle("GET /api/v1/webhooks/{id}/deliveries", auth(accepts(pageParams, s.handleWebhookDeliveries)))

	// Operations: queue dashboard and metrics.
	s.opsRoutes()
}
