// Duplicate review (SPEC §10.2): the queue by score, a pair side by side,
// merge choosing the survivor, and "not a duplicate".

package webapp

import (
	"errors"
	"net/http"
	"net/url"
)

// compared are the fields shown side by side; differing ones are marked.
var compared = []string{"first_name", "last_name", "email", "phone", "birthdate", "company_name", "status", "type", "source"}

func (a *App) handleDuplicates(w http.ResponseWriter, r *http.Request, s *session) error {
	status := r.URL.Query().Get("status")
	if status != "dismissed" && status != "merged" {
		status = "open"
	}
	list, err := a.call(w, r, s, http.MethodGet, "/duplicates", url.Values{"status": {status}, "page": {pageParam(r)}, "limit": {"25"}}, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		// This server has no duplicate review yet.
		a.render(w, r, http.StatusOK, "duplicates", s, map[string]any{"Unavailable": true, "Status": status})
		return nil
	}
	if err != nil {
		return err
	}
	pairs := list.List()
	// Names for the queue: one read per customer shown (25 a page).
	seen := map[string]any{}
	for _, p := range pairs {
		for _, id := range strs(p["customer_ids"]) {
			if _, ok := seen[id]; ok {
				continue
			}
			if c, err := a.call(w, r, s, http.MethodGet, "/customers/"+url.PathEscape(id), nil, nil); err == nil {
				seen[id] = c.Map()
			}
		}
	}
	a.render(w, r, http.StatusOK, "duplicates", s, map[string]any{
		"Pairs": pairs, "Customers": seen, "Pager": pagerFor(r, list.Meta), "Total": list.Meta["total"], "Status": status,
	})
	return nil
}

// pair reads one suggestion.
func (a *App) pair(w http.ResponseWriter, r *http.Request, s *session, id string) (map[string]any, error) {
	res, err := a.call(w, r, s, http.MethodGet, "/duplicates/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return nil, err
	}
	return res.Map(), nil
}

func (a *App) handleDuplicate(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := a.pair(w, r, s, r.PathValue("id"))
	if err != nil {
		return err
	}
	var sides []map[string]any
	for _, id := range strs(p["customer_ids"]) {
		c, err := a.call(w, r, s, http.MethodGet, "/customers/"+url.PathEscape(id), nil, nil)
		if err != nil {
			return err
		}
		sides = append(sides, c.Map())
	}
	if len(sides) != 2 {
		return &apiError{Status: http.StatusNotFound, Message: "This pair no longer has two customers"}
	}
	type row struct {
		Field  string
		A, B   any
		Differ bool
	}
	var rows []row
	for _, f := range compared {
		av, bv := sides[0][f], sides[1][f]
		if str(av) == "" && str(bv) == "" {
			continue
		}
		rows = append(rows, row{Field: f, A: av, B: bv, Differ: str(av) != str(bv)})
	}
	a.render(w, r, http.StatusOK, "duplicate", s, map[string]any{"Pair": p, "A": sides[0], "B": sides[1], "Rows": rows})
	return nil
}

// handleDuplicateMerge merges the other customer of the pair into the one
// the merchant chose to keep.
func (a *App) handleDuplicateMerge(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := a.pair(w, r, s, r.PathValue("id"))
	if err != nil {
		return err
	}
	survivor := r.PostFormValue("survivor")
	ids := strs(p["customer_ids"])
	var source string
	for _, id := range ids {
		if id != survivor {
			source = id
		}
	}
	if len(ids) != 2 || source == "" || source == survivor || (survivor != ids[0] && survivor != ids[1]) {
		return &apiError{Status: http.StatusUnprocessableEntity, Message: "Choose which customer to keep.", Details: map[string]any{"survivor": "must be one of the pair"}}
	}
	if _, err := a.call(w, r, s, http.MethodPost, "/customers/"+url.PathEscape(survivor)+"/merge", nil,
		map[string]any{"source_ids": []string{source}}); err != nil {
		return err
	}
	redirect(w, r, "/app/customers/"+url.PathEscape(survivor)+"?notice=merged")
	return nil
}

func (a *App) handleDuplicateDismiss(w http.ResponseWriter, r *http.Request, s *session) error {
	if _, err := a.call(w, r, s, http.MethodPost, "/duplicates/"+url.PathEscape(r.PathValue("id"))+"/dismiss", nil, map[string]any{}); err != nil {
		return err
	}
	redirect(w, r, "/app/duplicates?notice=dismissed")
	return nil
}
