// Shared identifiers and the name check inside the workspace: which keys are
// shared, who carries them, whose names agree.

package dedupe

import (
	"slices"

	"github.com/linkitworks/customers/customer"
)

// Reasons an identifier is shared (SPEC §10.1).
const (
	ReasonBlocklist   = "blocklist"    // on the organization's blocklist
	ReasonNamesDiffer = "names_differ" // carried by people whose names clearly differ
)

// PairSharedIdentifier is the duplicate-review reason of two customers
// found to share an identifier while their names differ.
const PairSharedIdentifier = "shared_identifier"

// SharedError refuses a record without a name whose only identifiers are
// shared: any of their carriers could be meant (a 409 naming them).
type SharedError struct {
	Fields     []string // "email", "phone"
	Candidates []string // the carriers, by customer id
}

// SharedKey is a key that became shared in a workspace.
type SharedKey struct {
	Key    Key
	Reason string
}

// Carrier is a customer carrying a shared key.
type Carrier struct {
	Key        Key
	CustomerID string
	Display    string
}

// LoadShared records that k is shared (for reason) and carried by carriers
// besides its owner, which must be loaded separately.
func (w *Workspace) LoadShared(k Key, reason string, carriers ...string) {
	w.shared[k] = reason
	for _, id := range carriers {
		if !slices.Contains(w.carriers[k], id) {
			w.carriers[k] = append(w.carriers[k], id)
		}
	}
}

// useBlocklist compiles opts' blocklist once per distinct list.
func (w *Workspace) useBlocklist(entries []string) {
	if w.blocklist != nil && slices.Equal(w.blockSrc, entries) {
		return
	}
	w.blocklist, w.blockSrc = NewBlocklist(entries), entries
}

// isShared reports whether k is shared: marked so, or blocklisted. display
// is the record's form of it (a phone's "+" helps the blocklist).
func (w *Workspace) isShared(k Key, display string) bool {
	if k.Kind == KindExternal {
		return false
	}
	if _, ok := w.shared[k]; ok {
		return true
	}
	if k.Kind == KindPhone && display != "" {
		return w.blocklist.Blocks(KindPhone, display) || w.blocklist.Blocks(KindPhone, k.Value)
	}
	return w.blocklist.Blocks(k.Kind, k.Value)
}

// carriersOf lists the customers of the view carrying k: its owner first.
func (w *Workspace) carriersOf(k Key) []string {
	var out []string
	if o := w.owners[k]; o != "" && w.customers[o] != nil {
		out = append(out, o)
	}
	for _, id := range w.carriers[k] {
		if w.customers[id] != nil && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// carries reports whether customer id carries k (owns it or is a carrier).
func (w *Workspace) carries(k Key, id string) bool {
	return w.owners[k] == id || slices.Contains(w.carriers[k], id)
}

// carry makes id a carrier of the shared key k.
func (w *Workspace) carry(k Key, id, display string) bool {
	if w.carries(k, id) {
		return false
	}
	w.carriers[k] = append(w.carriers[k], id)
	w.newCarriers = append(w.newCarriers, Carrier{Key: k, CustomerID: id, Display: display})
	return true
}

// share marks k shared for reason; its owner becomes a carrier too.
func (w *Workspace) share(k Key, reason, display string) {
	if _, ok := w.shared[k]; ok {
		return
	}
	w.shared[k] = reason
	w.newShared = append(w.newShared, SharedKey{Key: k, Reason: reason})
	if o := w.owners[k]; o != "" {
		w.newCarriers = append(w.newCarriers, Carrier{Key: k, CustomerID: o, Display: display})
	}
}

// namesAgree reports whether customer id positively agrees with name: both
// have one and they do not clearly differ.
func (w *Workspace) namesAgree(name PersonName, id string) bool {
	c := w.customers[id]
	if c == nil {
		return false
	}
	other := PersonNameOf(c)
	return HasName(other) && !NamesDiffer(name, other)
}

// refuses reports whether the name check turns down owner as the record's
// customer through k. An external id is another system's own record id,
// not an identifier people share: it is never checked.
func (w *Workspace) refuses(opts Options, k Key, name PersonName, owner string) bool {
	return opts.NameCheck && k.Kind != KindExternal && w.namesDiffer(name, owner)
}

// namesDiffer reports whether customer id's name clearly differs from name.
func (w *Workspace) namesDiffer(name PersonName, id string) bool {
	c := w.customers[id]
	return c != nil && NamesDiffer(name, PersonNameOf(c))
}

// sharedOnly refuses a record with no name whose identifiers are all shared
// and carried by someone: nothing tells which carrier it is.
func (w *Workspace) sharedOnly(in *Incoming, keys []Key, named bool) error {
	if named {
		return nil
	}
	e := &SharedError{}
	for _, k := range keys {
		if !w.isShared(k, displayOf(in, k)) {
			return nil
		}
		e.Fields = append(e.Fields, fieldOfKind(k.Kind))
		for _, id := range w.carriersOf(k) {
			if !slices.Contains(e.Candidates, id) {
				e.Candidates = append(e.Candidates, id)
			}
		}
	}
	if len(e.Candidates) == 0 {
		return nil
	}
	return e
}

// dropContact takes a new customer's email or phone off when another
// customer owns it.
func (w *Workspace) dropContact(c *customer.Customer, k Key) {
	switch k.Kind {
	case KindEmail:
		c.Email = ""
	case KindPhone:
		c.Phone, c.PhoneValid, c.PhoneExtension = "", false, ""
	}
}

// claimShared makes a shared email or phone c's primary when c has none.
func (w *Workspace) claimShared(c *customer.Customer, in *Incoming, k Key, policy Policy) {
	if policy == DoNotUpdate {
		return
	}
	display := displayOf(in, k)
	switch {
	case k.Kind == KindEmail && c.Email == "":
		w.record(c, map[string]Change{KindEmail: {From: "", To: display}})
		c.Email = display
	case k.Kind == KindPhone && c.Phone == "":
		w.record(c, map[string]Change{KindPhone: {From: "", To: display}})
		c.Phone, c.PhoneValid, c.PhoneExtension = display, in.PhoneValid, in.PhoneExt
	}
}
