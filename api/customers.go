package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// customerFilter reads the list parameters of GET /customers, which lists
// of a group's customers accept too.
func customerFilter(q url.Values, p problems) customer.Filter {
	page, limit := pagination(q, p)
	return filterInput{
		Query: q.Get("search"), Status: list(q["status"]), Type: list(q["type"]),
		CreatedFrom: q.Get("created_from"), CreatedTo: q.Get("created_to"),
		LocationID: q.Get("location_id"), Tag: q.Get("tag"), GroupID: q.Get("group_id"), Sort: q.Get("sort"),
		UpdatedSince: q.Get("updated_since"), Cursor: q.Get("cursor"), PageGiven: pageGiven(q),
	}.filter(page, limit, p)
}

func (s *Server) handleCustomerList(w http.ResponseWriter, r *http.Request) error {
	p := problems{}
	f := customerFilter(r.URL.Query(), p)
	if err := p.err(); err != nil {
		return err
	}
	cs, meta, err := s.store.FindCustomers(r.Context(), org(r).ID, f)
	if err != nil {
		return err
	}
	writeList(w, cs, meta)
	return nil
}

// searchRequest is the body of POST /customers/search.
type searchRequest struct {
	Query       string   `json:"query"`
	Status      []string `json:"status"`
	Type        []string `json:"type"`
	CreatedFrom string   `json:"created_from"`
	CreatedTo   string   `json:"created_to"`
	LocationID  string   `json:"location_id"`
	Tag         string   `json:"tag"`
	GroupID     string   `json:"group_id"`
	Sort        string   `json:"sort"`
	// Incremental sync, as in the list's query.
	UpdatedSince string `json:"updated_since"`
	Cursor       string `json:"cursor"`
	Page         *int   `json:"page"`
	Limit        *int   `json:"limit"`
	PageSize     *int   `json:"page_size"`
}

func (s *Server) handleCustomerSearch(w http.ResponseWriter, r *http.Request) error {
	var req searchRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	p := problems{}
	page, limit := 1, 20
	if req.Page != nil {
		if page = *req.Page; page < 1 {
			p.add("page", "must be an integer from 1")
		}
	}
	if req.Limit == nil {
		req.Limit = req.PageSize
	}
	if req.Limit != nil {
		if limit = *req.Limit; limit < 1 || limit > 100 {
			p.add("limit", "must be an integer from 1 to 100")
		}
	}
	f := filterInput{
		Query: req.Query, Status: req.Status, Type: req.Type, CreatedFrom: req.CreatedFrom,
		CreatedTo: req.CreatedTo, LocationID: req.LocationID, Tag: req.Tag, GroupID: req.GroupID, Sort: req.Sort,
		UpdatedSince: req.UpdatedSince, Cursor: req.Cursor, PageGiven: req.Page != nil,
	}.filter(page, limit, p)
	if err := p.err(); err != nil {
		return err
	}
	cs, meta, err := s.store.FindCustomers(r.Context(), org(r).ID, f)
	if err != nil {
		return err
	}
	writeList(w, cs, meta)
	return nil
}

func (s *Server) handleCustomerGet(w http.ResponseWriter, r *http.Request) error {
	c, err := s.store.FindCustomerByID(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, c)
	return nil
}

// handleCustomerLookup finds by normalized email, then phone (aliases too).
func (s *Server) handleCustomerLookup(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	email, phone := strings.TrimSpace(q.Get("email")), strings.TrimSpace(q.Get("phone"))
	p := problems{}
	if email == "" && phone == "" {
		p.add("email", "email or phone is required")
		p.add("phone", "email or phone is required")
		return p.err()
	}
	o := org(r)
	emailKey, phoneKey := "", ""
	if email != "" {
		emailKey = dedupe.EmailKey(p.email("email", email), false)
	}
	if phone != "" {
		phoneKey = dedupe.PhoneDigits(p.phone("phone", phone, o.DefaultRegion).Number)
	}
	if err := p.err(); err != nil {
		return err
	}
	c, err := s.store.LookupCustomer(r.Context(), o.ID, emailKey, phoneKey)
	if customer.ErrorCode(err) == customer.ENOTFOUND {
		// Name what was looked for, as the caller sent it.
		looked := map[string]string{}
		if email != "" {
			looked["email"] = email
		}
		if phone != "" {
			looked["phone"] = phone
		}
		return &customer.Error{Code: customer.ENOTFOUND, Message: "Customer not found", Details: looked}
	}
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, c)
	return nil
}

