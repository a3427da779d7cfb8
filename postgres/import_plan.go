package postgres

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// DefaultChunkRows is the target number of rows per import chunk: large
// enough that set-based writes pay off, small enough that two workers share
// a file evenly.
const DefaultChunkRows = 4000

const (
	sqlPlannedChunks = `SELECT chunk FROM import_chunks WHERE organization_id = $1 AND import_id = $2 ORDER BY chunk`
	sqlMaxRow        = `SELECT coalesce(max(row_num), 0) FROM import_rows WHERE organization_id = $1 AND import_id = $2`
	// Rows sharing a key sort next to each other; so do rows whose keys an
	// existing customer owns.
	// Each read returns (key, row, other). For placeholders, other tells the
	// people apart: the row's phone key (email read) or email key (phone
	// read) with its name — the name too, or a dummy email beside the
	// store's phone would make each look like one person's.
	sqlRowsByEmail = `SELECT email_key, row_num, phone_key || '|' || ` + sqlRowName + `
		FROM import_rows WHERE organization_id = $1 AND import_id = $2 AND email_key <> '' ORDER BY 1`
	sqlRowsByPhone = `SELECT phone_key, row_num, email_key || '|' || ` + sqlRowName + `
		FROM import_rows WHERE organization_id = $1 AND import_id = $2 AND phone_key <> '' ORDER BY 1`
	sqlRowName        = `lower(concat_ws(' ', record->'f'->>'first_name', record->'f'->>'last_name', record->'f'->>'name'))`
	sqlRowsByExternal = `SELECT external_key, row_num, '' FROM import_rows WHERE organization_id = $1 AND import_id = $2 AND external_key <> '' ORDER BY 1`
	sqlRowsByOrder    = `SELECT order_key, row_num, '' FROM import_rows WHERE organization_id = $1 AND import_id = $2 AND order_key <> '' ORDER BY 1`
	// Placeholder keys ($3 emails, $4 phones) match no one.
	sqlRowsByOwner = `SELECT customer_id, row_num, '' FROM (
		SELECT i.customer_id, r.row_num FROM import_rows r JOIN customer_identities i
			ON i.organization_id = r.organization_id AND i.kind = 'email' AND i.value = r.email_key
			WHERE r.organization_id = $1 AND r.import_id = $2 AND r.email_key <> '' AND r.email_key <> ALL($3::text[])
		UNION ALL
		SELECT i.customer_id, r.row_num FROM import_rows r JOIN customer_identities i
			ON i.organization_id = r.organization_id AND i.kind = 'phone' AND i.value = r.phone_key
			WHERE r.organization_id = $1 AND r.import_id = $2 AND r.phone_key <> '' AND r.phone_key <> ALL($4::text[])
		UNION ALL
		SELECT i.customer_id, r.row_num FROM import_rows r JOIN customer_identities i
			ON i.organization_id = r.organization_id AND i.kind = 'external' AND i.value = r.external_key
			WHERE r.organization_id = $1 AND r.import_id = $2 AND r.external_key <> ''
		) owned ORDER BY 1`
	// The same for a small import: a probe of the identities' primary key
	// per staged key, whatever the statistics say (LIMIT keeps the lateral
	// subquery from being flattened into a join). As a join, with stale
	// statistics (a young organization, autovacuum behind) the planner chose
	// a nested loop over every identity of the organization for each staged
	// row: 34 s for 3,000 rows against 26,000 customers.
	sqlRowsByOwnerProbe = `SELECT customer_id, row_num, '' FROM (
		SELECT i.customer_id, r.row_num FROM import_rows r, LATERAL (SELECT customer_id FROM customer_identities
			WHERE organization_id = $1 AND kind = 'email' AND value = r.email_key LIMIT 1) i
			WHERE r.organization_id = $1 AND r.import_id = $2 AND r.email_key <> '' AND r.email_key <> ALL($3::text[])
		UNION ALL
		SELECT i.customer_id, r.row_num FROM import_rows r, LATERAL (SELECT customer_id FROM customer_identities
			WHERE organization_id = $1 AND kind = 'phone' AND value = r.phone_key LIMIT 1) i
			WHERE r.organization_id = $1 AND r.import_id = $2 AND r.phone_key <> '' AND r.phone_key <> ALL($4::text[])
		UNION ALL
		SELECT i.customer_id, r.row_num FROM import_rows r, LATERAL (SELECT customer_id FROM customer_identities
			WHERE organization_id = $1 AND kind = 'external' AND value = r.external_key LIMIT 1) i
			WHERE r.organization_id = $1 AND r.import_id = $2 AND r.external_key <> ''
		) owned ORDER BY 1`
	// A large import's owner join runs without nested loops: a hash join
	// reads the organization's identities once (1.4 s for a million rows
	// against 2M identities, 8 s as index probes), and the statistics that
	// would steer the planner there may be stale.
	sqlBeginNoNestLoop = `BEGIN READ ONLY; SET LOCAL enable_nestloop = off`
	sqlImportKind      = `SELECT kind FROM imports WHERE organization_id = $1 AND id = $2`
	sqlInsertChunks    = `INSERT INTO import_chunks (organization_id, import_id, chunk, rows)
		SELECT $1, $2, c, n FROM unnest($3::int[], $4::int[]) AS t(c, n)`
	sqlSetChunkCount = `UPDATE imports SET chunks = $3, owned_rows_planned = true, placeholders = $4, updated = now()
		WHERE organization_id = $1 AND id = $2`
	// Rows of many bytes (StageRows writes size_bytes only for them; a
	// partial index holds them).
	sqlFatRows = `SELECT row_num, size_bytes FROM import_rows
		WHERE organization_id = $1 AND import_id = $2 AND size_bytes IS NOT NULL`
	sqlLockImport  = `SELECT chunk_rows, chunk_starts FROM imports WHERE organization_id = $1 AND id = $2 FOR UPDATE`
	sqlAnalyzePlan = `ANALYZE import_row_moves, import_owned_rows`
)

