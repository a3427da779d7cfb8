// The search planner: a page of the customers matching a search term, by the trigram index or a walk along the sort order.

package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// Search plans (see searchCustomers): a first walk of searchWalkRows rows
// along the sort order settles the terms that more than 0.7% of the
// customers match; the trigram index serves terms with at most
// searchProbeCap candidates, whose totals are exact; a walk's total is an
// estimate, checked by a count only below searchEstimateAbove (see
// searchRun.total). A walk reads rows in the table's order of creation,
// pages at a time, for about a tenth of what a fetch by the trigram index
// costs (searchWalkCost): the cap sits where both plans cost about the
// same among two million customers.
const (
	searchWalkRows    = 3000
	searchProbeCap    = 3000
	searchCommonAbove = 4 * searchProbeCap
	searchCountBelow  = searchProbeCap / 2
	searchWalkCost    = 10
	// A walk that filled its page and estimates more matches than this
	// has, from the 20 or more it saw, more than searchProbeCap candidates
	// almost surely: its total stays an estimate without asking the
	// trigram index, whose posting lists cost a common term 15–25 ms at a
	// million customers (issue 24), more than the page itself.
	searchEstimateAbove = 2 * searchProbeCap
)

// customers_search (migration 00010) indexes the trigrams of
// translate(search_text, searchFold): the separators of search_text become
// letters of their own, so a term's trigrams span them ("a.sm" has the
// trigrams "aǁs" and "ǁsm" where pg_trgm alone, splitting words, would
// keep "a" and "sm" apart and look up every word starting with "sm").
const (
	searchSeparators = ` .@-_'`
	searchFold       = `' .@-_''', 'ǂǁʘǃǀʗ'`
)