// placementInput is the part of POST /customers beside the customer: the
// location it was met at and tags to apply there (both optional).
type placementInput struct {
	LocationID string   `json:"location_id"`
	Tags       []string `json:"tags"`
}

// handleCustomerCreate creates a customer. With a location_id the
// location's region parses the phone first, its default tags and groups
// apply, and the customer is recorded as seen there.
func (s *Server) handleCustomerCreate(w http.ResponseWriter, r *http.Request) error {
	// Two flat structs rather than one embedding the other: a wrong type
	// must name the JSON field, not the Go path through the embedding.
	var raw json.RawMessage
	if err := decode(w, r, &raw); err != nil {
		return err
	}
	var in customerInput
	var at placementInput
	for _, v := range []any{&in, &at} {
		if err := json.Unmarshal(raw, v); err != nil {
			return jsonError(err)
		}
	}
	o := org(r)
	p := problems{}
	pl := customer.Placement{LocationID: strings.TrimSpace(at.LocationID)}
	region, err := s.locationRegion(r, pl.LocationID, p)
	if err != nil {
		return err
	}
	c := &customer.Customer{}
	in.applyTo(c, nil, p, region, o.DefaultRegion)
	pl.Tags = p.tags("tags", at.Tags)
	if err := p.err(); err != nil {
		return err
	}
	pl.Source = visitSource(c.Source)
	if err := s.store.CreateCustomerAt(r.Context(), o.ID, c, pl, nil); err != nil {
		if pl.LocationID != "" {
			return locationField(err) // deleted since it was read
		}
		return err
	}
	setLocation(w, r.URL.Path, c.ID)
	writeCustomer(w, http.StatusCreated, c, c)
	return nil
}

// customerMeta is the meta of a single customer's answer: what the caller
// should know about the record as stored.
type customerMeta struct {
	Warnings []dedupe.Warning `json:"warnings"`
}

// writeCustomer answers {"data": view} for customer c, with meta.warnings
// when its stored phone is not a valid number (SPEC §10.1: kept, but the
// caller should know it cannot be dialled as stored).
func writeCustomer(w http.ResponseWriter, status int, view any, c *customer.Customer) {
	encode(w, status, struct {
		Data any           `json:"data"`
		Meta *customerMeta `json:"meta,omitempty"`
	}{view, metaOfCustomer(c)})
}

// metaOfCustomer is the meta of an answer with c as stored, nil when there
// is nothing to say.
func metaOfCustomer(c *customer.Customer) *customerMeta {
	if c.Phone == "" || c.PhoneValid {
		return nil
	}
	return &customerMeta{Warnings: []dedupe.Warning{dedupe.InvalidPhoneWarning(c.Phone)}}
}

// handleCustomerReplace is PUT: omitted optional fields are cleared.
func (s *Server) handleCustomerReplace(w http.ResponseWriter, r *http.Request) error {
	var in customerInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	o := org(r)
	c, err := s.store.UpdateCustomer(r.Context(), o.ID, r.PathValue("id"), func(c *customer.Customer) error {
		prev := *c
		return in.apply(c, &prev, o.DefaultRegion)
	})
	if err != nil {
		return err
	}
	writeCustomer(w, http.StatusOK, c, c)
	return nil
}

// handleCustomerPatch is a JSON merge patch (RFC 7386) over the stored
// record: members set fields, null clears them, absent ones stay.
func (s *Server) handleCustomerPatch(w http.ResponseWriter, r *http.Request) error {
	var patch map[string]any
	if err := decode(w, r, &patch); err != nil {
		return err
	}
	o := org(r)
	c, err := s.store.UpdateCustomer(r.Context(), o.ID, r.PathValue("id"), func(c *customer.Customer) error {
		var in customerInput
		if err := mergePatch(inputOf(c), patch, &in); err != nil {
			return err
		}
		prev := *c
		return in.apply(c, &prev, o.DefaultRegion)
	})
	if err != nil {
		return err
	}
	writeCustomer(w, http.StatusOK, c, c)
	return nil
}

// mergePatch applies patch to the JSON form of cur and decodes the result into out.
func mergePatch(cur any, patch map[string]any, out any) error {
	b, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	merged, err := json.Marshal(mergeValue(doc, patch))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(merged, out); err != nil {
		return jsonError(err)
	}
	return nil
}

func mergeValue(target any, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergeValue(tm[k], v)
	}
	return tm
}

func (s *Server) handleCustomerDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteCustomer(r.Context(), org(r).ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