// DefaultChunkBytes bounds the values of a natural chunk's rows (see
// importer's chunker): far above a typical chunk's (4,000 rows of a few
// hundred bytes), it only cuts files of fat rows.
const DefaultChunkBytes = 4 << 20

// ChunkLimits are the natural chunks' bounds new imports are staged with.
func (s *Store) ChunkLimits() (rows, bytes int) {
	return s.chunkRows(), cmp.Or(s.ChunkBytes, DefaultChunkBytes)
}

// DefaultFatRowBytes is the size from which a staged row weighs in the plan
// (spreadGroups). Lighter rows add at most a chunk's rows times this to its
// customers, whatever moves in.
const DefaultFatRowBytes = 4 << 10

func (s *Store) fatRowBytes() int { return cmp.Or(s.FatRowBytes, DefaultFatRowBytes) }

func (s *Store) chunkRows() int {
	if s.ChunkRows > 0 {
		return s.ChunkRows
	}
	return DefaultChunkRows
}

// DefaultPlanHeartbeat is how often a planner marks its import as alive:
// well within the reconciler's stall age (60 s).
const DefaultPlanHeartbeat = 10 * time.Second

// PlanImport groups the staged rows of an import into chunks so that rows
// which can affect each other — sharing an email, phone or external id,
// matching the same existing customer, or (order imports) belonging to the
// same order — land in the same chunk. Chunks are
// then independent: merging them in parallel gives the result of merging
// the file row by row. The grouping is a union-find over row numbers whose
// root is always a component's first row, so a component lives in the
// natural chunk of its first row and only later rows ever move. Planning
// twice returns the first plan.
func (s *Store) PlanImport(ctx context.Context, orgID, importID string) ([]int, error) {
	if chunks, err := plannedChunks(ctx, s.pool, orgID, importID); err != nil || len(chunks) > 0 {
		return chunks, err
	}
	// The reads hold no transaction: a planner waiting for pool connections
	// while holding one could starve another doing the same. Meanwhile the
	// import is touched, or the reconciler would think it stalled and start
	// a second planner (the reads of a 2 GB file take minutes).
	beat, stopBeat := context.WithCancel(ctx)
	go func() {
		every := s.PlanHeartbeat
		if every <= 0 {
			every = DefaultPlanHeartbeat
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-beat.Done():
				return
			case <-t.C:
				_ = s.TouchImport(beat, orgID, importID) // best effort
			}
		}
	}()
	uf, err := s.unionStagedRows(ctx, orgID, importID)
	var weights map[int32]int64
	if err == nil {
		weights, err = s.groupWeights(ctx, uf, orgID, importID)
	}
	stopBeat()
	if err != nil {
		return nil, err
	}
	var chunks []int
	wrote := false
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var chunkRows int
		var starts []int
		if err := tx.QueryRow(ctx, sqlLockImport, orgID, importID).Scan(&chunkRows, &starts); err != nil {
			return interpretError(err, customer.NotFound("Import", importID))
		}
		var err error
		if chunks, err = plannedChunks(ctx, tx, orgID, importID); err != nil || len(chunks) > 0 {
			return err // another planner was first
		}
		if chunkRows <= 0 {
			chunkRows = s.chunkRows() // staged before imports recorded it
		}
		// naturalChunk is the chunk a row was staged in (StageRows): the
		// last chunk starting at or before it.
		naturalChunk := func(row int) int {
			i, found := slices.BinarySearch(starts, row)
			if !found {
				i--
			}
			return i
		}
		if starts == nil { // staged before chunks were cut by bytes
			naturalChunk = func(row int) int { return row / chunkRows }
		}
		// A group lives in the natural chunk of its first row, unless its
		// fat rows would push that chunk past its bytes.
		groupChunk := naturalChunk
		if len(weights) > 0 {
			_, budget := s.ChunkLimits()
			// Extra chunks are numbered after every natural one (the
			// last natural chunks may hold only rows that were errors).
			first := max(naturalChunk(len(uf.parent)-1)+1, len(starts))
			spread := spreadGroups(weights, naturalChunk, first, int64(budget))
			groupChunk = func(root int) int {
				if c, ok := spread[int32(root)]; ok {
					return c
				}
				return naturalChunk(root)
			}
		}
		counts := map[int]int{}
		for r := range uf.parent {
			if uf.parent[r] >= 0 { // a staged row
				counts[groupChunk(int(uf.find(int32(r))))]++
			}
		}
		// Streamed from the union-find: a list of moves would grow with the file.
		moves := &moveSource{orgID: orgID, importID: importID, uf: uf, natural: naturalChunk, group: groupChunk, row: -1}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_row_moves"},
			[]string{"organization_id", "import_id", "row_num", "chunk"}, moves); err != nil {
			return interpretError(fmt.Errorf("copy moves: %w", err), nil)
		}
		owned := &ownedSource{orgID: orgID, importID: importID, owned: uf.owned, row: -1}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_owned_rows"},
			[]string{"organization_id", "import_id", "row_num"}, owned); err != nil {
			return interpretError(fmt.Errorf("copy owned rows: %w", err), nil)
		}
		ids, sizes := make([]int32, 0, len(counts)), make([]int32, 0, len(counts))
		for c, n := range counts {
			ids, sizes = append(ids, int32(c)), append(sizes, int32(n))
			chunks = append(chunks, c)
		}
		if _, err := tx.Exec(ctx, sqlInsertChunks, orgID, importID, ids, sizes); err != nil {
			return interpretError(fmt.Errorf("insert chunks: %w", err), nil)
		}
		_, err = tx.Exec(ctx, sqlSetChunkCount, orgID, importID, len(chunks), uf.placeholders)
		wrote = err == nil
		return interpretError(err, nil)
	})
	if wrote {
		// Chunks probe these tables once per row. Without statistics (a
		// small import: autovacuum analyzes them a minute later, if ever)
		// the planner took the moves' chunk index for the probe and read
		// all the import's moves for each row: 0.66 s instead of 0.05 s a
		// chunk for a 20,000-row file. Best effort, like sqlAnalyzeStaging.
		_, _ = s.pool.Exec(ctx, sqlAnalyzePlan)
	}
	return chunks, err
}

