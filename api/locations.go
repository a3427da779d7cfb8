package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	_ "time/tzdata" // timezone validation must not depend on the host's zoneinfo

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// locationInput is the body of location POST and PUT.
type locationInput struct {
	Name            string   `json:"name"`
	Code            string   `json:"code"`
	DefaultRegion   string   `json:"default_region"`
	Timezone        string   `json:"timezone"`
	DefaultTags     []string `json:"default_tags"`
	DefaultGroupIDs []string `json:"default_group_ids"`
}

// maxDefaultGroups bounds a location's default groups.
const maxDefaultGroups = 50

// location validates in; that default groups exist is checked by the store.
func (in locationInput) location() (*customer.Location, error) {
	p := problems{}
	l := &customer.Location{
		Name:          p.text("name", in.Name, 1, customer.MaxLocationNameLen),
		Code:          p.text("code", in.Code, 0, customer.MaxLocationCodeLen),
		DefaultRegion: strings.ToUpper(strings.TrimSpace(in.DefaultRegion)),
		Timezone:      strings.TrimSpace(in.Timezone),
		DefaultTags:   p.tags("default_tags", in.DefaultTags),
	}
	if l.DefaultRegion != "" && !dedupe.ValidRegion(l.DefaultRegion) {
		p.add("default_region", "must be an ISO 3166-1 alpha-2 country code with a phone numbering plan")
	}
	if l.Timezone != "" {
		// "Local" is the server's zone, not a place.
		if _, err := time.LoadLocation(l.Timezone); err != nil || l.Timezone == "Local" {
			p.add("timezone", "must be an IANA time zone such as Asia/Riyadh")
		}
	}
	l.DefaultGroupIDs = []string{}
	seen := map[string]bool{}
	for i, id := range in.DefaultGroupIDs {
		id = strings.TrimSpace(id)
		switch {
		case id == "":
			p.add("default_group_ids", fmt.Sprintf("item %d is empty", i+1))
		case !seen[id]:
			seen[id] = true
			l.DefaultGroupIDs = append(l.DefaultGroupIDs, id)
		}
	}
	if len(l.DefaultGroupIDs) > maxDefaultGroups {
		p.add("default_group_ids", fmt.Sprintf("must have at most %d groups", maxDefaultGroups))
	}
	return l, p.err()
}

func (s *Server) handleLocationList(w http.ResponseWriter, r *http.Request) error {
	p := problems{}
	page, limit := pagination(r.URL.Query(), p)
	if err := p.err(); err != nil {
		return err
	}
	list, meta, err := s.store.FindLocations(r.Context(), org(r).ID, page, limit)
	if err != nil {
		return err
	}
	writeList(w, list, meta)
	return nil
}

func (s *Server) handleLocationCreate(w http.ResponseWriter, r *http.Request) error {
	var in locationInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	l, err := in.location()
	if err != nil {
		return err
	}
	if err := s.store.CreateLocation(r.Context(), org(r).ID, l); err != nil {
		return err
	}
	setLocation(w, r.URL.Path, l.ID)
	writeData(w, http.StatusCreated, l)
	return nil
}

func (s *Server) handleLocationGet(w http.ResponseWriter, r *http.Request) error {
	l, err := s.store.FindLocationByID(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, l)
	return nil
}

// handleLocationUpdate is PUT, a full replacement: omitted optional fields
// are cleared (PATCH changes only what it names).
func (s *Server) handleLocationUpdate(w http.ResponseWriter, r *http.Request) error {
	var in locationInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return s.updateLocation(w, r, func(*customer.Location) (locationInput, error) { return in, nil })
}

// handleLocationPatch is a JSON merge patch (RFC 7396) over the stored
// location; a list member replaces the whole list.
func (s *Server) handleLocationPatch(w http.ResponseWriter, r *http.Request) error {
	var patch map[string]any
	if err := decode(w, r, &patch); err != nil {
		return err
	}
	return s.updateLocation(w, r, func(cur *customer.Location) (locationInput, error) {
		var in locationInput
		err := mergePatch(locationInput{Name: cur.Name, Code: cur.Code, DefaultRegion: cur.DefaultRegion, Timezone: cur.Timezone,
			DefaultTags: cur.DefaultTags, DefaultGroupIDs: cur.DefaultGroupIDs}, patch, &in)
		return in, err
	})
}

func (s *Server) updateLocation(w http.ResponseWriter, r *http.Request, input func(cur *customer.Location) (locationInput, error)) error {
	l, err := s.store.UpdateLocation(r.Context(), org(r).ID, r.PathValue("id"), func(cur *customer.Location) error {
		in, err := input(cur)
		if err != nil {
			return err
		}
		next, err := in.location()
		if err != nil {
			return err
		}
		next.ID, next.Created, next.Updated = cur.ID, cur.Created, cur.Updated
		*cur = *next
		return nil
	})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, l)
	return nil
}

// handleLocationDelete removes a location; its customers stay (see
// docs/decisions.md).
func (s *Server) handleLocationDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteLocation(r.Context(), org(r).ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// locationRegion checks a location_id named in a request body and returns
// the location's default region; an unknown one is a problem of the
// location_id field, not a 404 of the request.
func (s *Server) locationRegion(r *http.Request, locationID string, p problems) (string, error) {
	if locationID == "" {
		return "", nil
	}
	region, err := s.store.FindLocationRegion(r.Context(), org(r).ID, locationID)
	if customer.ErrorCode(err) == customer.ENOTFOUND {
		p.add("location_id", "no such location")
		return "", nil
	}
	return region, err
}

// locationField reports a location that vanished between validation and
// the write as the request's location_id problem.
func locationField(err error) error {
	if customer.ErrorCode(err) == customer.ENOTFOUND {
		return customer.Invalid(map[string]string{"location_id": "no such location"})
	}
	return err
}

// visitSource is the source recorded on a visit: the request's, else "api".
func visitSource(source string) string {
	if source == "" {
		return "api"
	}
	return source
}
