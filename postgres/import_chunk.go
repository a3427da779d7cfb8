package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

const (
	// The chunk's inserts merge the trigram index's pending list into the
	// index when it passes 128 MB (~110,000 customers), in batches of
	// work_mem: larger batches, fewer index descents. 1M rows into 1M
	// customers: 136 s at 16 MB (64 MB batches), 122 s at 128 MB, 115 s at
	// 512 MB — but searches scan what is pending (~40 ms at 128 MB).
	sqlChunkWorkMem     = `SET LOCAL work_mem = '256MB'`
	sqlChunkPendingList = `SET LOCAL gin_pending_list_limit = '128MB'`
	sqlImportState      = `SELECT status, options, dry_run, owned_rows_planned, placeholders, headers, mapping
		FROM imports WHERE organization_id = $1 AND id = $2`
	sqlLockChunk = `SELECT done FROM import_chunks WHERE organization_id = $1 AND import_id = $2 AND chunk = $3 FOR UPDATE`
	// A chunk's rows: those staged in it that the plan left there, and
	// those it moved in (import_row_moves). The moved-out test is a scalar
	// subquery, one primary-key probe per row: as NOT EXISTS the planner
	// made it an anti join that read and hashed all the import's moves for
	// every chunk (80% of the statement). The moved-in rows are a lateral
	// primary-key probe each (LIMIT keeps it from becoming a join): as a
	// join, on statistics that said an import had one row, the planner
	// scanned all the import's rows for each move.
	sqlChunkRows = `SELECT ` + chunkRowColumns + ` FROM import_rows r
		WHERE r.organization_id = $1 AND r.import_id = $2 AND r.chunk = $3 AND (
			SELECT true FROM import_row_moves m
			WHERE m.organization_id = $1 AND m.import_id = $2 AND m.row_num = r.row_num) IS NULL
		UNION ALL
		SELECT ` + chunkRowColumns + ` FROM import_row_moves m CROSS JOIN LATERAL (
			SELECT row_num, email, email_key, phone, phone_key, phone_valid, phone_ext, external_key, record, order_key
			FROM import_rows WHERE organization_id = m.organization_id AND import_id = m.import_id AND row_num = m.row_num
			LIMIT 1) r
		WHERE m.organization_id = $1 AND m.import_id = $2 AND m.chunk = $3`
	// Not the original cells (raw): problems found while merging copy them
	// in SQL (sqlInsertChunkProblems), and they would be a tenth of a big
	// order group's memory.
	chunkRowColumns = `r.row_num, r.email, r.email_key, r.phone, r.phone_key, r.phone_valid, r.phone_ext,
		r.external_key, r.record, r.order_key, (SELECT true FROM import_owned_rows o
			WHERE o.organization_id = $1 AND o.import_id = $2 AND o.row_num = r.row_num) IS NOT NULL`
	sqlChunkDone = `UPDATE import_chunks SET done = true, samples = $4, finished = now()
		WHERE organization_id = $1 AND import_id = $2 AND chunk = $3`
	// The last chunk to finish completes the import; the row lock taken by
	// this UPDATE makes exactly one chunk see chunks_done reach chunks. It
	// runs at the end of the chunk: finished is the clock's time, not the
	// transaction's start.
	sqlCountChunk = `UPDATE imports SET processed = processed + $3, created_count = created_count + $4,
		updated_count = updated_count + $5, unchanged = unchanged + $6, merged_in_file = merged_in_file + $7,
		conflicts = conflicts + $8, invalid = invalid + $9, warnings = warnings + $10,
		orders_created = orders_created + $11, orders_skipped = orders_skipped + $12,
		orders_invalid = orders_invalid + $13, chunks_done = chunks_done + 1, updated = now(),
		status = CASE WHEN status = 'processing' AND chunks_done + 1 >= chunks THEN 'completed' ELSE status END,
		finished = CASE WHEN status = 'processing' AND chunks_done + 1 >= chunks THEN clock_timestamp() ELSE finished END
		WHERE organization_id = $1 AND id = $2 RETURNING status`
	sqlCompleteEmptyImport = `UPDATE imports SET status = 'completed', finished = now(), updated = now()
		WHERE organization_id = $1 AND id = $2 AND status = 'processing' AND chunks = 0`
)