// groupWeights sums the bytes of each group's fat rows, by the group's
// first row. Ordinary files have none: the read finds nothing in its index.
func (s *Store) groupWeights(ctx context.Context, uf *unionFind, orgID, importID string) (map[int32]int64, error) {
	rows, err := s.pool.Query(ctx, sqlFatRows, orgID, importID)
	if err != nil {
		return nil, interpretError(fmt.Errorf("plan: %w", err), nil)
	}
	weights := map[int32]int64{}
	var row, size int32
	_, err = pgx.ForEachRow(rows, []any{&row, &size}, func() error {
		if int(row) < len(uf.parent) && uf.parent[row] >= 0 {
			weights[uf.find(row)] += int64(size)
		}
		return nil
	})
	return weights, interpretError(err, nil)
}

// spreadGroups bounds what a chunk's customers can hold. A natural chunk's
// own rows are bounded by bytes when staged, but its groups gather their
// later rows too: 4,000 small rows whose people each come back on a 100 KB
// row would put 4,000 fat customers in one chunk's memory. Taken in file
// order, a weighed group stays in its natural chunk while the chunk's
// weight stays within budget (or the group is the chunk's first); the
// others go to extra chunks numbered from first, filled the same way.
// Groups are independent, so where one is merged does not change the
// result. It returns the groups that move, by first row.
func spreadGroups(weights map[int32]int64, natural func(row int) int, first int, budget int64) map[int32]int {
	moved := map[int32]int{}
	load := map[int]int64{}
	extra := first
	for _, root := range slices.Sorted(maps.Keys(weights)) {
		w, c := weights[root], natural(int(root))
		if load[c] == 0 || load[c]+w <= budget {
			load[c] += w
			continue
		}
		if load[extra] > 0 && load[extra]+w > budget {
			extra++
		}
		load[extra] += w
		moved[root] = extra
	}
	return moved
}

