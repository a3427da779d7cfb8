package api

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/linkitworks/customers/customer"
)

// maxTagsPerRequest bounds the tags of one request or location.
const maxTagsPerRequest = 100

// tags validates free-form tags (SPEC §5): each trimmed, 1–64 characters.
// Repeats in another case are dropped, keeping the first spelling, because
// tags are unique per customer and location case-insensitively. The result
// is never nil: an empty list means "no tags".
func (p problems) tags(field string, in []string) []string {
	out := []string{}
	if len(in) > maxTagsPerRequest {
		p.add(field, fmt.Sprintf("must have at most %d tags", maxTagsPerRequest))
		return out
	}
	seen := map[string]bool{}
	for i, t := range in {
		t = strings.TrimSpace(t)
		if n := utf8.RuneCountInString(t); n < 1 || n > customer.MaxTagLen {
			p.add(field, fmt.Sprintf("each tag must be 1 to %d characters (item %d is %d)", customer.MaxTagLen, i+1, n))
			continue
		}
		if k := strings.ToLower(t); !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	return out
}

// tagsInput is the body of POST /customers/{id}/tags.
type tagsInput struct {
	Tags       []string `json:"tags"`
	LocationID string   `json:"location_id"`
	// Replace makes tags the customer's whole tag list at the location
	// (an empty list clears it) instead of adding to it.
	Replace bool `json:"replace"`
}

func (s *Server) handleCustomerTag(w http.ResponseWriter, r *http.Request) error {
	var in tagsInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	p := problems{}
	pl := customer.Placement{LocationID: strings.TrimSpace(in.LocationID), ReplaceTags: in.Replace}
	pl.Tags = p.tags("tags", in.Tags)
	if in.Tags == nil || (len(pl.Tags) == 0 && !in.Replace) {
		p.add("tags", "is required: a list of tags (an empty list only with replace)")
	}
	if err := p.err(); err != nil {
		return err
	}
	c, err := s.store.TagCustomer(r.Context(), org(r).ID, r.PathValue("id"), pl)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, c)
	return nil
}

// handleCustomerUntag removes a tag in any spelling; without location_id
// the org-wide tag.
func (s *Server) handleCustomerUntag(w http.ResponseWriter, r *http.Request) error {
	tag := strings.TrimSpace(r.PathValue("tag"))
	loc := strings.TrimSpace(r.URL.Query().Get("location_id"))
	if err := s.store.UntagCustomer(r.Context(), org(r).ID, r.PathValue("id"), loc, tag); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleTagList lists tags with the number of distinct customers carrying
// each, most used first; location_id narrows to one location, prefix
// serves autocompletion.
func (s *Server) handleTagList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := problems{}
	page, limit := pagination(q, p)
	f := customer.TagFilter{
		Page: page, Limit: limit,
		LocationID: strings.TrimSpace(q.Get("location_id")),
		Prefix:     p.text("prefix", q.Get("prefix"), 0, customer.MaxTagLen),
	}
	if err := p.err(); err != nil {
		return err
	}
	list, meta, err := s.store.FindTags(r.Context(), org(r).ID, f)
	if err != nil {
		return err
	}
	writeList(w, list, meta)
	return nil
}