// Sample categories of a dry run (first rows of each outcome).
const maxSamples = 5

// ChunkOutcome reports one merged chunk.
type ChunkOutcome struct {
	Skipped bool   // already merged, or the import stopped
	Status  string // the import's status afterwards
	Counts  customer.ImportCounts
}

// CompleteEmptyImport finishes an import that staged no rows.
func (s *Store) CompleteEmptyImport(ctx context.Context, orgID, importID string) error {
	_, err := s.pool.Exec(ctx, sqlCompleteEmptyImport, orgID, importID)
	return interpretError(err, nil)
}

// RunImportChunk merges one chunk of staged rows, in file order, exactly
// once: the chunk row is locked and marked done in the same transaction as
// the merge. A dry run computes the same outcome and writes only counts.
func (s *Store) RunImportChunk(ctx context.Context, orgID, importID string, chunk int) (*ChunkOutcome, error) {
	attempts := 0
	out, err := retryTx(ctx, s, func(tx pgx.Tx) (*ChunkOutcome, error) {
		// A retry follows a race (or a fault): probe every key, not only
		// those the plan saw owned — one may have been claimed since.
		attempts++
		return runImportChunk(ctx, tx, orgID, importID, chunk, pageSize{s.ChunkPageRows, s.ChunkPageBytes}, attempts > 1)
	})
	if err != nil {
		return nil, fmt.Errorf("import %s chunk %d: %w", importID, chunk, err)
	}
	return out, nil
}

// chunkInput is what a chunk reads before merging.
type chunkInput struct {
	orgID, importID string
	page            pageSize
	// onePage: the chunk's rows fit in one page, kept (with their owned
	// flags) after the first read.
	onePage      bool
	kept         []customer.ImportRow
	keptOwned    []bool
	status       string
	opts         customer.ImportOptions
	done         bool
	ownedPlanned bool // the plan recorded owned rows (import_owned_rows)
	placeholders []Placeholder
	headers      []string
	mapping      map[string]string
}

// loadChunk reads the import's state and locks the chunk (its rows are
// read in pages: chunkInput.pages).
func loadChunk(ctx context.Context, tx pgx.Tx, orgID, importID string, chunk int) (*chunkInput, error) {
	in := &chunkInput{orgID: orgID, importID: importID}
	b := &pgx.Batch{}
	b.Queue(sqlChunkWorkMem)
	b.Queue(sqlChunkPendingList)
	b.Queue(sqlImportState, orgID, importID).QueryRow(func(row pgx.Row) error {
		return row.Scan(&in.status, &in.opts, &in.opts.DryRun, &in.ownedPlanned, &in.placeholders, &in.headers, &in.mapping)
	})
	b.Queue(sqlLockChunk, orgID, importID, chunk).QueryRow(func(row pgx.Row) error { return row.Scan(&in.done) })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpretError(fmt.Errorf("load chunk %d: %w", chunk, err), customer.NotFound("Import chunk", fmt.Sprint(chunk)))
	}
	return in, nil
}

// scanChunkRows reads rows of sqlChunkRows.
func scanChunkRows(rows pgx.Rows, fn func(r customer.ImportRow, owned bool)) error {
	var r customer.ImportRow
	var o bool
	_, err := pgx.ForEachRow(rows, []any{&r.Num, &r.Email, &r.EmailKey, &r.Phone, &r.PhoneKey, &r.PhoneValid,
		&r.PhoneExt, &r.External, &r.Record, &r.OrderKey, &o}, func() error {
		fn(r, o)
		r.Record = customer.ImportRecord{}
		return nil
	})
	return err
}