// plannedChunks lists the chunks of an import's plan (none: not planned).
func plannedChunks(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, orgID, importID string) ([]int, error) {
	rows, err := q.Query(ctx, sqlPlannedChunks, orgID, importID)
	if err != nil {
		return nil, interpretError(err, nil)
	}
	chunks, err := pgx.CollectRows(rows, pgx.RowTo[int])
	return chunks, interpretError(err, nil)
}

// PlaceholderShare is how many different people the rows sharing one phone
// (email) may name — told apart by their email (phone) and name — before
// that phone (email) counts as a placeholder of the file:
// the store's own number typed on every walk-in, "none@none.com". It then
// matches no one. Without this limit such a column merges a whole file into
// one customer (one chunk holding every row in memory).
const PlaceholderShare = 20

// Placeholder is an email or phone key that PlanImport found on rows of
// more than PlaceholderShare different people.
type Placeholder struct {
	Kind  string `json:"kind"` // email | phone
	Value string `json:"value"`
}

// unionStagedRows builds the union-find of an import's staged rows. The
// reads are independent and each is one sort on one core: they run at once
// (the staged rows no longer change), except the owner join, which needs
// the placeholders the email and phone reads find.
func (s *Store) unionStagedRows(ctx context.Context, orgID, importID string) (*unionFind, error) {
	var maxRow int
	var kind string
	b := &pgx.Batch{}
	b.Queue(sqlMaxRow, orgID, importID).QueryRow(func(row pgx.Row) error { return row.Scan(&maxRow) })
	b.Queue(sqlImportKind, orgID, importID).QueryRow(func(row pgx.Row) error { return row.Scan(&kind) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpretError(err, customer.NotFound("Import", importID))
	}
	uf := newUnionFind(maxRow + 1)
	// Order imports are not checked: their chunks judge whole orders, and
	// dropping one line's identifier would need rules per order.
	share := PlaceholderShare
	if kind == KindOrders {
		share = 0
	}
	var mu sync.Mutex
	var emails, phones []Placeholder
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		emails, err = s.unionRuns(gctx, uf, &mu, runRead{query: sqlRowsByEmail, kind: dedupe.KindEmail, share: share}, orgID, importID)
		return err
	})
	g.Go(func() error {
		var err error
		phones, err = s.unionRuns(gctx, uf, &mu, runRead{query: sqlRowsByPhone, kind: dedupe.KindPhone, share: share}, orgID, importID)
		return err
	})
	for _, q := range []string{sqlRowsByExternal, sqlRowsByOrder} {
		g.Go(func() error {
			_, err := s.unionRuns(gctx, uf, &mu, runRead{query: q}, orgID, importID)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	uf.placeholders = append(append([]Placeholder{}, emails...), phones...)
	keys := func(ps []Placeholder) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.Value
		}
		return out
	}
	// Only the owner read marks rows (and is the only writer of owned).
	owners := runRead{query: sqlRowsByOwnerProbe, mark: uf.owned}
	if maxRow >= analyzeStagedRows {
		owners.query, owners.noNestLoop = sqlRowsByOwner, true
	}
	_, err := s.unionRuns(ctx, uf, &mu, owners, orgID, importID, keys(emails), keys(phones))
	return uf, err
}