// searchCustomers pages through the customers whose search_text contains
// a term. A LIKE '%term%' has two good plans and the planner cannot tell
// which one applies (it guesses about the same selectivity for "7345", 30
// matches, and "smith", 25,000): a rare term wants the trigram index, while
// walking the sort order's index would read the whole organization; a
// common term wants that walk, which fills a page after a few hundred rows,
// while the trigram index would hand it 25,000 matches to fetch and sort.
// So the plan is not left to the planner (planner settings local to a
// read-only transaction):
//
//  1. Walk the first searchWalkRows rows of the sort order (index scan
//     only, nothing sorted). A full page there is the page: the term is
//     common. In the search box's case (newest first, no other filter) an
//     in-memory sample of those rows (searchSamples) tells a term that
//     would not fill the page there first: the walk is skipped (it cost a
//     rare term more than the rest of its search, issue 24).
//  2. Otherwise fetch the matches with the trigram index (bitmap scan
//     only), at most searchProbeCap+1 of them, and sort the page out of
//     them: at most the cap, page and total are exact. (One round trip: a
//     count of the index's candidates first, see trigramCandidates, costs
//     another, which a rare term, the usual case here, does not need.)
//  3. More: walk the sort order to the end of the page.
//
// A walk's total is exact when it reached the last match; otherwise it is
// the density of matches along the walk times the planner's estimate of
// the rows passing the other filters, marked estimated, unless it may be
// small and a count is cheap (see searchRun.total). A term without three
// letters in a row has no trigram to look up and is only walked.
func (s *Store) searchCustomers(ctx context.Context, orgID string, f customer.Filter, term, order string) ([]*customer.Customer, customer.Page, error) {
	// An organization not known to have relations gets bare pages, which
	// tell whether it has any: then they are read apart, once.
	q := newSearchQueries(orgID, f, term, order, !s.relationOrgs.has(orgID))
	var list []*customer.Customer
	var page customer.Page
	// No transaction: each step is one batch, which PostgreSQL runs as one
	// implicit transaction (one Sync), so its plan's settings hold for its
	// queries and end with it; a common term costs one round trip, not three.
	r := &searchRun{q: q, db: s.pool, candidates: -1, baseRows: -1, density: -1}
	err := func() error {
		probe, walk := hasTrigram(term), true
		need := q.offset + f.Limit + 1
		part := "" // of the term, for the trigram index (sampleTexts.probePart)
		texts, rows := s.samples.get(s, orgID)
		if texts.few() {
			// A small organization (fewer customers than a first walk
			// reads, when its sample was taken): its matches are read
			// along its own rows, counted and sorted for the page in one
			// statement (q.whole; walked, should it have grown past the
			// cap since). The trigram index is one for all
			// organizations: a probe's posting lists, and the rows it
			// fetches and then filters out, are every organization's, so
			// a large one's customers made a small one's searches slow
			// (issue 24).
			r.small, probe, walk = true, true, false
			if rows > 0 && len(q.baseArgs) == 1 {
				r.baseRows = rows // no planner's estimate asked
			}
		} else if len(q.baseArgs) == 1 && order == customerOrders["-created"] {
			// The search box's case (newest first, no other filter): the
			// sample knows the organization's size and whether the term
			// is rare among the rows a first walk reads.
			if rows > 0 {
				r.baseRows = rows
			}
			if sm := sampleOf(texts, term); sm.full() {
				walk = !probe || !sm.rare(rows, need)
				if probe {
					part = texts.probePart(term)
				}
				if walk {
					// The walk's position comes from the sample, not from
					// numbering every walked row (the window function
					// cost a common term half its PostgreSQL time).
					r.density = sm.density()
					if probe && !sm.withinWalk(need) {
						// Neither the first walk nor the trigram index
						// (beyond its cap) would serve the page: walk on.
						walk, probe = false, false
					}
				}
			}
		}
		// 1. The first rows of the sort order, unless the term is rare there.
		if walk {
			lastRow, err := r.walk(ctx, &list, searchWalkRows)
			if err != nil {
				return err
			}
			if len(list) > f.Limit {
				page, err = r.total(ctx, len(list), lastRow)
				return err
			}
			// Few: probe unless the walk saw enough matches to make a
			// probe unlikely to stay within the cap (it would stop at the
			// cap, for nothing).
			seen := q.offset + len(list)
			likely := float64(seen) / float64(searchWalkRows) * float64(r.baseRows)
			probe = probe && (len(list) == 0 || likely <= 1.5*searchProbeCap)
		}
		// 2. Few: the matches by the trigram index (a small organization's
		// along its own rows), at most the cap of them.
		if probe {
			matches := 0
			query, args, plan, capped := q.probe, q.pageArgs, probePlan, q.capped
			switch {
			case r.small:
				query, plan, capped = q.whole, smallPlan, q.wholeCapped
			case part != "":
				// The same rows (the whole term's LIKE is applied): the
				// index reads fewer posting lists.
				query, args = q.probePart, append(q.pageArgs[:len(q.pageArgs):len(q.pageArgs)], likePattern(part))
			}
			err := r.run(ctx, plan, func(b *pgx.Batch) {
				b.Queue(query, args...).Query(func(rows pgx.Rows) error {
					var err error
					list, err = r.scanPage(rows, &matches)
					return err
				})
			})
			if err == nil && len(list) == 0 && q.offset > 0 {
				// A page past the end says nothing of the matches: count them.
				matches, err = r.count(ctx, plan, capped)
			}
			if err != nil || matches <= searchProbeCap { // else more: walk
				page = customer.Page{Total: matches, HasMore: len(list) > f.Limit}
				return err
			}
		}
		// 3. Many: the sort order to the end of the page, numbering its
		// rows unless the sample sent the search here directly.
		if walk {
			r.density = -1
		}
		lastRow, err := r.walk(ctx, &list, 0)
		if err != nil {
			return err
		}
		page, err = r.total(ctx, len(list), lastRow)
		return err
	}()
	if err == nil && q.bare && r.some {
		s.relationOrgs.saw(orgID)
		err = s.loadRelations(ctx, orgID, list)
	}
	if err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("search customers: %w", err), nil)
	}
	return list, page, nil
}

