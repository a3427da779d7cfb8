package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
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
	// The plan's reads sort (or hash) every staged row: with the default
	// work_mem (4 MB) a million rows' email read was an external merge
	// through 128 MB of temporary files and the owner join's hash spilled
	// 250 MB. In memory, like a chunk's (sqlChunkWorkMem).
	sqlBeginPlanRead = `BEGIN READ ONLY; SET LOCAL work_mem = '256MB'`
	// A large import's owner join runs without nested loops: a hash join
	// reads the organization's identities once (1.4 s for a million rows
	// against 2M identities, 8 s as index probes), and the statistics that
	// would steer the planner there may be stale.
	sqlBeginNoNestLoop = sqlBeginPlanRead + `; SET LOCAL enable_nestloop = off`
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
	return s.chunkRows(), cmp.Or(s.opts.ChunkBytes, DefaultChunkBytes)
}

// DefaultFatRowBytes is the size from which a staged row weighs in the plan
// (spreadGroups). Lighter rows add at most a chunk's rows times this to its
// customers, whatever moves in.
const DefaultFatRowBytes = 4 << 10

func (s *Store) fatRowBytes() int { return cmp.Or(s.opts.FatRowBytes, DefaultFatRowBytes) }

func (s *Store) chunkRows() int {
	if s.opts.ChunkRows > 0 {
		return s.opts.ChunkRows
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
		every := s.opts.PlanHeartbeat
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
	var kind customer.ImportKind
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
	if kind == customer.ImportOrders {
		share = 0
	}
	shared, err := s.sharedKeySet(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var emails, phones, sharedEmails, sharedPhones []Placeholder
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		emails, err = s.unionRuns(gctx, uf, &mu, runRead{query: sqlRowsByEmail, kind: dedupe.KindEmail, share: share,
			shared: shared.of(dedupe.KindEmail), sharedFound: &sharedEmails}, orgID, importID)
		return err
	})
	g.Go(func() error {
		var err error
		phones, err = s.unionRuns(gctx, uf, &mu, runRead{query: sqlRowsByPhone, kind: dedupe.KindPhone, share: share,
			shared: shared.of(dedupe.KindPhone), sharedFound: &sharedPhones}, orgID, importID)
		return err
	})
	reads := []string{sqlRowsByExternal}
	if kind == customer.ImportOrders {
		// Only order rows have an order number (a customer import's read
		// was a scan of all its staged rows that found none).
		reads = append(reads, sqlRowsByOrder)
	}
	for _, q := range reads {
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
	// Shared keys join no rows either: their carriers are strangers.
	_, err = s.unionRuns(ctx, uf, &mu, owners, orgID, importID,
		keys(slices.Concat(emails, sharedEmails)), keys(slices.Concat(phones, sharedPhones)))
	return uf, err
}

const sqlOrgSharedKeys = `SELECT kind, value FROM shared_identifiers WHERE organization_id = $1`

// sharedKeys tells the plan which keys are shared: listed, or blocklisted.
type sharedKeys struct {
	listed map[dedupe.Key]bool
	block  *dedupe.Blocklist
}

// sharedKeySet reads an organization's shared keys for a plan.
func (s *Store) sharedKeySet(ctx context.Context, orgID string) (*sharedKeys, error) {
	st, err := s.OrganizationSettings(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	sk := &sharedKeys{listed: map[dedupe.Key]bool{},
		block: dedupe.NewBlocklist(slices.Concat(st.Blocklist.Emails, st.Blocklist.Phones))}
	rows, err := s.pool.Query(ctx, sqlOrgSharedKeys, orgID)
	if err != nil {
		return nil, interpretError(fmt.Errorf("plan: shared keys: %w", err), nil)
	}
	var k dedupe.Key
	_, err = pgx.ForEachRow(rows, []any{&k.Kind, &k.Value}, func() error {
		sk.listed[k] = true
		return nil
	})
	return sk, interpretError(err, nil)
}

// of is the test of one kind's keys.
func (sk *sharedKeys) of(kind string) func(string) bool {
	return func(v string) bool {
		if sk.listed[dedupe.Key{Kind: kind, Value: v}] || sk.block.Blocks(kind, v) {
			return true
		}
		return kind == dedupe.KindPhone && sk.block.Blocks(kind, "+"+v)
	}
}

// runRead is one of the plan's reads: rows sorted by a key.
type runRead struct {
	query string
	kind  string // the key's kind, when placeholders are detected
	share int    // > 0: a run whose rows carry more other keys is a placeholder
	mark  bitset // rows returned are marked here (if set)
	// noNestLoop runs the query in a transaction that forbids nested loops.
	noNestLoop bool
	// shared tells shared keys, whose runs join nothing: found lists them.
	shared      func(key string) bool
	sharedFound *[]Placeholder
}

// unionRuns joins the rows of each run of equal keys the query returns, in
// batches under mu. A run whose rows carry more than rd.share different
// other keys is a placeholder: returned, and its rows not joined by it.
func (s *Store) unionRuns(ctx context.Context, uf *unionFind, mu *sync.Mutex, rd runRead, orgID, importID string, args ...any) ([]Placeholder, error) {
	begin := sqlBeginPlanRead
	if rd.noNestLoop {
		begin = sqlBeginNoNestLoop
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: begin})
	if err != nil {
		return nil, interpretError(fmt.Errorf("plan: %w", err), nil)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // read only: nothing to commit
	rows, err := tx.Query(ctx, rd.query, append([]any{orgID, importID}, args...)...)
	if err != nil {
		return nil, interpretError(fmt.Errorf("plan: %w", err), nil)
	}
	var found []Placeholder
	var key, other, runKey string
	var row, runFirst int32
	started, placeholder, runShared := false, false, false
	byName := map[string]int32{}       // a shared key's run: first row of each name
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
			runShared = rd.shared != nil && rd.shared(key)
			clear(byName)
			if runShared {
				*rd.sharedFound = append(*rd.sharedFound, Placeholder{Kind: rd.kind, Value: key})
			}
		}
		if runShared {
			// Joined only with rows of the same name: the one person
			// among its carriers the chunk must see in file order.
			_, name, _ := strings.Cut(other, "|")
			if first, ok := byName[name]; ok && name != "" {
				emit(first, row)
			} else {
				byName[name] = row
				emit(row, row)
			}
			return nil
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
