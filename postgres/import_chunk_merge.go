// Applying a chunk's rows to the dedupe workspace, and the set-based writes that follow.

package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// Sample categories of a dry run (first rows of each outcome).
const maxSamples = 5

// chunkMerge applies rows to a workspace and collects what to write
// around them: tags, memberships, visits, addresses, counts and samples.
type chunkMerge struct {
	opts      customer.ImportOptions
	dopts     dedupe.Options
	cand      *candidates
	location  string
	tags      map[string]map[string]string // customer → tag_key → tag, to add
	groups    map[string]map[string]bool   // customer → group, to add
	addresses map[string]*customer.Address // customer → first new address
	touched   []string                     // customers seen, in order
	isTouched map[string]bool
	tagged    map[string]bool // customers whose only change is tags/groups
	counts    customer.ImportCounts
	samples   map[string][]int
	columns   customer.Columns
	problems  []chunkProblem // rows refused or warned by the engine
}

// newChunkMerge applies rows by the import's options and the organization's
// settings (read once per chunk).
func newChunkMerge(opts customer.ImportOptions, st customer.Settings, cand *candidates) *chunkMerge {
	m := &chunkMerge{opts: opts, cand: cand, location: opts.LocationID,
		tags: map[string]map[string]string{}, groups: map[string]map[string]bool{},
		addresses: map[string]*customer.Address{}, isTouched: map[string]bool{}, tagged: map[string]bool{},
		samples: map[string][]int{}, dopts: dedupe.OptionsOf(st, opts.MergePolicy)}
	return m
}

func (m *chunkMerge) sample(kind string, row int) {
	if len(m.samples[kind]) < maxSamples {
		m.samples[kind] = append(m.samples[kind], row)
	}
}

