package dedupe

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/linkitworks/customers/customer"
)

// KindExternal is the identity kind of another system's id ("source:id").
const KindExternal = "external"

// Key is one identity match key: an email key, the digits of a phone, or an
// external "source:id".
type Key struct {
	Kind  string
	Value string
}

const (
	FillBlanks  Policy = "fill_blanks"   // only empty fields take new values (default)
	Overwrite   Policy = "overwrite"     // non-empty input wins
	DoNotUpdate Policy = "do_not_update" // fields stay; tags, groups and visits still add
)

// Incoming is one normalized record to match: its identifiers and the field
// values it brings (in Fields, using the domain's field names).
type Incoming struct {
	Email      string            `json:"email,omitempty"` // normalized, "" when absent
	EmailKey   string            `json:"email_key,omitempty"`
	Phone      string            `json:"phone,omitempty"` // normalized
	PhoneKey   string            `json:"phone_key,omitempty"`
	PhoneValid bool              `json:"phone_valid,omitempty"`
	PhoneExt   string            `json:"phone_ext,omitempty"`
	External   string            `json:"external,omitempty"` // "source:id" key
	Fields     customer.Customer `json:"fields"`
}

// Keys returns the record's identity keys, in the precedence order.
func (in *Incoming) Keys() []Key {
	// Sized first: appended from nil, a record's two keys took two
	// allocations (called for every import row, more than once).
	n := 0
	for _, v := range [...]string{in.External, in.EmailKey, in.PhoneKey} {
		if v != "" {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	keys := make([]Key, 0, n)
	if in.External != "" {
		keys = append(keys, Key{KindExternal, in.External})
	}
	if in.EmailKey != "" {
		keys = append(keys, Key{KindEmail, in.EmailKey})
	}
	if in.PhoneKey != "" {
		keys = append(keys, Key{KindPhone, in.PhoneKey})
	}
	return keys
}

func (e *SharedError) Error() string {
	return "only shared identifiers (" + strings.Join(e.Fields, ", ") + ") and no name to tell their carriers apart"
}

// ErrNoIdentifier rejects a record with no usable identifier: customers are
// never matched on names alone.
var ErrNoIdentifier = errors.New("no valid email, phone or external id")

// Change is one field's old and new value, for the audit trail.
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// KeyState is the final owner of a key the workspace touched.
type KeyState struct {
	Key        Key
	CustomerID string
	Display    string
	Primary    bool
}

// MergeOp records customer From merged into Into.
type MergeOp struct {
	From, Into string
}

// Pair is a suggested duplicate: two customers that share evidence.
type Pair struct {
	A, B   string
	Reason string
}

// Workspace applies records, in order, to an in-memory view of the customers
// they can touch. The store loads the view (owners of the records' keys and
// those customers), applies records, and persists what the workspace reports.
// Upserts use one record; imports apply a whole group of related rows, which
// gives the same result as processing them one by one.
type Workspace struct {
	canonical bool // email keys use provider canonicalization
	owners    map[Key]string
	customers map[string]*customer.Customer
	newID     func() string

	created  map[string]bool
	changes  map[string]map[string]Change
	keys     map[Key]*KeyState
	keyOrder []Key
	merges   []MergeOp
	pairs    []Pair
	// last are the field changes of the latest Apply, a created
	// customer's included: what that record alone changed (LastChanges).
	last map[string]Change

	// Shared keys: their reason, and the customers that carry them besides
	// their owner (customer_identities keeps the first carrier as owner).
	shared      map[Key]string
	carriers    map[Key][]string
	blocklist   *Blocklist
	blockSrc    []string // the entries blocklist was built from
	newShared   []SharedKey
	newCarriers []Carrier
	names       map[nameField]bool // hasName's answers by field
}

// NewWorkspace starts an empty workspace; newID makes ids for new customers
// and canonicalEmails says how email keys are computed (an org setting).
func NewWorkspace(newID func() string, canonicalEmails bool) *Workspace {
	return &Workspace{
		canonical: canonicalEmails,
		owners:    map[Key]string{},
		customers: map[string]*customer.Customer{},
		newID:     newID,
		created:   map[string]bool{},
		changes:   map[string]map[string]Change{},
		keys:      map[Key]*KeyState{},
		shared:    map[Key]string{},
		carriers:  map[Key][]string{},
	}
}

// Reserve sizes the workspace for about keys identity keys (an import
// chunk's), before they are loaded or applied: maps grown entry by entry
// rehashed their keys several times.
func (w *Workspace) Reserve(keys int) {
	if keys <= len(w.keys) {
		return
	}
	w.owners, w.keys = resized(w.owners, keys), resized(w.keys, keys)
	w.customers, w.created = resized(w.customers, keys/2), resized(w.created, keys/2)
	w.keyOrder = slices.Grow(w.keyOrder, keys-len(w.keyOrder))
}

func resized[K comparable, V any](m map[K]V, n int) map[K]V {
	out := make(map[K]V, max(n, len(m)))
	maps.Copy(out, m)
	return out
}

// Load adds an existing customer and the keys it owns to the view.
func (w *Workspace) Load(c *customer.Customer, owned ...Key) {
	w.customers[c.ID] = c
	for _, k := range owned {
		w.owners[k] = c.ID
	}
}

// SetOwner records that key belongs to customerID (loaded separately).
func (w *Workspace) SetOwner(k Key, customerID string) { w.owners[k] = customerID }

// Owner returns the customer a key belongs to ("" when nobody's).
func (w *Workspace) Owner(k Key) string { return w.owners[k] }

// Customer returns a customer of the view.
func (w *Workspace) Customer(id string) *customer.Customer { return w.customers[id] }

// Apply matches one record and merges or creates by opts.
//
// With opts.NameCheck, a candidate found through an identifier is not taken
// when its name clearly differs from the record's: that identifier becomes
// shared and the pair goes to duplicate review. A shared identifier (marked
// so, or blocklisted) matches only a carrier whose name agrees with the
// record's; a record with no name and only shared identifiers is refused
// with a *SharedError.
func (w *Workspace) Apply(in *Incoming, opts Options) (Result, error) {
	w.last = nil
	keys := in.Keys()
	if len(keys) == 0 {
		return Result{}, ErrNoIdentifier
	}
	w.useBlocklist(opts.Blocklist)
	name := PersonNameOf(&in.Fields)
	named := w.hasName(name)
	matched, matchedOn, matchedKey := w.find(in, keys, opts, name, named)
	res := Result{Conflicts: []Conflict{}}
	var c *customer.Customer
	before, keysBefore, carriersBefore := 0, 0, 0
	if matched == "" {
		if err := w.sharedOnly(in, keys, named); err != nil {
			return Result{}, err
		}
		c = w.create(in)
		res.CustomerID, res.Action = c.ID, ActionCreated
	} else {
		on := fieldOfKind(matchedOn)
		res.CustomerID, res.MatchedOn = matched, &on
		c = w.customers[matched]
		before, keysBefore, carriersBefore = len(w.changes[matched]), len(w.keyOrder), len(w.newCarriers)
	}

	for _, k := range keys {
		display := displayOf(in, k)
		field := fieldOfKind(k.Kind)
		if w.isShared(k, display) {
			if _, listed := w.shared[k]; !listed {
				w.share(k, ReasonBlocklist, display) // its owner, if any, carries it too
			}
			if w.carry(k, c.ID, display) && k != matchedKey {
				res.Warnings = append(res.Warnings, Warning{Code: WarningSharedIdentifier, Field: field,
					Message: field + " is shared by several customers: it did not decide the match"})
			}
			continue
		}
		owner := w.owners[k]
		if owner == "" || owner == c.ID {
			continue
		}
		if w.refuses(opts, k, name, owner) {
			// Two people on one identifier: it becomes shared, carried by
			// both, and nothing of the record goes to the other customer.
			w.share(k, ReasonNamesDiffer, cmp.Or(w.displayForMerge(w.customers[owner], k), display))
			w.carry(k, c.ID, display)
			w.pairs = append(w.pairs, orderedPair(c.ID, owner, PairSharedIdentifier))
			res.Warnings = append(res.Warnings, Warning{Code: WarningSharedIdentifier, Field: field, CustomerID: owner,
				Message: "the customer with this " + field + " has a different name: both keep it, as a shared identifier"})
			continue
		}
		if matched != "" && opts.MergeConflicts {
			w.merge(c, w.customers[owner], FillBlanks)
			res.Merged = append(res.Merged, owner)
			continue
		}
		res.Conflicts = append(res.Conflicts, Conflict{Field: field, CustomerID: owner})
		w.pairs = append(w.pairs, orderedPair(c.ID, owner, "same "+field))
		if matched == "" {
			// A kind that does not match (match_keys) stays its owner's:
			// not copied onto the new customer.
			w.dropContact(c, k)
		}
	}
	if matched == "" {
		return res, nil
	}
	policy := opts.Policy
	if policy == "" {
		policy = FillBlanks
	}
	w.record(c, MergeFields(c, &in.Fields, policy))
	w.claimKeys(c, in, policy)

	res.Action = ActionUnchanged
	if len(w.changes[matched]) > before || len(w.keyOrder) > keysBefore || len(w.newCarriers) > carriersBefore || len(res.Merged) > 0 {
		res.Action = ActionUpdated
	}
	return res, nil
}

// Match returns the customer Apply would match in to ("" for a new one),
// without applying anything.
func (w *Workspace) Match(in *Incoming, opts Options) string {
	w.useBlocklist(opts.Blocklist)
	name := PersonNameOf(&in.Fields)
	id, _, _ := w.find(in, in.Keys(), opts, name, w.hasName(name))
	return id
}

// find picks the record's customer: the first key, in the priority order,
// whose owner the name check accepts, or a shared key's carrier whose name
// agrees.
func (w *Workspace) find(in *Incoming, keys []Key, opts Options, name PersonName, named bool) (matched, matchedOn string, matchedKey Key) {
	priority := opts.Priority
	if len(priority) == 0 {
		priority = DefaultPriority
	}
	for _, kind := range priority {
		for _, k := range keys {
			if k.Kind != kind || matched != "" {
				continue
			}
			if w.isShared(k, displayOf(in, k)) {
				if named {
					for _, id := range w.carriersOf(k) {
						if w.namesAgree(name, id) {
							matched, matchedOn, matchedKey = id, kind, k
							break
						}
					}
				}
				continue
			}
			owner := w.owners[k]
			if owner == "" || w.refuses(opts, k, name, owner) {
				continue
			}
			matched, matchedOn, matchedKey = owner, kind, k
		}
	}
	return matched, matchedOn, matchedKey
}

func fieldOfKind(kind string) string {
	if kind == KindExternal {
		return "external_id"
	}
	return kind
}

func orderedPair(a, b, reason string) Pair {
	if b < a {
		a, b = b, a
	}
	return Pair{A: a, B: b, Reason: reason}
}

// create makes a new customer from the record and claims all its keys.
func (w *Workspace) create(in *Incoming) *customer.Customer {
	c := in.Fields
	c.ID = w.newID()
	c.Email, c.Phone, c.PhoneValid, c.PhoneExtension = in.Email, in.Phone, in.PhoneValid, in.PhoneExt
	if c.Type == "" {
		c.Type = customer.TypeIndividual
	}
	if c.Status == "" {
		c.Status = customer.StatusActive
	}
	if c.Name == "" {
		c.Name = c.DisplayName()
	}
	w.customers[c.ID] = &c
	w.created[c.ID] = true
	for _, k := range in.Keys() {
		// Shared keys are carried, owned ones left to their owner (Apply).
		if w.owners[k] == "" && !w.isShared(k, displayOf(in, k)) {
			w.setKey(k, c.ID, displayOf(in, k), k.Kind != KindExternal)
		}
	}
	return &c
}

func displayOf(in *Incoming, k Key) string {
	switch k.Kind {
	case KindEmail:
		return in.Email
	case KindPhone:
		return in.Phone
	default:
		return k.Value
	}
}

// claimKeys gives c the record's keys nobody owns: a new email or phone is
// the primary when c has none (or under overwrite), else an alias. A shared
// key (carried by c, see Apply) becomes its primary only when it has none.
func (w *Workspace) claimKeys(c *customer.Customer, in *Incoming, policy Policy) {
	for _, k := range in.Keys() {
		if w.isShared(k, displayOf(in, k)) {
			w.claimShared(c, in, k, policy)
			continue
		}
		owner := w.owners[k]
		if owner != "" && owner != c.ID {
			continue // a conflict, left where it is
		}
		display := displayOf(in, k)
		switch k.Kind {
		case KindExternal:
			if owner == "" {
				w.setKey(k, c.ID, display, false)
				w.record(c, map[string]Change{"external_id": {To: display}})
			}
		case KindEmail:
			w.claimContact(c, k, display, policy, &c.Email, 0, func() {})
		case KindPhone:
			w.claimContact(c, k, display, policy, &c.Phone, phoneRank(c, in), func() {
				c.PhoneValid, c.PhoneExtension = in.PhoneValid, in.PhoneExt
			})
		}
	}
}

// claimContact gives c the record's email or phone: the primary when c has
// none, under overwrite, or when rank says it outranks the primary (unless
// the policy is do_not_update); not when rank says the primary outranks it.
// Otherwise it becomes an alias.
func (w *Workspace) claimContact(c *customer.Customer, k Key, display string, policy Policy, primary *string, rank int, setExtra func()) {
	owned := w.owners[k] == c.ID
	isPrimary := *primary == display
	switch {
	case isPrimary:
		if !owned {
			w.setKey(k, c.ID, display, true)
		}
	case (*primary == "" || rank > 0) && policy != DoNotUpdate, policy == Overwrite && rank >= 0:
		if *primary != "" {
			w.demote(c, k.Kind, *primary)
		}
		w.record(c, map[string]Change{k.Kind: {From: *primary, To: display}})
		*primary = display
		setExtra()
		w.setKey(k, c.ID, display, true)
	case !owned:
		w.setKey(k, c.ID, display, false)
		// An alias is a change the history should show.
		w.record(c, map[string]Change{"alias_" + k.Kind: {To: display}})
	}
}

// demote turns c's current primary email or phone into an alias.
func (w *Workspace) demote(c *customer.Customer, kind, display string) {
	w.setKey(w.KeyOf(kind, display), c.ID, display, false)
}

// KeyOf returns the match key of a stored (normalized) email or phone.
func (w *Workspace) KeyOf(kind, display string) Key {
	if kind == KindPhone {
		return Key{KindPhone, PhoneDigits(display)}
	}
	return Key{KindEmail, EmailKey(display, w.canonical)}
}

func (w *Workspace) setKey(k Key, customerID, display string, primary bool) {
	if s, ok := w.keys[k]; ok {
		s.CustomerID, s.Display, s.Primary = customerID, display, primary
	} else {
		w.keys[k] = &KeyState{Key: k, CustomerID: customerID, Display: display, Primary: primary}
		w.keyOrder = append(w.keyOrder, k)
	}
	w.owners[k] = customerID
}

// MergeInto folds loaded customer from into loaded customer into by policy:
// duplicate review's manual merge (SPEC §10.2). It reports false when
// either is not in the view or they are the same customer.
func (w *Workspace) MergeInto(into, from string, policy Policy) bool {
	a, b := w.customers[into], w.customers[from]
	if a == nil || b == nil || a.ID == b.ID {
		return false
	}
	w.merge(a, b, policy)
	return true
}

// merge folds customer b into a: b's values go to a by policy (the engine
// fills blanks), b's keys become a's aliases, b redirects to a. A blank
// email or phone of a takes b's as its primary unless the policy is
// do_not_update.
func (w *Workspace) merge(a, b *customer.Customer, policy Policy) {
	if b == nil || a.ID == b.ID {
		return
	}
	w.record(a, MergeFields(a, b, policy))
	var bKeys []Key
	for k, owner := range w.owners {
		if owner == b.ID {
			bKeys = append(bKeys, k)
		}
	}
	slices.SortFunc(bKeys, func(x, y Key) int {
		if x.Kind != y.Kind {
			return compare(x.Kind, y.Kind)
		}
		return compare(x.Value, y.Value)
	})
	for _, k := range bKeys {
		w.setKey(k, a.ID, w.displayForMerge(b, k), false)
	}
	for _, kind := range []string{KindEmail, KindPhone} {
		if policy == DoNotUpdate {
			break
		}
		field := &a.Email
		bv := b.Email
		if kind == KindPhone {
			field, bv = &a.Phone, b.Phone
		}
		if *field == "" && bv != "" {
			*field = bv
			if kind == KindPhone {
				a.PhoneValid, a.PhoneExtension = b.PhoneValid, b.PhoneExtension
			}
			w.setKey(w.KeyOf(kind, bv), a.ID, bv, true)
			w.record(a, map[string]Change{kind: {From: "", To: bv}})
		}
	}
	w.merges = append(w.merges, MergeOp{From: b.ID, Into: a.ID})
	delete(w.customers, b.ID)
}

func (w *Workspace) displayForMerge(b *customer.Customer, k Key) string {
	if s := w.keys[k]; s != nil {
		return s.Display
	}
	switch {
	case k.Kind == KindEmail && b.Email != "" && w.KeyOf(KindEmail, b.Email) == k:
		return b.Email
	case k.Kind == KindPhone && b.Phone != "" && w.KeyOf(KindPhone, b.Phone) == k:
		return b.Phone
	}
	return "" // unknown here: the store keeps the stored display
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// record notes field changes for the audit trail (the first From is kept).
func (w *Workspace) record(c *customer.Customer, changes map[string]Change) {
	if len(changes) == 0 {
		return
	}
	if w.last == nil {
		w.last = map[string]Change{}
	}
	for f, ch := range changes {
		if prev, ok := w.last[f]; ok {
			ch.From = prev.From
		}
		w.last[f] = ch
	}
	if w.created[c.ID] {
		return // a new customer's fields are its creation, not changes
	}
	m := w.changes[c.ID]
	if m == nil {
		m = map[string]Change{}
		w.changes[c.ID] = m
	}
	for f, ch := range changes {
		if prev, ok := m[f]; ok {
			ch.From = prev.From
		}
		m[f] = ch
	}
}

// Request is one find-or-create call (an upsert job's payload): a normalized
// record plus what to apply around it (SPEC §6 steps 4–5).
type Request struct {
	Record      Incoming          `json:"record"`
	Options     Options           `json:"options"`
	LocationID  string            `json:"location_id,omitempty"`
	Tags        []string          `json:"tags,omitempty"` // replace the tags at the location
	ReplaceTags bool              `json:"replace_tags,omitempty"`
	AddedTags   []string          `json:"added_tags,omitempty"`
	GroupIDs    []string          `json:"group_ids,omitempty"`
	Address     *customer.Address `json:"address,omitempty"`
	Source      string            `json:"source,omitempty"`
	// SourceRecord is set by the unified customer API; it is stored on the
	// record's external id when there is one.
	SourceRecord *customer.SourceRecord `json:"source_record,omitempty"`
}
