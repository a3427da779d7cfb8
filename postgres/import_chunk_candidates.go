// A chunk's first pass: the keys of its rows, and the existing customers they can touch, locked.

package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// candidates reads the chunk's rows (passing each to gather, if set) and
// loads every existing customer they can touch: its first pass.
//
// Only keys of rows the plan found owned are probed (a third of a typical
// file's; probes were 15% of the merge): any other key was free at
// planning, and if it has been claimed since, its plain insert (queueKeys)
// fails and the retry probes every key. A dry run writes nothing, so
// nothing would catch such a key: it probes them all. Placeholders
// (except) match no one: not probed.
func (in *chunkInput) candidates(ctx context.Context, tx pgx.Tx, chunk int, probeAll bool, except map[dedupe.Key]bool, gather func(r *customer.ImportRow)) (*candidates, error) {
	probe := probeAll || !in.ownedPlanned || in.opts.DryRun
	var keys, all *keySet
	err := in.pages(ctx, tx, chunk, false, func(rows []customer.ImportRow, owned []bool) error {
		if keys == nil {
			// Sized by the first page (nearly always the chunk): grown
			// key by key, the sets' rehashing was 3% of a chunk's time.
			keys, all = newKeySet(2*len(rows)), newKeySet(2*len(rows))
		}
		for i := range rows {
			if probe || owned[i] {
				keys.add(&rows[i], except)
			} else {
				all.add(&rows[i], except)
			}
			if gather != nil {
				gather(&rows[i])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if keys == nil {
		keys, all = newKeySet(0), newKeySet(0)
	}
	// Keys not probed may still be shared (the plan leaves those out of
	// its owner read): they are looked up among shared identifiers, and
	// probed when they are, or when the blocklist has them.
	block := dedupe.NewBlocklist(slices.Concat(in.settings.Blocklist.Emails, in.settings.Blocklist.Phones))
	cand, err := loadChunkCandidates(ctx, tx, in.orgID, keys.keys, all.keys, block, in.opts.LocationID)
	if err != nil {
		return nil, err
	}
	cand.rowKeys = len(keys.keys) + len(all.keys)
	return cand, nil
}

// keyColumnsOf lays keys out as kind and value arrays.
func keyColumnsOf(keys []dedupe.Key) (kinds, values []string) {
	kinds, values = make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		kinds[i], values[i] = k.Kind, k.Value
	}
	return kinds, values
}

// keySet collects the distinct keys of rows.
type keySet struct {
	seen map[dedupe.Key]bool
	keys []dedupe.Key
}

func newKeySet(n int) *keySet {
	return &keySet{seen: make(map[dedupe.Key]bool, n), keys: make([]dedupe.Key, 0, n)}
}

// add adds r's keys but those in except.
func (s *keySet) add(r *customer.ImportRow, except map[dedupe.Key]bool) {
	in := incomingKeys(r)
	for _, k := range in.Keys() {
		if !s.seen[k] && !except[k] {
			s.seen[k] = true
			s.keys = append(s.keys, k)
		}
	}
}

const (
	sqlLockCustomersByID = `SELECT ` + customerColumns + ` FROM customers c
		WHERE c.organization_id = $1 AND c.id = ANY($2) ORDER BY c.id FOR UPDATE`
	sqlTagKeysByID = `SELECT customer_id, location_id, tag_key FROM customer_tags
		WHERE organization_id = $1 AND customer_id = ANY($2)`
)

// loadChunkCandidates is queueCandidates for thousands of keys: the keys are
// probed once (owners), then the owning customers are locked and their tags
// and groups read by id. Owners read before the locks can be stale; the
// workspace check (a merged candidate, an owner not locked) and the key
// writes' conflict check turn any such race into a retry.
func loadChunkCandidates(ctx context.Context, tx pgx.Tx, orgID string, keys, others []dedupe.Key, block *dedupe.Blocklist, locationID string) (*candidates, error) {
	kinds, values := keyColumnsOf(keys)
	cand := &candidates{owners: map[dedupe.Key]string{}, sources: map[dedupe.Key]*customer.SourceRecord{},
		tags: map[string]map[string]bool{}, groups: map[string]map[string]bool{}}
	b := &pgx.Batch{}
	b.Queue(sqlGenericPlans)
	queueOwners(b, orgID, kinds, values, cand)
	okinds, ovalues := keyColumnsOf(others)
	queueShared(b, orgID, append(kinds, okinds...), append(values, ovalues...), cand)
	queueLocationDefaults(b, orgID, locationID, cand)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpretError(fmt.Errorf("probe keys: %w", err), nil)
	}
	var extra []dedupe.Key
	for _, k := range others {
		_, shared := cand.shared[k]
		if shared || block.Blocks(k.Kind, k.Value) || (k.Kind == dedupe.KindPhone && block.Blocks(k.Kind, "+"+k.Value)) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		ekinds, evalues := keyColumnsOf(extra)
		b = &pgx.Batch{}
		queueOwners(b, orgID, ekinds, evalues, cand)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, interpretError(fmt.Errorf("probe shared keys: %w", err), nil)
		}
	}
	seen := map[string]bool{}
	var ids []string
	for _, id := range cand.owners {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, sk := range cand.shared {
		for _, id := range sk.carriers {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return cand, nil
	}
	slices.Sort(ids) // lock order
	b = &pgx.Batch{}
	b.Queue(sqlLockCustomersByID, orgID, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			c, err := scanCustomer(rows)
			if code := customer.ErrorCode(err); code == customer.EMOVED || code == customer.EGONE {
				cand.stale = true
				continue
			}
			if err != nil {
				return err
			}
			cand.customers = append(cand.customers, c)
		}
		return rows.Err()
	})
	b.Queue(sqlTagKeysByID, orgID, ids).Query(func(rows pgx.Rows) error {
		var id, loc, tag string
		_, err := pgx.ForEachRow(rows, []any{&id, &loc, &tag}, func() error {
			setAdd(cand.tags, id, loc+"\x00"+tag)
			return nil
		})
		return err
	})
	b.Queue(sqlSelectMemberships, orgID, ids).Query(func(rows pgx.Rows) error {
		var id, g string
		_, err := pgx.ForEachRow(rows, []any{&id, &g}, func() error {
			setAdd(cand.groups, id, g)
			return nil
		})
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpretError(fmt.Errorf("lock candidates: %w", err), nil)
	}
	return cand, nil
}