// runRead is one of the plan's reads: rows sorted by a key.
type runRead struct {
	query string
	kind  string // the key's kind, when placeholders are detected
	share int    // > 0: a run whose rows carry more other keys is a placeholder
	mark  bitset // rows returned are marked here (if set)
	// noNestLoop runs the query in a transaction that forbids nested loops.
	noNestLoop bool
}

// unionRuns joins the rows of each run of equal keys the query returns, in
// batches under mu. A run whose rows carry more than rd.share different
// other keys is a placeholder: returned, and its rows not joined by it.
func (s *Store) unionRuns(ctx context.Context, uf *unionFind, mu *sync.Mutex, rd runRead, orgID, importID string, args ...any) ([]Placeholder, error) {
	var q interface {
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	} = s.pool
	if rd.noNestLoop {
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: sqlBeginNoNestLoop})
		if err != nil {
			return nil, interpretError(fmt.Errorf("plan: %w", err), nil)
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) // read only: nothing to commit
		q = tx
	}
	rows, err := q.Query(ctx, rd.query, append([]any{orgID, importID}, args...)...)
	if err != nil {
		return nil, interpretError(fmt.Errorf("plan: %w", err), nil)
	}
	var found []Placeholder
	var key, other, runKey string
	var row, runFirst int32
	started, placeholder := false, false
	var run []int32                    // rows of a run that may still turn out a placeholder
	others := map[string]bool{}        // that run's different other keys
	pairs := make([][2]int32, 0, 8192) // {first row of the run, row}
	flush := func() {
		mu.Lock()
		for _, p := range pairs {
			uf.add(p[1])
			if p[0] != p[1] {
				uf.union(p[0], p[1])
			}
		}
		mu.Unlock()
		pairs = pairs[:0]
	}
	emit := func(first, r int32) {
		if pairs = append(pairs, [2]int32{first, r}); len(pairs) == cap(pairs) {
			flush()
		}
	}
	endRun := func() {
		for _, r := range run {
			emit(runFirst, r)
		}
		run, placeholder = run[:0], false
		clear(others)
	}
	_, err = pgx.ForEachRow(rows, []any{&key, &row, &other}, func() error {
		if !started || key != runKey {
			endRun()
			started, runKey, runFirst = true, key, row
		}
		if rd.mark != nil {
			rd.mark.set(row)
		}
		switch {
		case rd.share == 0: // no placeholders: joined as read
			emit(runFirst, row)
		case placeholder: // staged, but not joined by this key
			emit(row, row)
		default:
			run = append(run, row)
			others[other] = true
			if len(others) > rd.share {
				placeholder = true
				found = append(found, Placeholder{Kind: rd.kind, Value: runKey})
				for _, r := range run {
					emit(r, r)
				}
				run = run[:0]
			}
		}
		return nil
	})
	endRun()
	flush()
	return found, interpretError(err, nil)
}

