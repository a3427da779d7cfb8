// What an upsert reads before it decides: the owners of the request's keys,
// shared keys and their carriers, and those customers.

package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// carriersLoaded bounds the carriers of one shared key a match loads and
// locks: a store's phone typed on every walk-in gathers thousands, and each
// upsert on it would lock them all. The newest are the likeliest to come
// back; an older carrier beyond them is found by its other identifiers, or
// a new customer is made and shows in duplicate review.
const carriersLoaded = "100"

// candidates is what the read step loads: the customers owning any of the
// keys (locked), current owners, their tags and groups, location defaults.
type candidates struct {
	owners     map[dedupe.Key]string
	sources    map[dedupe.Key]*customer.SourceRecord // stored source records of external keys
	customers  []*customer.Customer
	tags       map[string]map[string]bool // customer → "location\x00tag_key"
	groups     map[string]map[string]bool // customer → group id
	locTags    []string
	locGroups  []string
	locMissing bool
	stale      bool
	shared     map[dedupe.Key]sharedKey
	rowKeys    int // an import chunk's distinct keys: the workspace's size
}

// sharedKey is a shared key as stored: why, and who carries it.
type sharedKey struct {
	reason   string
	carriers []string
}

// queueCandidates adds the candidate reads for keys to b; the returned
// candidates are filled when the batch has run.
func queueCandidates(b *pgx.Batch, orgID string, keys []dedupe.Key, locationID string, withRelations bool) *candidates {
	kinds, values := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		kinds[i], values[i] = k.Kind, k.Value
	}
	cand := &candidates{owners: map[dedupe.Key]string{}, sources: map[dedupe.Key]*customer.SourceRecord{}, tags: map[string]map[string]bool{}, groups: map[string]map[string]bool{}}
	b.Queue(sqlLockCandidates, orgID, kinds, values).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			c, err := scanCustomer(rows)
			if code := customer.ErrorCode(err); code == customer.EMOVED || code == customer.EGONE {
				cand.stale = true // merged while we waited for its lock
				continue
			}
			if err != nil {
				return err
			}
			cand.customers = append(cand.customers, c)
		}
		return rows.Err()
	})
	// Owners are read after the candidates are locked, so they are current
	// for every locked customer.
	queueOwners(b, orgID, kinds, values, cand)
	queueShared(b, orgID, kinds, values, cand)
	if !withRelations {
		return cand // no tags, groups or location: nothing to compare against
	}
	b.Queue(sqlCandidateTags, orgID, kinds, values).Query(func(rows pgx.Rows) error {
		var id, loc, tag string
		_, err := pgx.ForEachRow(rows, []any{&id, &loc, &tag}, func() error {
			setAdd(cand.tags, id, loc+"\x00"+tag)
			return nil
		})
		return err
	})
	b.Queue(sqlCandidateGroups, orgID, kinds, values).Query(func(rows pgx.Rows) error {
		var id, g string
		_, err := pgx.ForEachRow(rows, []any{&id, &g}, func() error {
			setAdd(cand.groups, id, g)
			return nil
		})
		return err
	})
	queueLocationDefaults(b, orgID, locationID, cand)
	return cand
}

// queueOwners reads who owns each key (one index probe per key).
func queueOwners(b *pgx.Batch, orgID string, kinds, values []string, cand *candidates) {
	b.Queue(sqlOwners, orgID, kinds, values).Query(func(rows pgx.Rows) error {
		var k dedupe.Key
		var owner string
		var source *customer.SourceRecord
		_, err := pgx.ForEachRow(rows, []any{&k.Kind, &k.Value, &owner, &source}, func() error {
			cand.owners[k] = owner
			if source != nil {
				cand.sources[k] = source
				source = nil
			}
			return nil
		})
		return err
	})
}

// queueShared reads which of the keys are shared, and their carriers.
func queueShared(b *pgx.Batch, orgID string, kinds, values []string, cand *candidates) {
	b.Queue(sqlSharedKeys, orgID, kinds, values).Query(func(rows pgx.Rows) error {
		var k dedupe.Key
		var sk sharedKey
		_, err := pgx.ForEachRow(rows, []any{&k.Kind, &k.Value, &sk.reason, &sk.carriers}, func() error {
			if cand.shared == nil {
				cand.shared = map[dedupe.Key]sharedKey{}
			}
			cand.shared[k] = sk
			sk = sharedKey{}
			return nil
		})
		return err
	})
}

// workspace loads the candidates into a dedupe workspace. A candidate
// merged meanwhile, or a key owned by a customer that was not locked, means
// a concurrent change: the caller retries.
func (cand *candidates) workspace(canonicalEmails bool) (*dedupe.Workspace, error) {
	if cand.stale {
		return nil, errIdentityRace
	}
	w := dedupe.NewWorkspace(func() string { return customer.NewID(customer.PrefixCustomer) }, canonicalEmails)
	w.Reserve(cand.rowKeys)
	owned := map[string][]dedupe.Key{}
	for k, owner := range cand.owners {
		owned[owner] = append(owned[owner], k)
	}
	for _, c := range cand.customers {
		w.Load(c, owned[c.ID]...)
		delete(owned, c.ID)
	}
	if len(owned) > 0 {
		return nil, errIdentityRace
	}
	for k, sk := range cand.shared {
		w.LoadShared(k, sk.reason, sk.carriers...)
	}
	return w, nil
}

// queueLocationDefaults reads the default tags and groups of the location a
// record arrives at ("" for none); a missing location is noted, not an error
// of the batch.
func queueLocationDefaults(b *pgx.Batch, orgID, locationID string, cand *candidates) {
	if locationID == "" {
		return
	}
	b.Queue(sqlLocationDefaults, orgID, locationID).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&cand.locTags, &cand.locGroups)
		if err == pgx.ErrNoRows {
			cand.locMissing = true
			return nil
		}
		return err
	})
}
