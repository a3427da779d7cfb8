// Search samples: which plan a search term wants, told from the organization's newest customers kept in memory.

package postgres

import (
	"context"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// A sample is every searchSampleEvery-th search_text of an organization's
// searchWalkRows newest customers (the rows a first walk reads), refreshed
// when older than searchSampleTTL, for at most searchSampleOrgs
// organizations per process (about 70 KB each).
const (
	searchSampleEvery = 3
	searchSampleTTL   = 30 * time.Second
	searchSampleOrgs  = 256
)

// searchSamples holds the samples of the organizations searched lately.
type searchSamples struct {
	mu   sync.Mutex
	orgs map[string]*searchSample
}

type searchSample struct {
	texts   *sampleTexts
	rows    int // estimated customers of the organization
	loaded  time.Time
	loading bool
}

// get returns an organization's sample and its estimated number of
// customers (0: not loaded yet; a stale sample answers while a fresh one
// loads).
func (s *searchSamples) get(db *Store, orgID string) (texts *sampleTexts, rows int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.orgs == nil {
		s.orgs = map[string]*searchSample{}
	}
	sm := s.orgs[orgID]
	if sm == nil {
		if len(s.orgs) >= searchSampleOrgs {
			s.evictOldest()
		}
		sm = &searchSample{}
		s.orgs[orgID] = sm
	}
	if !sm.loading && time.Since(sm.loaded) > searchSampleTTL {
		sm.loading = true
		go s.load(db, orgID, sm)
	}
	return sm.texts, sm.rows
}

// sampleMatches is what an organization's sample says of a term: how many
// of its texts contain it, of how many.
type sampleMatches struct {
	matches, size int
}

// sampleTexts are a sample's texts (lower case, as search_text) with, for
// each, a 256-bit mask of the byte pairs it holds (hashed): a term's pairs
// rule out most texts without reading them. One scan of the whole sample
// per search cost ~40 µs, 8% of a search's Go time (issue 24).
type sampleTexts struct {
	joined string  // the texts, each ended by a NUL (which no text holds)
	ends   []int32 // where each text's NUL is in joined
	masks  []pairMask
}

type pairMask [4]uint64

// pairsOf is the mask of the byte pairs of s.
func pairsOf(s string) pairMask {
	var m pairMask
	for i := 1; i < len(s); i++ {
		h := (uint(s[i-1])*31 + uint(s[i])) & 255
		m[h>>6] |= 1 << (h & 63)
	}
	return m
}

func newSampleTexts(texts []string) *sampleTexts {
	st := &sampleTexts{ends: make([]int32, len(texts)), masks: make([]pairMask, len(texts))}
	var b strings.Builder
	for i, t := range texts {
		b.WriteString(t)
		st.ends[i] = int32(b.Len())
		b.WriteByte(0)
		st.masks[i] = pairsOf(t)
	}
	st.joined = b.String()
	return st
}

// sampleOf counts the sample's texts (nil: none loaded) that contain term.
func sampleOf(st *sampleTexts, term string) sampleMatches {
	if st == nil {
		return sampleMatches{}
	}
	sm := sampleMatches{size: len(st.ends)}
	if strings.IndexByte(term, 0) >= 0 {
		return sm // no text holds it
	}
	want := pairsOf(term)
	start := 0
	for i, m := range st.masks {
		end := int(st.ends[i])
		if m[0]&want[0] == want[0] && m[1]&want[1] == want[1] && m[2]&want[2] == want[2] && m[3]&want[3] == want[3] &&
			strings.Contains(st.joined[start:end], term) {
			sm.matches++
		}
		start = end + 1
	}
	return sm
}

// full tells whether the sample covers a whole first walk: a small
// organization is read whole by the first walk (nothing to save), and
// without a sample the search walks first.
func (sm sampleMatches) full() bool { return sm.size*searchSampleEvery >= searchWalkRows }

// few tells whether the sample (nil: none loaded) holds an organization
// smaller than a first walk: fewer customers than searchWalkRows when it
// was taken.
func (st *sampleTexts) few() bool {
	return st != nil && len(st.ends)*searchSampleEvery < searchWalkRows
}

// density is the share of the walked rows likely to match.
func (sm sampleMatches) density() float64 {
	if sm.size == 0 {
		return 0
	}
	return float64(sm.matches) / float64(sm.size)
}

// withinWalk tells whether the first walk likely holds need matches
// (need: offset, page and one more).
func (sm sampleMatches) withinWalk(need int) bool { return sm.matches*searchSampleEvery >= need }

// rare tells, for a search in the newest-first order without other
// filters, whether the first walk would go in vain: the sample says the
// walk's rows hold fewer matches than the page needs and the
// organization's rows (rows) are few enough for the trigram index to
// fetch them all (the rule searchCustomers applies after a walk).
func (sm sampleMatches) rare(rows, need int) bool {
	return !sm.withinWalk(need) && sm.density()*float64(rows) <= 1.5*searchProbeCap
}

// evictOldest drops the sample loaded longest ago (s.mu held).
func (s *searchSamples) evictOldest() {
	oldest := ""
	for id, sm := range s.orgs {
		if !sm.loading && (oldest == "" || sm.loaded.Before(s.orgs[oldest].loaded)) {
			oldest = id
		}
	}
	delete(s.orgs, oldest)
}

// load reads an organization's sample and its estimated size in one round
// trip, apart from the request that found the sample missing or stale.
func (s *searchSamples) load(db *Store, orgID string, sm *searchSample) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var texts []string
	rows := 0
	b := &pgx.Batch{}
	b.Queue(sqlSearchSample, orgID, searchWalkRows, searchSampleEvery).Query(func(r pgx.Rows) error {
		var t string
		_, err := pgx.ForEachRow(r, []any{&t}, func() error {
			texts = append(texts, t)
			return nil
		})
		return err
	})
	b.Queue(`EXPLAIN (FORMAT JSON) SELECT 1 FROM customers c WHERE c.organization_id = $1 AND c.merged_into IS NULL`, orgID).
		QueryRow(func(row pgx.Row) error {
			var err error
			rows, err = planRows(row)
			return err
		})
	err := db.pool.SendBatch(ctx, b).Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	sm.loading = false
	if err != nil {
		// Without a sample searches walk first, as before: an
		// optimization only, retried after the TTL.
		sm.loaded = time.Now()
		return
	}
	sm.texts, sm.rows, sm.loaded = newSampleTexts(texts), rows, time.Now()
}

