package api

import (
	"net/http"
	"strings"

	"github.com/linkitworks/customers/dedupe"
)

// handleAliasDelete removes one of a customer's aliases (SPEC §10.1). The
// value is an email or a phone in any formatting, normalized as lookup
// does; the stored form matches too, so a phone parsed under another
// region (a location's) can be named as the customer JSON shows it.
func (s *Server) handleAliasDelete(w http.ResponseWriter, r *http.Request) error {
	raw := strings.TrimSpace(r.PathValue("value"))
	o := org(r)
	p := problems{}
	var kind, key, display string
	if strings.Contains(raw, "@") {
		kind = dedupe.KindEmail
		display = p.email("value", raw)
		key = dedupe.EmailKey(display, false)
	} else {
		kind = dedupe.KindPhone
		display = p.phone("value", raw, o.DefaultRegion).Number
		key = dedupe.PhoneDigits(display)
	}
	if display == "" {
		p.add("value", "must be an email or a phone")
	}
	if err := p.err(); err != nil {
		return err
	}
	if err := s.store.DeleteAlias(r.Context(), o.ID, r.PathValue("id"), kind, key, display); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