// moveSource yields (row, chunk) for every row whose group lives in
// another chunk than the row's natural one (after find has compressed the
// paths, each lookup is one or two steps).
type moveSource struct {
	orgID, importID string
	uf              *unionFind
	natural         func(row int) int  // the chunk a row was staged in
	group           func(root int) int // the chunk a group lives in
	row             int
	moveTo          int
	values          [4]any
}

func (m *moveSource) Next() bool {
	for m.row++; m.row < len(m.uf.parent); m.row++ {
		if m.uf.parent[m.row] < 0 {
			continue
		}
		if c := m.group(int(m.uf.find(int32(m.row)))); c != m.natural(m.row) {
			m.moveTo = c
			return true
		}
	}
	return false
}

func (m *moveSource) Values() ([]any, error) {
	m.values = [4]any{m.orgID, m.importID, int32(m.row), int32(m.moveTo)}
	return m.values[:], nil
}

func (m *moveSource) Err() error { return nil }

// ownedSource yields the rows an existing customer owned a key of.
type ownedSource struct {
	orgID, importID string
	owned           bitset
	row             int
	values          [3]any
}

func (o *ownedSource) Next() bool {
	for o.row++; o.row < 64*len(o.owned); o.row++ {
		if o.row%64 == 0 && o.owned[o.row/64] == 0 {
			o.row += 63 // a word without owned rows
			continue
		}
		if o.owned.has(int32(o.row)) {
			return true
		}
	}
	return false
}

func (o *ownedSource) Values() ([]any, error) {
	o.values = [3]any{o.orgID, o.importID, int32(o.row)}
	return o.values[:], nil
}

func (o *ownedSource) Err() error { return nil }

// unionFind over row numbers; the root of a set is its smallest member.
type unionFind struct {
	parent []int32 // -1: no such row
	owned  bitset  // rows matching an existing customer (sqlRowsByOwner)
	// placeholders found by the email and phone reads
	placeholders []Placeholder
}

// bitset of row numbers: one bit a row beside the union-find's four bytes.
type bitset []uint64

func newBitset(n int) bitset      { return make(bitset, (n+63)/64) }
func (b bitset) set(r int32)      { b[r/64] |= 1 << (r % 64) }
func (b bitset) has(r int32) bool { return b[r/64]&(1<<(r%64)) != 0 }

func newUnionFind(n int) *unionFind {
	p := make([]int32, n)
	for i := range p {
		p[i] = -1
	}
	return &unionFind{parent: p, owned: newBitset(n)}
}

func (u *unionFind) add(r int32) {
	if u.parent[r] < 0 {
		u.parent[r] = r
	}
}

func (u *unionFind) find(r int32) int32 {
	for u.parent[r] != r {
		u.parent[r] = u.parent[u.parent[r]] // path halving
		r = u.parent[r]
	}
	return r
}

func (u *unionFind) union(a, b int32) {
	ra, rb := u.find(a), u.find(b)
	switch {
	case ra < rb:
		u.parent[rb] = ra
	case rb < ra:
		u.parent[ra] = rb
	}
}

