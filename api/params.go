package api

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
)

// pagination reads page (≥1, default 1) and limit (1–100, default 20;
// page_size is an alias). Out-of-range values are problems, not clamped.
func pagination(q url.Values, p problems) (page, limit int) {
	page = intParam(q, "page", 1, 1, 1<<20, p)
	limitName := "limit"
	if q.Get("limit") == "" && q.Get("page_size") != "" {
		limitName = "page_size"
	}
	limit = intParam(q, limitName, 20, 1, 100, p)
	return page, limit
}

func intParam(q url.Values, name string, def, minV, maxV int, p problems) int {
	raw := strings.TrimSpace(q.Get(name))
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < minV || n > maxV {
		p.add(name, "must be an integer from "+strconv.Itoa(minV)+" to "+strconv.Itoa(maxV))
		return def
	}
	return n
}

// list splits repeated or comma-separated values.
func list(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// statuses validates a status filter (banned → blocked).
func statuses(field string, vals []string, p problems) []string {
	var out []string
	for _, v := range vals {
		s, ok := customer.NormalizeStatus(v)
		if !ok {
			p.add(field, "must be one of "+strings.Join(customer.Statuses, ", "))
			continue
		}
		out = append(out, s)
	}
	return out
}

func enums(field string, vals, allowed []string, p problems) []string {
	var out []string
	for _, v := range vals {
		s, ok := customer.NormalizeEnum(v, allowed)
		if !ok {
			p.add(field, "must be one of "+strings.Join(allowed, ", "))
			continue
		}
		out = append(out, s)
	}
	return out
}

// timeBound parses a date (YYYY-MM-DD) or RFC 3339 time. A date as upper
// bound includes the whole day.
func timeBound(field, v string, upper bool, p problems) *time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		if upper {
			d = d.AddDate(0, 0, 1)
		}
		return &d
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		p.add(field, "must be a date (YYYY-MM-DD) or an RFC 3339 time")
		return nil
	}
	if upper {
		t = t.Add(time.Microsecond) // created_to is inclusive (PostgreSQL keeps microseconds)
	}
	return &t
}

// filterInput is the filter set shared by GET /customers (query) and POST
// /customers/search (body).
type filterInput struct {
	Query       string
	Status      []string
	Type        []string
	CreatedFrom string
	CreatedTo   string
	LocationID  string
	Tag         string
	GroupID     string
	Sort        string
	// Incremental sync (SPEC §10.4).
	UpdatedSince string
	Cursor       string
	PageGiven    bool // page was sent: a cursor replaces it
}

func (in filterInput) filter(page, limit int, p problems) customer.Filter {
	f := customer.Filter{
		Page: page, Limit: limit,
		Search:      strings.TrimSpace(in.Query),
		Status:      statuses("status", in.Status, p),
		Type:        enums("type", in.Type, customer.Types, p),
		CreatedFrom: timeBound("created_from", in.CreatedFrom, false, p),
		CreatedTo:   timeBound("created_to", in.CreatedTo, true, p),
		LocationID:  strings.TrimSpace(in.LocationID),
		Tag:         strings.TrimSpace(in.Tag),
		GroupID:     strings.TrimSpace(in.GroupID),
		Sort:        strings.TrimSpace(in.Sort),
	}
	if f.Sort != "" {
		sort, ok := customer.NormalizeEnum(f.Sort, customer.Sorts)
		if !ok {
			p.add("sort", "must be one of "+strings.Join(customer.Sorts, ", "))
		}
		f.Sort = sort // the store compares the lower-case value
	}
	if len(f.Search) > 200 {
		p.add("search", "must be at most 200 characters")
	}
	syncFilter(&f, in.UpdatedSince, in.Cursor, in.PageGiven, p)
	return f
}

// syncFilter reads the incremental-sync parameters onto f, whose Sort is
// already read: updated_since (RFC 3339, inclusive) and cursor, a page's
// meta.next_cursor. A cursor is a position in the updated order, so it
// implies sort=updated and replaces page.
func syncFilter(f *customer.Filter, updatedSince, cursor string, pageGiven bool, p problems) {
	if v := strings.TrimSpace(updatedSince); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			p.add("updated_since", "must be an RFC 3339 time, e.g. 2026-01-31T09:00:00Z")
		} else {
			f.UpdatedSince = &t
		}
	}
	cursor = strings.TrimSpace(cursor)
	if cursor == "" {
		return
	}
	c, err := customer.DecodeCursor(cursor)
	switch {
	case err != nil:
		p.add("cursor", "must be a meta.next_cursor of an earlier page")
	case pageGiven:
		p.add("cursor", "cannot be combined with page: the cursor says where the page starts")
	case f.Sort != "" && f.Sort != "updated":
		p.add("cursor", "follows sort=updated only")
	default:
		f.Sort, f.After = "updated", &c
	}
}

// pageGiven reports whether the query sets page.
func pageGiven(q url.Values) bool { return strings.TrimSpace(q.Get("page")) != "" }

// updatedSort reads sort on the seed lists (ERP, location-scoped), whose
// documents define none: only the sync order is offered there.
func updatedSort(v string, p problems) string {
	switch v = strings.ToLower(strings.TrimSpace(v)); v {
	case "", "updated":
		return v
	default:
		p.add("sort", "must be updated")
		return ""
	}
}