// DefaultChunkPageRows is how many rows a chunk holds at once: a chunk's
// rows are read a page at a time. Above the planned chunk size, so that a
// typical chunk is a single page.
const DefaultChunkPageRows = 10000

// DefaultChunkPageBytes bounds a page by its rows' values too (a group of
// fat rows is one chunk however many bytes it holds), and firstFetchRows is
// the first read of a page, before the rows' size is known.
const (
	DefaultChunkPageBytes = 8 << 20
	firstFetchRows        = 100
)

// pageSize bounds the rows a chunk holds at once (zero values: defaults).
type pageSize struct{ rows, bytes int }

// recordSize is about the bytes a staged row's values hold in memory.
func recordSize(r *customer.ImportRecord) int {
	n := 64
	for k, v := range r.Fields {
		n += len(k) + len(v)
	}
	for k, v := range r.Attributes {
		n += len(k) + len(v)
	}
	for _, t := range r.Tags {
		n += len(t)
	}
	return n
}

// pages runs fn on the chunk's rows a page at a time, in file order or
// (byOrder) grouped by order number (in file order within an order),
// through a cursor of the chunk's transaction; fn may run statements of its
// own between pages. When the first read finds a single page (nearly every
// chunk) the rows are kept and later reads use them (with any edits fn
// made: only the last pass may edit).
func (in *chunkInput) pages(ctx context.Context, tx pgx.Tx, chunk int, byOrder bool, fn func(rows []customer.ImportRow, owned []bool) error) error {
	if in.onePage {
		rows, owned := in.kept, in.keptOwned
		if byOrder {
			rows, owned = byOrderKey(rows, owned)
		}
		return fn(rows, owned)
	}
	order := ` ORDER BY 1`
	if byOrder {
		order = ` ORDER BY 10, 1` // order_key, row_num
	}
	if _, err := tx.Exec(ctx, `DECLARE chunk_rows NO SCROLL CURSOR FOR `+sqlChunkRows+order, in.orgID, in.importID, chunk); err != nil {
		return interpretError(fmt.Errorf("read rows of chunk %d: %w", chunk, err), nil)
	}
	page := cmp.Or(in.page.rows, DefaultChunkPageRows)
	pageBytes := cmp.Or(in.page.bytes, DefaultChunkPageBytes)
	rows, owned := make([]customer.ImportRow, 0, min(page, 1000)), make([]bool, 0, min(page, 1000))
	pages := 0
	var last []customer.ImportRow // the last page read (an empty FETCH ends a full one)
	var lastOwned []bool
	for end := false; !end; {
		// A page: up to page rows or pageBytes, read in as few FETCHes
		// as the rows' size allows (two for a typical chunk).
		rows, owned = rows[:0], owned[:0]
		size := 0
		for len(rows) < page && size < pageBytes {
			n := min(firstFetchRows, page)
			if len(rows) > 0 {
				n = max(1, min(page-len(rows), (pageBytes-size)/max(1, size/len(rows))))
			}
			before := len(rows)
			rs, err := tx.Query(ctx, fmt.Sprintf(`FETCH %d FROM chunk_rows`, n))
			if err == nil {
				err = scanChunkRows(rs, func(r customer.ImportRow, o bool) {
					rows, owned = append(rows, r), append(owned, o)
					size += recordSize(&r.Record)
				})
			}
			if err != nil {
				return interpretError(fmt.Errorf("read rows of chunk %d: %w", chunk, err), nil)
			}
			if len(rows)-before < n {
				end = true
				break
			}
		}
		if len(rows) > 0 {
			pages++
			last, lastOwned = rows, owned
			if err := fn(rows, owned); err != nil {
				return err
			}
		}
	}
	if _, err := tx.Exec(ctx, `CLOSE chunk_rows`); err != nil {
		return interpretError(fmt.Errorf("read rows of chunk %d: %w", chunk, err), nil)
	}
	if pages <= 1 && !byOrder {
		in.onePage, in.kept, in.keptOwned = true, last, lastOwned
	}
	return nil
}