const (
	sqlPendingChunks = `SELECT chunk FROM import_chunks WHERE organization_id = $1 AND import_id = $2 AND NOT done ORDER BY chunk`
	// A locked import is being worked on (a planner writing its plan, a
	// minute for a 2 GB file): not stalled, and touching it would block the
	// reconciler until the plan commits.
	sqlStalledImports = `SELECT organization_id, id, status FROM imports
		WHERE status IN ('reading', 'processing') AND updated < $1 ORDER BY updated LIMIT 100
		FOR NO KEY UPDATE SKIP LOCKED`
	sqlTouchImport = `UPDATE imports SET updated = now() WHERE organization_id = $1 AND id = $2`
)

// PendingChunks lists the chunks of an import not merged yet.
func (s *Store) PendingChunks(ctx context.Context, orgID, importID string) ([]int, error) {
	rows, err := s.pool.Query(ctx, sqlPendingChunks, orgID, importID)
	if err != nil {
		return nil, interpretError(err, nil)
	}
	chunks, err := pgx.CollectRows(rows, pgx.RowTo[int])
	return chunks, interpretError(err, nil)
}

// StalledImport is an unfinished import without recent progress.
type StalledImport struct {
	OrgID, ID, Status string
}

// StalledImports lists unfinished imports not updated since before.
func (s *Store) StalledImports(ctx context.Context, before time.Time) ([]StalledImport, error) {
	rows, err := s.pool.Query(ctx, sqlStalledImports, before)
	if err != nil {
		return nil, interpretError(err, nil)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StalledImport, error) {
		var s StalledImport
		err := r.Scan(&s.OrgID, &s.ID, &s.Status)
		return s, err
	})
	return list, interpretError(err, nil)
}

// TouchImport marks progress so the reconciler leaves the import alone.
func (s *Store) TouchImport(ctx context.Context, orgID, importID string) error {
	_, err := s.pool.Exec(ctx, sqlTouchImport, orgID, importID)
	return interpretError(err, nil)
}

const (
	sqlUnpurgedImport = `SELECT organization_id, id FROM imports
		WHERE NOT staging_purged AND status IN ('completed', 'failed', 'cancelled') AND finished < $1
		ORDER BY finished LIMIT 1`
	sqlMarkPurged = `UPDATE imports SET staging_purged = true WHERE organization_id = $1 AND id = $2`
)

// sqlPurgeBatch deletes up to $3 of an import's rows from one of its
// staging tables (a constant name, never input).
func sqlPurgeBatch(table string) string {
	return `DELETE FROM ` + table + ` WHERE ctid = ANY(ARRAY(
		SELECT ctid FROM ` + table + ` WHERE organization_id = $1 AND import_id = $2 LIMIT $3))`
}

// PurgeImportStaging deletes up to limit staged rows of the import that
// finished first before the given time; an import left with none is marked
// purged. It returns how many rows it deleted. Batches keep each delete
// short beside the live traffic.
func (s *Store) PurgeImportStaging(ctx context.Context, finishedBefore time.Time, limit int) (int64, error) {
	var orgID, importID string
	err := s.pool.QueryRow(ctx, sqlUnpurgedImport, finishedBefore).Scan(&orgID, &importID)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, interpretError(fmt.Errorf("find finished import: %w", err), nil)
	}
	var n int64
	// import_rows last: the other two list its rows.
	for _, table := range []string{"import_row_moves", "import_owned_rows", "import_rows"} {
		tag, err := s.pool.Exec(ctx, sqlPurgeBatch(table), orgID, importID, limit)
		if err != nil {
			return n, interpretError(fmt.Errorf("purge staging of %s: %w", importID, err), nil)
		}
		if n += tag.RowsAffected(); tag.RowsAffected() == int64(limit) {
			return n, nil // more next time
		}
	}
	if _, err := s.pool.Exec(ctx, sqlMarkPurged, orgID, importID); err != nil {
		return n, interpretError(fmt.Errorf("mark %s purged: %w", importID, err), nil)
	}
	return n, nil
}
