package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/linkitworks/customers/customer"
)

// groupInput is the body of group POST and PUT (seed 002).
type groupInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (in groupInput) group() (*customer.Group, error) {
	p := problems{}
	g := &customer.Group{
		Name:        p.text("name", in.Name, 1, customer.MaxGroupNameLen),
		Description: p.text("description", in.Description, 0, customer.MaxGroupDescriptionLen),
	}
	return g, p.err()
}

func (s *Server) handleGroupList(w http.ResponseWriter, r *http.Request) error {
	p := problems{}
	page, limit := pagination(r.URL.Query(), p)
	if err := p.err(); err != nil {
		return err
	}
	list, meta, err := s.store.FindGroups(r.Context(), org(r).ID, page, limit)
	if err != nil {
		return err
	}
	writeList(w, list, meta)
	return nil
}

func (s *Server) handleGroupCreate(w http.ResponseWriter, r *http.Request) error {
	var in groupInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	g, err := in.group()
	if err != nil {
		return err
	}
	if err := s.store.CreateGroup(r.Context(), org(r).ID, g); err != nil {
		return err
	}
	setLocation(w, r.URL.Path, g.ID)
	writeData(w, http.StatusCreated, g)
	return nil
}

func (s *Server) handleGroupGet(w http.ResponseWriter, r *http.Request) error {
	g, err := s.store.FindGroupByID(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, g)
	return nil
}

// handleGroupUpdate is PUT, a full replacement: an omitted description is
// cleared (PATCH changes only what it names).
func (s *Server) handleGroupUpdate(w http.ResponseWriter, r *http.Request) error {
	var in groupInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return s.updateGroup(w, r, func(*customer.Group) (groupInput, error) { return in, nil })
}

// handleGroupPatch is a JSON merge patch (RFC 7396) over the stored group.
func (s *Server) handleGroupPatch(w http.ResponseWriter, r *http.Request) error {
	var patch map[string]any
	if err := decode(w, r, &patch); err != nil {
		return err
	}
	return s.updateGroup(w, r, func(cur *customer.Group) (groupInput, error) {
		var in groupInput
		err := mergePatch(groupInput{Name: cur.Name, Description: cur.Description}, patch, &in)
		return in, err
	})
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request, input func(cur *customer.Group) (groupInput, error)) error {
	g, err := s.store.UpdateGroup(r.Context(), org(r).ID, r.PathValue("id"), func(cur *customer.Group) error {
		in, err := input(cur)
		if err != nil {
			return err
		}
		next, err := in.group()
		if err != nil {
			return err
		}
		cur.Name, cur.Description = next.Name, next.Description
		return nil
	})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, g)
	return nil
}

// handleGroupDelete removes the group only; its customers stay.
func (s *Server) handleGroupDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteGroup(r.Context(), org(r).ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleGroupCustomers lists a group's customers in the customer list's
// shape, with the customer list's parameters.
func (s *Server) handleGroupCustomers(w http.ResponseWriter, r *http.Request) error {
	o := org(r)
	g, err := s.store.FindGroupByID(r.Context(), o.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	p := problems{}
	f := customerFilter(r.URL.Query(), p)
	if err := p.err(); err != nil {
		return err
	}
	f.GroupID = g.ID
	cs, meta, err := s.store.FindCustomers(r.Context(), o.ID, f)
	if err != nil {
		return err
	}
	writeList(w, cs, meta)
	return nil
}

// maxMembersPerRequest bounds one membership request (one statement).
const maxMembersPerRequest = 1000

// membersInput is the body of POST /customer-groups/{id}/customers.
type membersInput struct {
	CustomerIDs []string `json:"customer_ids"`
	LocationID  string   `json:"location_id"`
}

// handleGroupAddCustomers adds customers to a group, idempotently and all
// or nothing: one unknown id adds none and is named in the 422.
func (s *Server) handleGroupAddCustomers(w http.ResponseWriter, r *http.Request) error {
	var in membersInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	p := problems{}
	ids := make([]string, 0, len(in.CustomerIDs))
	for i, id := range in.CustomerIDs {
		if id = strings.TrimSpace(id); id == "" {
			p.add("customer_ids", fmt.Sprintf("item %d is empty", i+1))
			continue
		}
		ids = append(ids, id)
	}
	switch {
	case len(in.CustomerIDs) == 0:
		p.add("customer_ids", "is required: a list of customer ids")
	case len(in.CustomerIDs) > maxMembersPerRequest:
		p.add("customer_ids", fmt.Sprintf("must have at most %d ids", maxMembersPerRequest))
	}
	if err := p.err(); err != nil {
		return err
	}
	ch, err := s.store.AddGroupMembers(r.Context(), org(r).ID, r.PathValue("id"), ids, strings.TrimSpace(in.LocationID))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, ch)
	return nil
}

func (s *Server) handleGroupRemoveCustomer(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.RemoveGroupMember(r.Context(), org(r).ID, r.PathValue("id"), r.PathValue("customerId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