// byOrderKey returns rows (in file order) grouped by order number.
func byOrderKey(rows []customer.ImportRow, owned []bool) ([]customer.ImportRow, []bool) {
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(rows[a].OrderKey, rows[b].OrderKey) })
	sorted, sortedOwned := make([]customer.ImportRow, len(rows)), make([]bool, len(rows))
	for i, j := range idx {
		sorted[i], sortedOwned[i] = rows[j], owned[j]
	}
	return sorted, sortedOwned
}

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
	keys := newKeySet()
	err := in.pages(ctx, tx, chunk, false, func(rows []customer.ImportRow, owned []bool) error {
		for i := range rows {
			if probe || owned[i] {
				keys.add(&rows[i], except)
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
	return loadChunkCandidates(ctx, tx, in.orgID, keys.keys, in.opts.LocationID)
}

// keySet collects the distinct keys of rows.
type keySet struct {
	seen map[dedupe.Key]bool
	keys []dedupe.Key
}

func newKeySet() *keySet { return &keySet{seen: map[dedupe.Key]bool{}} }

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

// incomingKeys is a row as the engine's record, identifiers only.
func incomingKeys(r *customer.ImportRow) dedupe.Incoming {
	return dedupe.Incoming{Email: r.Email, EmailKey: r.EmailKey, Phone: r.Phone, PhoneKey: r.PhoneKey,
		PhoneValid: r.PhoneValid, PhoneExt: r.PhoneExt, External: r.External}
}

// incoming is a row as the engine's record. Built as each row is applied:
// a record per row held for a whole chunk was a third of a big chunk's heap.
func incoming(r *customer.ImportRow) *dedupe.Incoming {
	in := incomingKeys(r)
	in.Fields = r.Record.Customer()
	return &in
}

func runImportChunk(ctx context.Context, tx pgx.Tx, orgID, importID string, chunk int, page pageSize, probeAll bool) (*ChunkOutcome, error) {
	in, err := loadChunk(ctx, tx, orgID, importID, chunk)
	if err != nil {
		return nil, err
	}
	if in.done || in.status != customer.ImportProcessing {
		return &ChunkOutcome{Skipped: true, Status: in.status}, nil
	}
	in.page = page
	if in.opts.Kind == KindOrders {
		return runOrderChunk(ctx, tx, in, chunk, probeAll)
	}
	opts := in.opts

	var ph *placeholderRows
	if len(in.placeholders) > 0 {
		ph = newPlaceholderRows(in.placeholders, customer.FieldColumns(in.headers, in.mapping))
	}

	cand, err := in.candidates(ctx, tx, chunk, probeAll, ph.placeholders(), nil)
	if err != nil {
		return nil, err
	}
	w, err := cand.workspace()
	if err != nil {
		return nil, err
	}

	m := newChunkMerge(opts, cand)
	apply := func(rows []customer.ImportRow, _ []bool) error {
		if ph != nil {
			rows = ph.drop(rows)
			if err := flushProblems(ctx, tx, orgID, importID, &ph.problems, problemsFlush); err != nil {
				return err
			}
		}
		for i := range rows {
			if _, err := m.apply(w, &rows[i], incoming(&rows[i])); err != nil {
				return fmt.Errorf("row %d: %w", rows[i].Num, err)
			}
		}
		return nil
	}
	// A chunk of one page (nearly all) was read once; a bigger one (one
	// person on a hundred thousand rows) is read again, page by page.
	if err := in.pages(ctx, tx, chunk, false, apply); err != nil {
		return nil, err
	}

	wb := &pgx.Batch{}
	if !opts.DryRun {
		m.queueWrites(wb, orgID, importID, w)
	}
	if ph != nil {
		// Problems are the import's report, written in a dry run too.
		queueChunkProblems(wb, orgID, importID, ph.problems)
		m.counts.Invalid, m.counts.Warnings = ph.invalid, ph.warnings
	}
	return queueChunkDone(ctx, tx, wb, in, chunk, m)
}

// queueChunkDone marks the chunk done, adds its counts to the import and
// sends the batch of its writes.
func queueChunkDone(ctx context.Context, tx pgx.Tx, wb *pgx.Batch, in *chunkInput, chunk int, m *chunkMerge) (*ChunkOutcome, error) {
	samples, _ := json.Marshal(m.samples)
	wb.Queue(sqlChunkDone, in.orgID, in.importID, chunk, samples)
	c := m.counts
	out := &ChunkOutcome{Counts: c}
	wb.Queue(sqlCountChunk, in.orgID, in.importID, c.Processed, c.Created, c.Updated, c.Unchanged, c.MergedInFile, c.Conflicts,
		c.Invalid, c.Warnings, c.OrdersCreated, c.OrdersSkipped, c.OrdersInvalid).
		QueryRow(func(row pgx.Row) error { return row.Scan(&out.Status) })
	if err := tx.SendBatch(ctx, wb).Close(); err != nil {
		return nil, interpretError(fmt.Errorf("write chunk %d: %w", chunk, err), nil)
	}
	return out, nil
}

// KindOrders is the import kind of order files (SPEC §9).
const KindOrders = "orders"

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
}

func newChunkMerge(opts customer.ImportOptions, cand *candidates) *chunkMerge {
	m := &chunkMerge{opts: opts, cand: cand, location: opts.LocationID,
		tags: map[string]map[string]string{}, groups: map[string]map[string]bool{},
		addresses: map[string]*customer.Address{}, isTouched: map[string]bool{}, tagged: map[string]bool{},
		samples: map[string][]int{}}
	switch opts.MergePolicy {
	case string(dedupe.Overwrite):
		m.dopts.Policy = dedupe.Overwrite
	case string(dedupe.DoNotUpdate):
		m.dopts.Policy = dedupe.DoNotUpdate
	case "merge_conflicts":
		m.dopts.MergeConflicts = true
	}
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
	if err != nil {
		return "", err
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
	for _, mg := range w.Merges() {
		queueMerge(b, orgID, mg.From, mg.Into)
	}
	created := w.Created()
	updatedChanges := w.Updated()
	var updated []*customer.Customer
	for _, id := range m.touched {
		if _, ok := updatedChanges[id]; ok {
			updated = append(updated, w.Customer(id))
		}
	}
	queueBulkCustomers(b, orgID, created, updated)
	queueKeys(b, orgID, w, m.cand.owners)

	var tc, tl, tt []string
	var gg, gc []string
	for _, id := range m.touched {
		for _, k := range slices.Sorted(mapKeys(m.tags[id])) {
			tc, tl, tt = append(tc, id), append(tl, m.location), append(tt, m.tags[id][k])
		}
		for _, g := range slices.Sorted(mapKeys(m.groups[id])) {
			gg, gc = append(gg, g), append(gc, id)
		}
	}
	if len(tc) > 0 {
		b.Queue(sqlBulkAddTags, orgID, tc, tl, tt)
	}
	if len(gg) > 0 {
		b.Queue(sqlBulkAddMembers, orgID, gg, gc, m.location)
	}
	if m.location != "" {
		b.Queue(sqlBulkVisits, orgID, m.touched, m.location, "import")
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
	// Audit: one event per customer the chunk created, changed, merged or tagged.
	var ac, at, ach []string
	event := func(id, typ string, changes any) {
		raw, _ := json.Marshal(changes)
		ac, at, ach = append(ac, id), append(at, typ), append(ach, string(raw))
	}
	for _, c := range created {
		event(c.ID, EventCreated, map[string]any{})
	}
	for _, mg := range w.Merges() {
		event(mg.Into, EventMerged, map[string]any{"merged": Change{From: mg.From, To: mg.Into}})
	}
	for _, c := range updated {
		event(c.ID, EventUpdated, updatedChanges[c.ID])
	}
	for _, id := range m.touched {
		if m.tagged[id] {
			if _, ok := updatedChanges[id]; !ok && !w.IsCreated(id) {
				event(id, EventTagged, map[string]any{})
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
func loadChunkCandidates(ctx context.Context, tx pgx.Tx, orgID string, keys []dedupe.Key, locationID string) (*candidates, error) {
	kinds, values := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		kinds[i], values[i] = k.Kind, k.Value
	}
	cand := &candidates{owners: map[dedupe.Key]string{}, sources: map[dedupe.Key]*customer.SourceRecord{},
		tags: map[string]map[string]bool{}, groups: map[string]map[string]bool{}}
	b := &pgx.Batch{}
	b.Queue(sqlGenericPlans)
	queueOwners(b, orgID, kinds, values, cand)
	if locationID != "" {
		b.Queue(sqlLocationDefaults, orgID, locationID).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&cand.locTags, &cand.locGroups)
			if err == pgx.ErrNoRows {
				cand.locMissing = true
				return nil
			}
			return err
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpretError(fmt.Errorf("probe keys: %w", err), nil)
	}
	seen := map[string]bool{}
	var ids []string
	for _, id := range cand.owners {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
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
			if customer.ErrorCode(err) == customer.EMOVED {
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

// placeholderRows takes an import's placeholder emails and phones off its
// rows: the field is dropped with a warning, and a row left without any
// identifier becomes an error (not imported), as when reading.
type placeholderRows struct {
	keys     map[dedupe.Key]bool
	columns  customer.Columns
	problems []chunkProblem
	invalid  int // rows that became errors
	warnings int // change of the rows-with-warnings count
}

func newPlaceholderRows(ps []Placeholder, columns customer.Columns) *placeholderRows {
	p := &placeholderRows{keys: map[dedupe.Key]bool{}, columns: columns}
	for _, k := range ps {
		p.keys[dedupe.Key{Kind: k.Kind, Value: k.Value}] = true
	}
	return p
}

// placeholders are the keys taken off rows (nil p: none).
func (p *placeholderRows) placeholders() map[dedupe.Key]bool {
	if p == nil {
		return nil
	}
	return p.keys
}

// drop edits rows in place and returns those still importable.
func (p *placeholderRows) drop(rows []customer.ImportRow) []customer.ImportRow {
	keep := rows[:0]
	for i := range rows {
		r := rows[i]
		type placeholderID struct{ field, value string }
		var dropped []placeholderID
		if r.EmailKey != "" && p.keys[dedupe.Key{Kind: dedupe.KindEmail, Value: r.EmailKey}] {
			dropped = append(dropped, placeholderID{"email", r.Email})
			r.Email, r.EmailKey = "", ""
		}
		if r.PhoneKey != "" && p.keys[dedupe.Key{Kind: dedupe.KindPhone, Value: r.PhoneKey}] {
			dropped = append(dropped, placeholderID{"phone", r.Phone})
			r.Phone, r.PhoneKey, r.PhoneValid, r.PhoneExt = "", "", false, ""
		}
		if len(dropped) == 0 {
			keep = append(keep, r)
			continue
		}
		seq := chunkProblemSeq
		if !hasIdentifier(&r) {
			p.problems = append(p.problems, chunkProblem{row: r.Num, seq: seq, severity: customer.SeverityError,
				column: p.columns.Of(dropped[0].field), reason: fmt.Sprintf("no email, phone or external id besides a placeholder %q", dropped[0].value)})
			p.invalid++
			if r.Record.Warned {
				p.warnings--
			}
			continue
		}
		for _, d := range dropped {
			p.problems = append(p.problems, chunkProblem{row: r.Num, seq: seq, severity: customer.SeverityWarning,
				column: p.columns.Of(d.field), reason: fmt.Sprintf("%s shared by more than %d different people in this file: "+
					"treated as a placeholder, not imported %q", d.field, PlaceholderShare, d.value)})
			seq++
		}
		if !r.Record.Warned {
			p.warnings++
		}
		keep = append(keep, r)
	}
	return keep
}