// sqlSearchSample reads every $3-th search_text of the $2 newest customers
// of organization $1, along the index of the newest-first order.
const sqlSearchSample = `SELECT search_text FROM (
		SELECT c.search_text, row_number() OVER (ORDER BY c.created DESC, c.id DESC) AS rn
		FROM customers c WHERE c.organization_id = $1 AND c.merged_into IS NULL
		ORDER BY c.created DESC, c.id DESC LIMIT $2) s
	WHERE s.rn % $3 = 1`

// SearchSampleLoaded says the organization's search sample is loaded (the
// first search starts loading it apart): what a caller timing searches,
// a test among them, waits for rather than for a fixed time.
func (s *Store) SearchSampleLoaded(orgID string) bool {
	s.samples.mu.Lock()
	defer s.samples.mu.Unlock()
	sm := s.samples.orgs[orgID]
	return sm != nil && !sm.loaded.IsZero() && !sm.loading
}

// probePart is the part of a term the trigram index is asked for when the
// term's first or last trigram filters little beyond the rest: term
// without its first character when at least a third of the sample's texts
// holding its second and third hold its first too (likewise its last), so
// the shorter part has about as few candidates. A common trigram ("ira",
// "ani" of a name) has long posting lists that the index reads whole for
// nothing (issue 24: ~40 of a rare term's ~75 index pages at 1.69M
// customers right after an import). "" keeps the whole term: fewer than 6
// characters (the part keeps at least three trigrams), characters the
// index does not fold into trigrams, or both ends filtering. The first
// character is tried first.
func (st *sampleTexts) probePart(term string) string {
	if st == nil || len(term) > 256 || utf8.RuneCountInString(term) < 6 || !allTrigramRunes(term) {
		return ""
	}
	r := []rune(term)
	n := len(r)
	if st.holdsMostly(string(r[1:3]), string(r[:3])) {
		return string(r[1:])
	}
	if st.holdsMostly(string(r[n-3:n-1]), string(r[n-3:])) {
		return string(r[:n-1])
	}
	return ""
}

// holdsMostly tells whether at least a third of the sample's texts holding
// pair hold trigram (which contains pair) too, and at least 5 hold pair
// (fewer tell nothing). One pass over the texts, stopped at the 64th
// holding pair: a share is told well enough by then, and a common pair's
// texts were most of the pass's time (~40 µs a rare search, issue 24).
func (st *sampleTexts) holdsMostly(pair, trigram string) bool {
	want := pairsOf(pair)
	k, m, start := 0, 0, 0
	for i, mask := range st.masks {
		if k == 64 {
			break
		}
		end := int(st.ends[i])
		if mask[0]&want[0] == want[0] && mask[1]&want[1] == want[1] && mask[2]&want[2] == want[2] && mask[3]&want[3] == want[3] {
			if text := st.joined[start:end]; strings.Contains(text, pair) {
				k++
				if strings.Contains(text, trigram) {
					m++
				}
			}
		}
		start = end + 1
	}
	return k >= 5 && 3*m >= k
}

// allTrigramRunes tells whether every character of term is one the
// trigram index keeps in its trigrams (see hasTrigram).
func allTrigramRunes(term string) bool {
	for _, r := range term {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(searchSeparators, r) {
			return false
		}
	}
	return true
}