// Planner settings of the two plans: the trigram index's bitmap scan and
// sorting its matches, or a walk along the sort order's index. JIT is off:
// a disabled plan node costs 10^10, which the JIT takes for a huge query
// and compiles for 0.5–1.8 s (issue 24) to run a few milliseconds of work.
// Plans are generic: the settings fix their shape, and PostgreSQL kept
// planning the probe anew for every term (custom plans), which cost about
// as much as running it. Each statement's text runs under one plan's
// settings only, so the plan a connection caches for it is that plan's.
const (
	probePlan = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true),
		set_config('enable_indexonlyscan', 'off', true), set_config('enable_bitmapscan', 'on', true),
		set_config('enable_sort', 'on', true), set_config('jit', 'off', true),
		set_config('plan_cache_mode', 'force_generic_plan', true)`
	walkPlan = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'on', true),
		set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true),
		set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)`
	walkPlanSerial = walkPlan + `, set_config('max_parallel_workers_per_gather', '0', true)`
	// smallPlan reads a small organization's rows along an index of its
	// own (no bitmap of the shared trigram index) and sorts its matches.
	smallPlan = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'on', true),
		set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'on', true),
		set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true),
		set_config('max_parallel_workers_per_gather', '0', true)`
)

// searchQueries are the SQL texts and arguments of one search.
type searchQueries struct {
	f              customer.Filter
	term, pattern  string
	where          string
	baseArgs, args []any // the filters' arguments; then the pattern
	pageArgs       []any // then the limit (one more row) and offset
	offset         int
	bare           bool // pages carry pageRelationsGuard, not their relations
	*searchTexts
}

func newSearchQueries(orgID string, f customer.Filter, term, order string, bare bool) *searchQueries {
	q := &searchQueries{f: f, term: term, pattern: likePattern(term), offset: (f.Page - 1) * f.Limit, bare: bare}
	q.where, q.baseArgs = customerWhere(orgID, f)
	q.args = append(q.baseArgs[:len(q.baseArgs):len(q.baseArgs)], q.pattern)
	q.pageArgs = append(q.args[:len(q.args):len(q.args)], f.Limit+1, q.offset)
	key := q.where + "\x00" + order + "\x00" + strconv.FormatBool(bare)
	if t, ok := searchTextsByShape.Load(key); ok {
		q.searchTexts = t.(*searchTexts)
	} else {
		q.searchTexts = buildSearchTexts(q.where, len(q.args), order, bare)
		searchTextsByShape.Store(key, q.searchTexts)
	}
	return q
}

// batcher sends a batch: the pool, each batch on a connection of its own.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// searchRun is one search's transaction and what it learned so far.
type searchRun struct {
	q          *searchQueries
	db         batcher
	candidates int // of the trigram index; -1 unknown
	counted    bool
	baseRows   int     // estimated rows passing the other filters; -1 unknown
	small      bool    // the organization is smaller than a first walk: walked and counted whole
	density    float64 // of matches along the walk, from the sample; -1 unknown
	some       bool    // a bare page said the organization has relations
}

// run sends a plan's settings and the queries queue adds in one round trip.
func (r *searchRun) run(ctx context.Context, plan string, queue func(b *pgx.Batch)) error {
	b := &pgx.Batch{}
	b.Queue(plan)
	queue(b)
	return r.db.SendBatch(ctx, b).Close()
}

// count counts query's rows with plan's settings.
func (r *searchRun) count(ctx context.Context, plan, query string) (n int, err error) {
	err = r.run(ctx, plan, func(b *pgx.Batch) {
		b.Queue(`SELECT count(*) FROM (`+query+`) c`, r.q.args...).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
	})
	return n, err
}

// walk reads the page along the sort order, at most rows rows (0: all),
// and returns the number of the last row it read; the first walk also
// asks the planner how many rows pass the other filters.
func (r *searchRun) walk(ctx context.Context, list *[]*customer.Customer, rows int) (lastRow int, err error) {
	query := r.q.walk(rows, r.density >= 0)
	err = r.run(ctx, walkPlan, func(b *pgx.Batch) {
		b.Queue(query, r.q.pageArgs...).Query(func(rows pgx.Rows) error {
			var err error
			*list, err = r.scanPage(rows, &lastRow)
			return err
		})
		if r.baseRows < 0 {
			b.Queue(`EXPLAIN (FORMAT JSON) SELECT 1 FROM customers c WHERE `+r.q.where, r.q.baseArgs...).QueryRow(func(row pgx.Row) error {
				var err error
				r.baseRows, err = planRows(row)
				return err
			})
		}
	})
	if err == nil && r.density >= 0 {
		lastRow = r.sampledRow(len(*list), rows)
	}
	return lastRow, err
}

// sampledRow is where a sample-guided walk (at most rows rows, 0: all)
// that fetched rows after the offset likely found its last one: as far
// as the sample's density says, at least as far as the rows it found.
func (r *searchRun) sampledRow(fetched, rows int) int {
	found := r.q.offset + fetched
	at := rows
	if r.density > 0 {
		at = int(float64(found) / r.density)
		if rows > 0 {
			at = min(at, rows)
		}
	}
	return max(at, found, 1)
}

// walkCountPlan is the plan of a count along the sort order: a small
// organization's without parallel workers, which a generic plan (sized
// for an organization of average size) asked for, and whose start cost
// ~20 ms against the ~1 ms of counting a few thousand rows.
func (r *searchRun) walkCountPlan() string {
	if r.small {
		return walkPlanSerial
	}
	return walkPlan
}

// countCandidates counts the trigram index's candidates, once.
func (r *searchRun) countCandidates(ctx context.Context) error {
	if r.counted || !hasTrigram(r.q.term) {
		return nil
	}
	r.counted = true
	return r.run(ctx, probePlan, func(b *pgx.Batch) {
		b.Queue(`EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, FORMAT JSON)
			SELECT 1 FROM customers c WHERE `+searchIndexed("$1")+` LIMIT 1`, r.q.pattern).QueryRow(func(row pgx.Row) error {
			var err error
			r.candidates, err = trigramCandidates(row)
			return err
		})
	})
}

// total is the page of a walk that fetched rows (one more than the limit
// when there are more) after the offset, the last at row lastRow of the
// walk. Past the last match the total is known. Before, it is estimated
// from the density of matches along the walk, and counted (up to the cap)
// when the estimate does not rule out an exact total and counting is cheap:
//   - at most searchProbeCap candidates: counted, the total is exact;
//   - an estimate below searchCountBelow (the other filters cut a common
//     term down): counted by the trigram index if it has at most
//     searchCommonAbove candidates, along the sort order if the term has
//     no trigram and the organization is small.
func (r *searchRun) total(ctx context.Context, fetched, lastRow int) (customer.Page, error) {
	limit, offset := r.q.f.Limit, r.q.offset
	switch {
	case fetched > 0 && fetched <= limit, fetched == 0 && offset == 0:
		return customer.Page{Total: offset + fetched}, nil
	case fetched == 0:
		// Past the end: the walk read every row; a count reads them again.
		n, err := r.count(ctx, r.walkCountPlan(), r.q.counts)
		return customer.Page{Total: n}, err
	}
	if r.small {
		n, err := r.count(ctx, r.walkCountPlan(), r.q.counts)
		return customer.Page{Total: max(n, offset+fetched), HasMore: true}, err
	}
	est := max(int(float64(offset+fetched)/float64(lastRow)*float64(r.baseRows)), offset+fetched)
	page := customer.Page{Total: est, HasMore: true, Estimated: true}
	if est >= searchEstimateAbove && offset+fetched > 20 && !r.counted { // 20 seen: a fair sample
		return page, nil
	}
	if err := r.countCandidates(ctx); err != nil {
		return page, err
	}
	if r.candidates >= 0 {
		page.Total = max(min(est, r.candidates), offset+fetched)
	}
	plan, counts := probePlan, r.q.counts+` AND `+r.q.indexed // the probe plan counts by the trigram index
	switch k := r.candidates; {
	case k >= 0 && k <= searchProbeCap:
	case k >= 0 && k <= searchCommonAbove && est < searchCountBelow:
	case k < 0 && !hasTrigram(r.q.term) && est < searchCountBelow && r.baseRows <= searchCommonAbove*searchWalkCost:
		plan, counts = walkPlan, r.q.counts
	default:
		return page, nil
	}
	n, err := r.count(ctx, plan, counts+` LIMIT `+strconv.Itoa(searchProbeCap+1))
	if err != nil || n > searchProbeCap {
		page.Total = max(page.Total, searchProbeCap+1)
		return page, err
	}
	return customer.Page{Total: n, HasMore: true}, nil
}

// trigramCandidates reads how many rows the trigram index customers_search
// proposed in an EXPLAIN ANALYZE of a bitmap scan for the term stopped
// after one row: the bitmap holds every candidate before the table is
// read, and counting them costs the index lookup only. -1 when the plan
// did not use the index.
func trigramCandidates(row pgx.Row) (int, error) {
	type node struct {
		Type  string  `json:"Node Type"`
		Index string  `json:"Index Name"`
		Rows  float64 `json:"Actual Rows"`
		Plans []node  `json:"Plans"`
	}
	var plan []struct {
		Plan node `json:"Plan"`
	}
	if err := row.Scan(&plan); err != nil {
		return 0, err
	}
	var find func(n node) int
	find = func(n node) int {
		if n.Type == "Bitmap Index Scan" && n.Index == "customers_search" {
			return int(n.Rows)
		}
		for _, c := range n.Plans {
			if k := find(c); k >= 0 {
				return k
			}
		}
		return -1
	}
	if len(plan) == 0 {
		return -1, nil
	}
	return find(plan[0].Plan), nil
}

// hasTrigram tells whether the trigram index can look term up: whether it
// has three word characters in a row, separators the index folds included.
func hasTrigram(term string) bool {
	run := 0
	for _, r := range term {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(searchSeparators, r) {
			if run++; run == 3 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// scanPage reads a page of the search's queries (see scanRows).
func (r *searchRun) scanPage(rows pgx.Rows, lead *int) ([]*customer.Customer, error) {
	list, some, err := scanRows(rows, lead, r.q.bare)
	r.some = r.some || some
	return list, err
}

// scanCustomers reads customer rows led by one integer column into lead
// (the last row's value stays; nil: no such column) and followed by their
// relationColumns.
func scanCustomers(rows pgx.Rows, lead *int) ([]*customer.Customer, error) {
	list, _, err := scanRows(rows, lead, false)
	return list, err
}

// scanRows is scanCustomers, or, bare, of rows followed by
// pageRelationsGuard instead of their relations: some is its value.
// A row's destinations go in one slice for the page (not two allocated a
// row: ~1 KB of a row's garbage, issue 24).
func scanRows(rows pgx.Rows, lead *int, bare bool) (list []*customer.Customer, some bool, err error) {
	rel := relations{bare: bare}
	dest := make([]any, 0, customerColumnCount+5)
	for rows.Next() {
		c := new(customer.Customer)
		var mergedInto *string
		dest = dest[:0]
		if lead != nil {
			dest = append(dest, lead)
		}
		dest = rel.dest(customerDest(dest, c, &mergedInto))
		c, err := scannedCustomer(c, mergedInto, rows.Scan(dest...))
		if err == nil {
			err = rel.attach(c)
		}
		if err != nil {
			return nil, false, err
		}
		some = some || rel.some
		list = append(list, c)
	}
	return list, some, rows.Err()
}

// searchTerm normalizes a search string: lower case, single spaces;
// phone-like input ("+1 (415) 555") searches by its digits.
func searchTerm(q string) string {
	q = strings.ToLower(strings.Join(strings.Fields(q), " "))
	if digits := dedupe.PhoneDigits(q); len(digits) >= 3 && strings.Trim(q, "0123456789+-(). ") == "" {
		q = digits
	}
	return q
}

// likePattern is the LIKE pattern over search_text that finds term.
func likePattern(term string) string {
	return "%" + likeEscapes.Replace(term) + "%"
}

var likeEscapes = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