// apply merges one row like an upsert would and classifies its outcome.
// It returns the customer the row went to.
func (m *chunkMerge) apply(w *dedupe.Workspace, r *customer.ImportRow, in *dedupe.Incoming) (string, error) {
	createdBefore := w.IsCreated
	res, err := w.Apply(in, m.dopts)
	if serr := (*dedupe.SharedError)(nil); errors.As(err, &serr) {
		// Like a row without identifiers: an error of the report.
		m.problems = append(m.problems, chunkProblem{row: r.Num, seq: chunkProblemSeq + 100, severity: customer.SeverityError,
			column: m.columns.Of(serr.Fields[0]), reason: fmt.Sprintf("no name, and %s shared by several customers (%s): "+
				"a name tells which one", strings.Join(serr.Fields, " and "), strings.Join(serr.Candidates, ", "))})
		m.counts.Invalid++
		if r.Record.Warned {
			m.counts.Warnings--
		}
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for i, wn := range res.Warnings {
		reason := wn.Message
		if wn.CustomerID != "" {
			reason += " (" + wn.CustomerID + ")"
		}
		m.problems = append(m.problems, chunkProblem{row: r.Num, seq: chunkProblemSeq + 100 + i, severity: customer.SeverityWarning,
			column: m.columns.Of(wn.Field), reason: reason})
	}
	if len(res.Warnings) > 0 && !r.Record.Warned {
		m.counts.Warnings++
	}
	id := res.CustomerID
	if !m.isTouched[id] {
		m.isTouched[id] = true
		m.touched = append(m.touched, id)
	}
	addedTags := m.addTags(id, slices.Concat(r.Record.Tags, m.opts.Tags, m.cand.locTags))
	addedGroups := m.addGroups(id, slices.Concat(m.opts.GroupIDs, m.cand.locGroups))
	if a := r.Record.Address; a != nil && m.addresses[id] == nil {
		m.addresses[id] = a
	}
	m.counts.Processed++
	if len(res.Conflicts) > 0 {
		m.counts.Conflicts++
		m.sample("conflict", r.Num)
	}
	switch {
	case res.Action == dedupe.ActionCreated:
		m.counts.Created++
		m.sample("create", r.Num)
	case createdBefore(id):
		m.counts.MergedInFile++
		m.sample("merge_in_file", r.Num)
	case res.Action == dedupe.ActionUpdated || addedTags || addedGroups:
		m.counts.Updated++
		m.sample("update", r.Num)
		if res.Action != dedupe.ActionUpdated {
			m.tagged[id] = true
		}
	default:
		m.counts.Unchanged++
		m.sample("unchanged", r.Num)
	}
	return id, nil
}

// queueProblems writes the rows the engine refused or warned about.
func (m *chunkMerge) queueProblems(b *pgx.Batch, orgID, importID string) {
	queueChunkProblems(b, orgID, importID, m.problems)
}

// addTags records tags to add at the import's location; it reports
// whether any is new for the customer.
func (m *chunkMerge) addTags(id string, tags []string) bool {
	added := false
	for _, t := range tags {
		k := strings.ToLower(strings.TrimSpace(t))
		if k == "" || m.cand.tags[id][m.location+"\x00"+k] {
			continue
		}
		if m.tags[id] == nil {
			m.tags[id] = map[string]string{}
		}
		if _, ok := m.tags[id][k]; !ok {
			m.tags[id][k] = strings.TrimSpace(t)
			added = true
		}
	}
	return added
}

func (m *chunkMerge) addGroups(id string, groups []string) bool {
	added := false
	for _, g := range groups {
		if m.cand.groups[id][g] || m.groups[id][g] {
			continue
		}
		if m.groups[id] == nil {
			m.groups[id] = map[string]bool{}
		}
		m.groups[id][g] = true
		added = true
	}
	return added
}

// queueWrites queues every write of the chunk as set-based statements.
func (m *chunkMerge) queueWrites(b *pgx.Batch, orgID, importID string, w *dedupe.Workspace) {
	mac := auditContext{source: "import", importID: importID, locationID: m.location}
	created := w.Created()
	// Created customers first: a merge into one of them (an existing
	// customer matched by a later row of the file) moves rows onto it.
	queueBulkCustomers(b, orgID, created, nil)
	var merges []string
	for _, mg := range w.Merges() {
		merges = append(merges, queueMerge(b, orgID, mac, mg.From, mg.Into))
	}
	updatedChanges := w.Updated()
	var updated []*customer.Customer
	for _, id := range m.touched {
		if _, ok := updatedChanges[id]; ok {
			updated = append(updated, w.Customer(id))
		}
	}
	queueBulkCustomers(b, orgID, nil, updated)
	queueMergesDone(b, orgID, merges)
	queueKeys(b, orgID, w, m.cand.owners)
	queueSharedWrites(b, orgID, w)

	// A customer a later row merged away gets nothing of its own: what its
	// rows added goes to its survivor (a created one was never written).
	into := map[string]string{}
	for _, mg := range w.Merges() {
		into[mg.From] = mg.Into
	}
	survivor := func(id string) string {
		for into[id] != "" && into[id] != id {
			id = into[id]
		}
		return id
	}
	var tc, tl, tt []string
	var gg, gc []string
	tagSeen, groupSeen := map[string]bool{}, map[string]bool{}
	var visited []string
	for _, id := range m.touched {
		sv := survivor(id)
		visited = append(visited, sv)
		for _, k := range slices.Sorted(mapKeys(m.tags[id])) {
			if key := sv + "\x00" + k; !tagSeen[key] && !m.cand.tags[sv][m.location+"\x00"+k] {
				tagSeen[key] = true
				tc, tl, tt = append(tc, sv), append(tl, m.location), append(tt, m.tags[id][k])
			}
		}
		for _, g := range slices.Sorted(mapKeys(m.groups[id])) {
			if key := sv + "\x00" + g; !groupSeen[key] && !m.cand.groups[sv][g] {
				groupSeen[key] = true
				gg, gc = append(gg, g), append(gc, sv)
			}
		}
	}
	if len(tc) > 0 {
		b.Queue(sqlBulkAddTags, orgID, tc, tl, tt)
	}
	if len(gg) > 0 {
		b.Queue(sqlBulkAddMembers, orgID, gg, gc, m.location)
	}
	if m.location != "" {
		b.Queue(sqlBulkVisits, orgID, slices.Compact(slices.Sorted(slices.Values(visited))), m.location, "import")
	}
	if len(m.addresses) > 0 {
		cols := make([][]string, 9)
		for _, id := range m.touched {
			a := m.addresses[id]
			if a == nil || w.Customer(id) == nil {
				continue
			}
			for j, v := range []string{customer.NewID(customer.PrefixAddress), id, a.Label, a.AddressLine1, a.AddressLine2, a.City, a.State, a.Country, a.PostalCode} {
				cols[j] = append(cols[j], v)
			}
		}
		if len(cols[0]) > 0 {
			b.Queue(sqlBulkAddresses, orgID, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8])
		}
	}
	if pairs := w.Pairs(); len(pairs) > 0 {
		var pa, pb, pr []string
		for _, p := range pairs {
			pa, pb, pr = append(pa, p.A), append(pb, p.B), append(pr, p.Reason)
		}
		b.Queue(sqlBulkPairs, orgID, pa, pb, pr)
	}
	// Audit: one event per customer the chunk created (kept as arrays,
	// audit_created.go), changed, merged or tagged.
	if len(created) > 0 {
		ids := make([]string, len(created))
		for i, c := range created {
			ids[i] = c.ID
		}
		b.Queue(sqlBulkCreatedAudit, orgID, importID, "import", m.location, ids)
	}
	var ac, at, ach []string
	n := len(updated) + len(m.tagged)
	ac, at, ach = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	event := func(id, typ string, changes string) {
		ac, at, ach = append(ac, id), append(at, typ), append(ach, changes)
	}
	for _, c := range updated {
		raw, _ := json.Marshal(updatedChanges[c.ID])
		event(c.ID, EventUpdated, string(raw))
	}
	for _, id := range m.touched {
		if m.tagged[id] {
			if _, ok := updatedChanges[id]; !ok && !w.IsCreated(id) {
				event(id, EventTagged, "{}")
			}
		}
	}
	if len(ac) > 0 {
		b.Queue(sqlBulkAudit, orgID, ac, at, "import", importID, m.location, ach)
	}
}

func mapKeys[V any](m map[string]V) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
