// The customers pages: search with filters and paging, and one customer's
// detail with identifiers, tags by location, groups, visits, addresses,
// orders and the history timeline.

package webapp

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// customerFilters are the list's query parameters passed to the API.
var customerFilters = []string{"search", "tag", "group_id", "location_id", "status"}

func (a *App) handleCustomers(w http.ResponseWriter, r *http.Request, s *session) error {
	q := url.Values{"page": {pageParam(r)}, "limit": {"25"}}
	in := r.URL.Query()
	for _, k := range customerFilters {
		if v := strings.TrimSpace(in.Get(k)); v != "" {
			q.Set(k, v)
		}
	}
	list, err := a.call(w, r, s, http.MethodGet, "/customers", q, nil)
	if err != nil {
		return err
	}
	locs, groups, err := a.locationsAndGroups(w, r, s)
	if err != nil {
		return err
	}
	filtered := false
	for _, k := range customerFilters {
		filtered = filtered || q.Get(k) != ""
	}
	a.render(w, r, http.StatusOK, "customers", s, map[string]any{
		"Customers": list.List(), "Pager": pagerFor(r, list.Meta), "Total": list.Meta["total"], "Filtered": filtered,
		"Q": in, "Locations": locs, "Groups": groups,
		"Statuses": []string{"active", "inactive", "pending", "suspended", "blocked"},
	})
	return nil
}

func (a *App) handleCustomer(w http.ResponseWriter, r *http.Request, s *session) error {
	id := url.PathEscape(r.PathValue("id"))
	c, err := a.call(w, r, s, http.MethodGet, "/customers/"+id, nil, nil)
	if err != nil {
		return err
	}
	if c.Status == http.StatusMovedPermanently && c.Location != "" {
		// A merged customer: show the survivor.
		http.Redirect(w, r, "/app/customers/"+url.PathEscape(path.Base(c.Location))+"?merged_from="+id, http.StatusSeeOther)
		return nil
	}
	history, err := a.call(w, r, s, http.MethodGet, "/customers/"+id+"/history", url.Values{"limit": {"100"}}, nil)
	if err != nil {
		return err
	}
	addresses, err := a.call(w, r, s, http.MethodGet, "/customers/"+id+"/addresses", nil, nil)
	if err != nil {
		return err
	}
	orders, err := a.call(w, r, s, http.MethodGet, "/customers/"+id+"/orders", url.Values{"limit": {"20"}}, nil)
	if err != nil {
		return err
	}
	locs, groups, err := a.locationsAndGroups(w, r, s)
	if err != nil {
		return err
	}
	dups, dupErr := a.call(w, r, s, http.MethodGet, "/duplicates", url.Values{"customer_id": {r.PathValue("id")}, "status": {"open"}}, nil)
	var openDups []map[string]any
	if dupErr == nil {
		openDups = dups.List()
	}
	a.render(w, r, http.StatusOK, "customer", s, map[string]any{
		"C": c.Map(), "History": history.List(), "HistoryTotal": history.Meta["total"], "Addresses": addresses.List(),
		"Orders": orders.List(), "OrderTotal": orders.Meta["total"], "LocationNames": names(locs), "GroupNames": names(groups),
		"Duplicates": openDups, "MergedFrom": r.URL.Query().Get("merged_from"), "Notice": r.URL.Query().Get("notice"),
	})
	return nil
}

// handleUnmerge restores a customer merged into this one (from the history
// timeline's merge events).
func (a *App) handleUnmerge(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		return &apiError{Status: http.StatusBadRequest, Message: "The form could not be read."}
	}
	source := r.PostFormValue("source_id")
	if _, err := a.call(w, r, s, http.MethodPost, "/customers/"+url.PathEscape(id)+"/unmerge", nil,
		map[string]any{"source_id": source}); err != nil {
		return err
	}
	redirect(w, r, "/app/customers/"+url.PathEscape(id)+"?notice=unmerged")
	return nil
}

// names maps ids to names for showing groups and locations.
func names(items []map[string]any) map[string]any {
	m := map[string]any{}
	for _, it := range items {
		m[str(it["id"])] = str(it["name"])
	}
	return m
}
