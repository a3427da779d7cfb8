package api

import "net/http"

// handleSharedIdentifierList is GET /api/v1/shared-identifiers (SPEC §10.1).
func (s *Server) handleSharedIdentifierList(w http.ResponseWriter, r *http.Request) error {
	p := problems{}
	page, limit := pagination(r.URL.Query(), p)
	if err := p.err(); err != nil {
		return err
	}
	list, meta, err := s.store.FindSharedIdentifiers(r.Context(), org(r).ID, page, limit)
	if err != nil {
		return err
	}
	writeList(w, list, meta)
	return nil
}
