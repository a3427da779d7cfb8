package dedupe

import (
	"maps"
	"slices"

	"github.com/linkitworks/customers/customer"
)

// What a workspace reports once its records are applied: the store writes
// these, set-based, in the transaction that read the candidates.

// LastChanges returns the field changes the latest Apply made to its
// customer, as if that customer had been stored before it: when several
// records of one person are applied in turn (an upsert batch), what each
// changed, whoever created the customer.
func (w *Workspace) LastChanges() map[string]Change { return w.last }

// IsCreated reports whether the workspace created customer id.
func (w *Workspace) IsCreated(id string) bool { return w.created[id] }

// Created returns the customers the workspace created, in creation order of id.
func (w *Workspace) Created() []*customer.Customer {
	var out []*customer.Customer
	for _, id := range slices.Sorted(maps.Keys(w.created)) {
		if c := w.customers[id]; c != nil {
			out = append(out, c)
		}
	}
	return out
}

// Updated returns the existing customers whose fields changed, with changes.
func (w *Workspace) Updated() map[string]map[string]Change {
	out := map[string]map[string]Change{}
	for id, ch := range w.changes {
		if w.customers[id] != nil && !w.created[id] {
			out[id] = ch
		}
	}
	return out
}

// Keys returns every key whose owner, display or primary flag was set.
func (w *Workspace) Keys() []KeyState {
	out := make([]KeyState, 0, len(w.keyOrder))
	for _, k := range w.keyOrder {
		out = append(out, *w.keys[k])
	}
	return out
}

// Merges returns the merges applied, in order.
func (w *Workspace) Merges() []MergeOp { return w.merges }

// Pairs returns suggested duplicates found while matching.
func (w *Workspace) Pairs() []Pair { return w.pairs }

// SharedKeys returns the keys that became shared, in order.
func (w *Workspace) SharedKeys() []SharedKey { return w.newShared }

// Carriers returns the carriers added to shared keys, in order; a merged
// customer's are its survivor's.
func (w *Workspace) Carriers() []Carrier {
	out := make([]Carrier, 0, len(w.newCarriers))
	for _, c := range w.newCarriers {
		if w.customers[c.CustomerID] != nil {
			out = append(out, c)
		}
	}
	return out
}
