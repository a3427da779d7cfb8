// The search statements' texts, built once per shape of search.

package postgres

import (
	"strconv"
	"strings"
	"sync"
)

// searchTexts are a search's SQL texts, which depend on its shape only
// (filters, order, bare pages): built once per shape and kept, not per
// search (~20 KB of strings, 2% of a search's Go time, issue 24).
type searchTexts struct {
	like, indexed         string
	capped, probe, counts string
	// A small organization's matches, read along its own rows (no
	// trigram index), at most the cap of them, and its page out of them.
	wholeCapped, whole string
	// probe with the trigram index asked for a part of the term, the
	// parameter after the offset (see sampleTexts.probePart).
	probePart string
	// The walk numbered or guided by a sample: [0] the first walk
	// (searchWalkRows rows), [1] to the end.
	walks, walksSampled [2]string
}

// searchTextsByShape holds the searchTexts built so far (their number is
// bounded by the combinations of filters, orders and bareness).
var searchTextsByShape sync.Map

// walk is the text of the walk of at most rows rows (searchWalkRows or 0:
// to the end), numbered or sample-guided.
func (q *searchQueries) walk(rows int, sampled bool) string {
	i := 0
	if rows == 0 {
		i = 1
	}
	if sampled {
		return q.walksSampled[i]
	}
	return q.walks[i]
}

// buildSearchTexts builds the texts of a search whose filters are where,
// with nargs arguments (the pattern last).
func buildSearchTexts(where string, nargs int, order string, bare bool) *searchTexts {
	q := &searchTexts{}
	rel := pageRelationColumns
	if bare {
		rel = pageRelationsGuard
	}
	p := "$" + strconv.Itoa(nargs)
	q.like = "c.search_text LIKE " + p
	q.indexed = searchIndexed(p)
	limitOffset := " LIMIT $" + strconv.Itoa(nargs+1) + " OFFSET $" + strconv.Itoa(nargs+2)
	q.capped = `SELECT * FROM customers c WHERE ` + where + ` AND ` + q.indexed + ` AND ` + q.like +
		` LIMIT ` + strconv.Itoa(searchProbeCap+1)
	// The page's relations are read for its rows only, past the offset.
	probe := func(capped string) string {
		return `SELECT c.n, ` + customerColumns + `, ` + rel + ` FROM (
		SELECT count(*) OVER () AS n, c.* FROM (` + capped + `) c ORDER BY ` + order + limitOffset + `) c ORDER BY ` + order
	}
	q.probe = probe(q.capped)
	q.wholeCapped = `SELECT * FROM customers c WHERE ` + where + ` AND ` + q.like + ` LIMIT ` + strconv.Itoa(searchProbeCap+1)
	q.whole = probe(q.wholeCapped)
	q.probePart = probe(`SELECT * FROM customers c WHERE ` + where + ` AND ` + searchIndexed("$"+strconv.Itoa(nargs+3)) +
		` AND ` + q.like + ` LIMIT ` + strconv.Itoa(searchProbeCap+1))
	q.counts = `SELECT * FROM customers c WHERE ` + where + ` AND ` + q.like
	// The walk numbers the rows in the sort order before filtering by the
	// term: the filter cannot move below the window function (no plan can
	// use the trigram index) and the last row's number tells how far the
	// walk went. The outer order names the subquery's columns, so the
	// index's order carries through and nothing is sorted. The walk reads
	// only what it orders and filters by; the page's rows are then read by
	// primary key. (An index covering search_text, for an index-only walk,
	// saved nothing measurable at a million customers: the walk's heap
	// pages were few: the benchmark's rows lie in the order they were
	// created.)
	sortCols := "c.created"
	if strings.Contains(order, "lower(c.name)") {
		sortCols = "lower(c.name) AS sort_name"
	} else if strings.Contains(order, "c.updated") {
		sortCols = "c.updated"
	}
	// Guided by a sample (the newest-first order only), the walk does not
	// number its rows: it filters the sort order's index scan, whose rows
	// it already holds whole (search_text is their last column), so the
	// page is not read again by primary key (~10% of the walk's
	// PostgreSQL time, issue 24); relations only past the offset.
	walkSampled := func(rows int) string {
		inner := `SELECT * FROM customers c WHERE ` + where + ` ORDER BY ` + order
		if rows > 0 {
			inner += ` LIMIT ` + strconv.Itoa(rows)
		}
		matches := `SELECT c.* FROM (` + inner + `) c WHERE ` + q.like + ` ORDER BY ` + order + limitOffset
		return `SELECT 0, ` + customerColumns + `, ` + rel + ` FROM (` + matches + `) c ORDER BY ` + order
	}
	walk := func(rows int) string {
		inner := `SELECT c.id, ` + sortCols + `, c.search_text, row_number() OVER (ORDER BY ` + order + `) AS rn
			FROM customers c WHERE ` + where
		if rows > 0 {
			inner += ` ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(rows)
		}
		matches := `SELECT c.rn, c.id FROM (` + inner + `) c WHERE ` + q.like +
			` ORDER BY ` + strings.ReplaceAll(order, "lower(c.name)", "c.sort_name") + limitOffset
		return `SELECT w.rn, ` + customerColumns + `, ` + rel + ` FROM (` + matches + `) w
			JOIN customers c ON c.organization_id = $1 AND c.id = w.id ORDER BY w.rn`
	}
	q.walks = [2]string{walk(searchWalkRows), walk(0)}
	q.walksSampled = [2]string{walkSampled(searchWalkRows), walkSampled(0)}
	return q
}

// searchIndexed is the condition the trigram index customers_search
// serves: the term at placeholder p, both sides folded.
func searchIndexed(p string) string {
	return "translate(c.search_text, " + searchFold + ") LIKE translate(" + p + ", " + searchFold + ")"
}
