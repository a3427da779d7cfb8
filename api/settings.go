// Org settings (SPEC §10.1): the matching rules a merchant can change.

package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// maxBlocklistEntries bounds each blocklist: it is held in memory with every
// cached organization and checked on every match.
const maxBlocklistEntries = 1000

// settingsView is customer.Settings as the API shows them: no default
// region is null.
type settingsView struct {
	DefaultRegion         *string            `json:"default_region"`
	MatchKeys             []string           `json:"match_keys"`
	EmailCanonicalization bool               `json:"email_canonicalization"`
	DefaultMergePolicy    string             `json:"default_merge_policy"`
	NameCheck             bool               `json:"name_check"`
	Blocklist             customer.Blocklist `json:"blocklist"`
	// RateLimit shows the organization's own limits; null members take
	// the server's (the RateLimit-Policy header shows what applies).
	RateLimit customer.RateLimits `json:"rate_limit"`
	Updated   time.Time           `json:"updated"`
}

func viewSettings(st customer.Settings) settingsView {
	v := settingsView{MatchKeys: st.MatchKeys, EmailCanonicalization: st.EmailCanonicalization,
		DefaultMergePolicy: st.DefaultMergePolicy, NameCheck: st.NameCheck, Blocklist: st.Blocklist, RateLimit: st.RateLimit, Updated: st.Updated.UTC()}
	if st.DefaultRegion != "" {
		v.DefaultRegion = &st.DefaultRegion
	}
	return v
}

// handleSettingsGet answers the settings of the key's organization, as the
// requests of this process see them.
func (s *Server) handleSettingsGet(w http.ResponseWriter, r *http.Request) error {
	writeData(w, http.StatusOK, viewSettings(org(r).Settings))
	return nil
}

// handleSettingsPatch is a JSON merge patch (RFC 7396) over the stored
// settings: null resets a member to its default. Every API process drops
// the organization from its cache, so the next request anywhere uses them.
func (s *Server) handleSettingsPatch(w http.ResponseWriter, r *http.Request) error {
	var patch map[string]any
	if err := decode(w, r, &patch); err != nil {
		return err
	}
	o := org(r)
	st, err := s.store.UpdateOrganizationSettings(r.Context(), o.ID, func(st *customer.Settings) error {
		next, err := patchSettings(*st, patch)
		if err != nil {
			return err
		}
		*st = next
		return nil
	})
	if err != nil {
		return err
	}
	s.keys.dropOrg(o.ID)
	if s.OrgChanges != nil {
		// The change is stored: other processes that miss the message
		// catch up when their cached keys expire.
		if err := s.OrgChanges.Publish(r.Context(), o.ID); err != nil {
			s.log.WarnContext(r.Context(), "publish settings change", "org_id", o.ID, "err", err)
		}
	}
	writeData(w, http.StatusOK, viewSettings(st))
	return nil
}

// patchSettings applies a merge patch to cur and validates the result.
// Members the patch removes (null) take customer.DefaultSettings()' value;
// "updated" and unknown members are ignored.
func patchSettings(cur customer.Settings, patch map[string]any) (customer.Settings, error) {
	b, err := json.Marshal(cur)
	if err != nil {
		return cur, fmt.Errorf("encode settings: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return cur, fmt.Errorf("decode settings: %w", err)
	}
	delete(patch, "updated")
	merged, err := json.Marshal(mergeValue(doc, patch))
	if err != nil {
		return cur, fmt.Errorf("encode patched settings: %w", err)
	}
	next := customer.DefaultSettings()
	if err := json.Unmarshal(merged, &next); err != nil {
		return cur, jsonError(err)
	}
	next.Updated = cur.Updated
	p := problems{}
	validSettings(&next, p)
	return next, p.err()
}

// validSettings checks st and normalizes its region and blocklist in place.
func validSettings(st *customer.Settings, p problems) {
	st.DefaultRegion = strings.ToUpper(strings.TrimSpace(st.DefaultRegion))
	if st.DefaultRegion != "" && !dedupe.ValidRegion(st.DefaultRegion) {
		p.add("default_region", "must be an ISO 3166-1 region code with a phone numbering plan, like US, or null")
	}
	known := []string{customer.MatchKeyExternalID, customer.MatchKeyEmail, customer.MatchKeyPhone}
	if len(st.MatchKeys) == 0 {
		p.add("match_keys", "must list at least one of external_id, email, phone")
	}
	for i, k := range st.MatchKeys {
		switch {
		case !slices.Contains(known, k):
			p.add("match_keys", fmt.Sprintf("unknown key %q: must be external_id, email or phone", k))
		case slices.Contains(st.MatchKeys[:i], k):
			p.add("match_keys", fmt.Sprintf("lists %q twice", k))
		}
	}
	if !slices.Contains(dedupe.Policies, st.DefaultMergePolicy) {
		p.add("default_merge_policy", "must be one of "+strings.Join(dedupe.Policies, ", "))
	}
	for field, v := range map[string]*int{"rate_limit.default": st.RateLimit.Default,
		"rate_limit.upsert": st.RateLimit.Upsert, "rate_limit.import": st.RateLimit.Import} {
		if v != nil && (*v < 1 || *v > customer.MaxRateLimit) {
			p.add(field, fmt.Sprintf("must be requests per minute from 1 to %d, or null for the server's default", customer.MaxRateLimit))
		}
	}
	st.Blocklist.Emails = normalizedEntries("blocklist.emails", st.Blocklist.Emails, p, func(raw string) (string, error) {
		return dedupe.NormalizeEmail(raw)
	})
	st.Blocklist.Phones = normalizedEntries("blocklist.phones", st.Blocklist.Phones, p, func(raw string) (string, error) {
		ph, err := dedupe.NormalizePhone(raw, st.DefaultRegion)
		return ph.Number, err
	})
}

// normalizedEntries normalizes a blocklist, dropping repeats and keeping
// the order given.
func normalizedEntries(field string, raw []string, p problems, normalize func(string) (string, error)) []string {
	if len(raw) > maxBlocklistEntries {
		p.add(field, fmt.Sprintf("must have at most %d entries", maxBlocklistEntries))
		return raw
	}
	out := make([]string, 0, len(raw))
	for i, e := range raw {
		n, err := normalize(e)
		if err != nil {
			reason := "is empty"
			var inv *dedupe.InvalidError
			if errors.As(err, &inv) {
				reason = inv.Reason
			}
			p.add(field, fmt.Sprintf("entry %d (%q) %s", i, e, reason))
			continue
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
