// Settings (SPEC §10.1), locations and groups.

package webapp

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

func (a *App) handleSettings(w http.ResponseWriter, r *http.Request, s *session) error {
	return a.showSettings(w, r, s, http.StatusOK, r.URL.Query().Get("saved") != "", nil, nil)
}

func (a *App) showSettings(w http.ResponseWriter, r *http.Request, s *session, status int, saved bool, problem *apiError, form map[string]any) error {
	st, err := a.call(w, r, s, http.MethodGet, "/settings", nil, nil)
	if err != nil {
		return err
	}
	shared, err := a.call(w, r, s, http.MethodGet, "/shared-identifiers", url.Values{"limit": {"50"}}, nil)
	if err != nil {
		return err
	}
	data := st.Map()
	if form != nil {
		data = form // show what the merchant typed, with the problem
	}
	a.render(w, r, status, "settings", s, map[string]any{
		"S": data, "Shared": shared.List(), "SharedTotal": shared.Meta["total"], "Saved": saved, "Problem": problem,
		"Policies": []string{"fill_blanks", "overwrite", "do_not_update", "merge_conflicts"},
	})
	return nil
}

// splitList reads a comma- or line-separated list.
func splitList(v string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (a *App) handleSettingsSave(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	var region any
	if v := strings.TrimSpace(f.Get("default_region")); v != "" {
		region = strings.ToUpper(v)
	}
	patch := map[string]any{
		"default_region":         region,
		"match_keys":             splitList(f.Get("match_keys")),
		"email_canonicalization": f.Get("email_canonicalization") == "true",
		"name_check":             f.Get("name_check") == "true",
		"default_merge_policy":   f.Get("default_merge_policy"),
		"blocklist":              map[string]any{"emails": splitList(f.Get("blocklist_emails")), "phones": splitList(f.Get("blocklist_phones"))},
	}
	_, err := a.call(w, r, s, http.MethodPatch, "/settings", nil, patch)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity {
		form := map[string]any{}
		for k, v := range patch {
			form[k] = v
		}
		form["default_region"] = f.Get("default_region")
		return a.showSettings(w, r, s, http.StatusUnprocessableEntity, false, ae, toAny(form))
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/app/settings?saved=1")
	return nil
}

// toAny gives a Go map the shape of decoded JSON for the templates.
func toAny(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch v := v.(type) {
		case []string:
			xs := make([]any, len(v))
			for i, x := range v {
				xs[i] = x
			}
			out[k] = xs
		case map[string]any:
			out[k] = toAny(v)
		default:
			out[k] = v
		}
	}
	return out
}

func (a *App) handleLocations(w http.ResponseWriter, r *http.Request, s *session) error {
	return a.showLocations(w, r, s, http.StatusOK, nil, r.URL.Query().Get("notice"))
}

func (a *App) showLocations(w http.ResponseWriter, r *http.Request, s *session, status int, problem *apiError, notice string) error {
	locs, groups, err := a.locationsAndGroups(w, r, s)
	if err != nil {
		return err
	}
	a.render(w, r, status, "locations", s, map[string]any{
		"Locations": locs, "Groups": groups, "GroupNames": names(groups), "Problem": problem, "Notice": notice, "Form": r.PostForm,
	})
	return nil
}

func (a *App) handleLocationCreate(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	body := map[string]any{"name": strings.TrimSpace(f.Get("name")), "code": strings.TrimSpace(f.Get("code")),
		"default_region": strings.ToUpper(strings.TrimSpace(f.Get("default_region"))), "timezone": strings.TrimSpace(f.Get("timezone")),
		"default_tags": splitList(f.Get("default_tags")), "default_group_ids": f["default_group_ids"]}
	if body["default_group_ids"] == nil {
		body["default_group_ids"] = []string{}
	}
	return a.create(w, r, s, "/locations", body, "location")
}

func (a *App) handleGroupCreate(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	body := map[string]any{"name": strings.TrimSpace(f.Get("name")), "description": strings.TrimSpace(f.Get("description"))}
	return a.create(w, r, s, "/customer-groups", body, "group")
}

// create posts a new location or group; a refusal is shown on the page
// with the fields it names.
func (a *App) create(w http.ResponseWriter, r *http.Request, s *session, path string, body map[string]any, what string) error {
	_, err := a.call(w, r, s, http.MethodPost, path, nil, body)
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusUnprocessableEntity || ae.Status == http.StatusConflict) {
		return a.showLocations(w, r, s, ae.Status, ae, "")
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/app/locations?notice="+what)
	return nil
}
