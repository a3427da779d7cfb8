package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkitworks/customers/dedupe"
)

// Fuzzy duplicate candidates (SPEC §10.2): blocking keys and candidate
// pairs in SQL, comparison and scoring in Go (dedupe.Compare, FuzzyModel).
//
// Blocking rules, each a key per customer; two live customers of an
// organization sharing a key are a candidate pair (the union over rules):
//  1. family name's double metaphone + first initial + birth year
//  2. birthdate (a weak rule, below)
//  3. postcode + family name's metaphone
//  4. postcode + given name's metaphone
//  5. given and family names' metaphones, either order (swapped names)
//  6. the phone's last 8 digits
//  7. the email's local part (before "+" and "@")
//  8. house number + the street name's metaphone (weak)
//  9. birthdate + the two names' initials, either order
//  10. house number + the street name's metaphone + postcode
//
// A key shared by more than FuzzyBlockCap customers is skipped: it is too
// common to say anything ("John Smith"), and the other rules still apply.
// A weak rule's key is skipped beyond FuzzyWeakBlockCap: at a million
// customers about 40 share a birthdate and 75 a house number and street
// name across cities, and rules 2 and 8 made 58 of the 67 million candidate
// pairs (docs/benchmarks.md). Their narrower rules 9 and 10 take over from
// there (a typo keeps a name's initial, a swap the pair of initials); in a
// small organization, where the weak blocks are small, they add nothing.
//
// A key is a hash of the rule and the rule's key text, its low 4 bits
// replaced by the rule's number: the cap is the key's own.

// FuzzyBlockCap is the largest block a key may form.
const FuzzyBlockCap = 100

// FuzzyWeakBlockCap is the largest block a weak rule's key may form.
const FuzzyWeakBlockCap = 10

// fuzzyKeyCap is the largest block key may form.
func fuzzyKeyCap(key int64) int {
	if r := key & 15; r == 2 || r == 8 {
		return FuzzyWeakBlockCap
	}
	return FuzzyBlockCap
}

// sqlFuzzyKeyCapK is fuzzyKeyCap in SQL, of k.key.
const sqlFuzzyKeyCapK = `CASE WHEN k.key & 15 IN (2, 8) THEN 10 ELSE 100 END`

const (
	// sqlFuzzyRecords reads what dedupe.FuzzyRecord compares of the customers $2.
	sqlFuzzyRecords = sqlFuzzyRecordsAll + ` AND c.id = ANY($2)`

	// sqlFuzzyKeys writes the blocking keys of the organization's live
	// customers (%s: all, or those of $2). Each key is a hash of its rule
	// and text (low four bits: the rule) XORed with a hash of the
	// organization (low four bits clear): the keys' GIN index is one for
	// all organizations, and with keys shared across them a probe read
	// every organization's customers with that name or birthdate before
	// the organization filter (migration 00049 mixed the keys written
	// before). Within an organization the XOR is a bijection: the same blocks.
	sqlFuzzyKeys = `WITH rec AS (
		SELECT c.id, c.birthdate AS bd,
			NULLIF(lower(CASE WHEN c.first_name || c.last_name = '' THEN split_part(btrim(c.name), ' ', 1)
				ELSE c.first_name END), '') AS fn,
			NULLIF(lower(CASE WHEN c.first_name || c.last_name = '' THEN substring(btrim(c.name) FROM '\s(\S+)$')
				ELSE c.last_name END), '') AS ln,
			NULLIF(right(regexp_replace(c.phone, '\D', '', 'g'), 8), '') AS ph,
			NULLIF(lower(split_part(split_part(c.email, '@', 1), '+', 1)), '') AS em,
			NULLIF(lower(replace(a.postal_code, ' ', '')), '') AS pc,
			substring(a.address_line1 FROM '\d+') AS hn, substring(lower(a.address_line1) FROM '[a-z]{2,}') AS sn
		FROM customers c
		LEFT JOIN customer_addresses a ON a.organization_id = c.organization_id AND a.customer_id = c.id AND a.is_default
		WHERE c.organization_id = $1 AND c.merged_into IS NULL %s
	), ph AS (
		SELECT id, bd, ph, em, pc, hn || '|' || NULLIF(dmetaphone(sn), '') AS st,
			left(fn, 1) AS fi, coalesce(left(fn, 1), '') AS fi0, coalesce(left(ln, 1), '') AS li0,
			NULLIF(dmetaphone(fn), '') AS fm, NULLIF(dmetaphone(ln), '') AS lm
		FROM rec
	)
	INSERT INTO fuzzy_keys (organization_id, customer_id, keys)
	SELECT $1, ph.id, array_remove(ARRAY[
		((hashtextextended('1|' || lm || '|' || fi || '|' || extract(year FROM bd), 0) & -16) | 1) # m.mix,
		((hashtextextended('2|' || bd::text, 0) & -16) | 2) # m.mix,
		((hashtextextended('3|' || pc || '|' || lm, 0) & -16) | 3) # m.mix,
		((hashtextextended('4|' || pc || '|' || fm, 0) & -16) | 4) # m.mix,
		((hashtextextended('5|' || least(fm, lm) || '|' || greatest(fm, lm) || CASE WHEN fm IS NULL OR lm IS NULL THEN NULL ELSE '' END, 0) & -16) | 5) # m.mix,
		((hashtextextended('6|' || CASE WHEN length(ph) >= 7 THEN ph END, 0) & -16) | 6) # m.mix,
		((hashtextextended('7|' || em, 0) & -16) | 7) # m.mix,
		((hashtextextended('8|' || st, 0) & -16) | 8) # m.mix,
		((hashtextextended('9|' || bd::text || '|' || least(fi0, li0) || greatest(fi0, li0), 0) & -16) | 9) # m.mix,
		((hashtextextended('10|' || st || '|' || pc, 0) & -16) | 10) # m.mix], NULL)
	FROM ph, (SELECT hashtextextended($1, 0) & -16 AS mix) m
	ON CONFLICT (organization_id, customer_id) DO UPDATE SET keys = EXCLUDED.keys
		WHERE fuzzy_keys.keys IS DISTINCT FROM EXCLUDED.keys`

	// sqlFuzzyDropKeys forgets the keys of customers merged or deleted since.
	sqlFuzzyDropKeys = `DELETE FROM fuzzy_keys f WHERE f.organization_id = $1 AND NOT EXISTS (
		SELECT 1 FROM customers c WHERE c.organization_id = f.organization_id AND c.id = f.customer_id
			AND c.merged_into IS NULL)`

	// sqlFuzzyCandidates lists, for each key of the customers $2, the
	// customers sharing it; a key of more than its cap comes back with
	// cap+1 ids and is skipped by the caller. Each key is one probe of the
	// keys' GIN index, the organization checked on what it returns (OFFSET
	// 0 keeps that filter out of the probe): on fuzzy_keys without
	// statistics (a young organization, autovacuum off or behind) the
	// planner read every key row of the organization for each key instead.
	// The customers' own keys are read id by id (a join to the array, not
	// "customer_id = ANY($2)"): with that, at 108,000 keyed customers the
	// planner came to prefer reading all the organization's key rows and
	// filtering them, 66 ms instead of 6 a batch of 25 (issue 24).
	sqlFuzzyCandidates = `SELECT k.customer_id, k.key, o.ids FROM (
			SELECT f.customer_id, unnest(f.keys) AS key FROM unnest($2::text[]) AS b(id)
			JOIN fuzzy_keys f ON f.organization_id = $1 AND f.customer_id = b.id) k
		CROSS JOIN LATERAL (SELECT array_agg(x.customer_id) AS ids FROM (
			SELECT customer_id FROM (SELECT customer_id, organization_id FROM fuzzy_keys o WHERE o.keys @> ARRAY[k.key] OFFSET 0) o
			WHERE o.organization_id = $1 LIMIT ` + sqlFuzzyKeyCapK + ` + 1) x) o`
	// The incremental scorer's settings: no JIT for small statements, and
	// no sequential scan of fuzzy_keys for a key's probe (without
	// statistics the planner guesses the table small).
	sqlFuzzyScoreSettings = `SELECT set_config('jit', 'off', true), set_config('enable_seqscan', 'off', true)`
	// The keys just written are merged into the GIN index before they are
	// probed: every probe reads the whole pending list (fastupdate), which
	// an organization's incremental scoring grows up to 4 MB without
	// autovacuum — 5 ms a key at 13,000 customers' keys. Merging a
	// batch's few keys costs less than one such probe.
	sqlFuzzyFlushKeys = `SELECT gin_clean_pending_list('fuzzy_keys_keys'::regclass)`

	// A fuzzy pair is (re)scored only while open: a dismissed or merged pair
	// is never reopened, and pairs the engine recorded keep their reasons.
	sqlFuzzyWritePairs = `INSERT INTO duplicate_suggestions (organization_id, customer_a, customer_b, reasons, score, source)
		SELECT $1, u.a, u.b, string_to_array(u.r, '|'), u.s, 'fuzzy'
		FROM unnest($2::text[], $3::text[], $4::text[], $5::real[]) AS u(a, b, r, s)
		ON CONFLICT (organization_id, customer_a, customer_b) DO UPDATE
			SET score = EXCLUDED.score, reasons = EXCLUDED.reasons, updated = now()
			WHERE duplicate_suggestions.status = 'open' AND duplicate_suggestions.source = 'fuzzy'`
	sqlFuzzyModel     = `SELECT model FROM fuzzy_models WHERE organization_id = $1`
	sqlFuzzySaveModel = `INSERT INTO fuzzy_models (organization_id, model) VALUES ($1, $2)
		ON CONFLICT (organization_id) DO UPDATE SET model = EXCLUDED.model, estimated = now()`
)

// fuzzyLockKey is the transaction-level advisory lock of an organization's
// fuzzy scoring: incremental batches share it for their transaction; a scan
// takes it exclusively in the transaction that writes its lease
// (fuzzy_lease.go), to wait for the batches already running.
func fuzzyLockKey(orgID string) string { return "linkit:suggest:" + orgID }

// fuzzyModel is the organization's estimated model, or the default.
func fuzzyModel(ctx context.Context, q querier, orgID string) (*dedupe.FuzzyModel, error) {
	var raw []byte
	err := q.QueryRow(ctx, sqlFuzzyModel, orgID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return dedupe.DefaultFuzzyModel(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read fuzzy model: %w", err)
	}
	var m dedupe.FuzzyModel
	if json.Unmarshal(raw, &m) != nil {
		return dedupe.DefaultFuzzyModel(), nil
	}
	return m.OrDefault(), nil
}

// querier is what a pool, a connection and a transaction have in common.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// FuzzyPair is a scored candidate pair, customer A < customer B.
type FuzzyPair struct {
	A, B    string
	Score   float64
	Reasons []string
}

// pairWriter batches scored pairs into duplicate_suggestions.
type pairWriter struct {
	orgID   string
	a, b, r []string
	s       []float32
	written int
}

func (w *pairWriter) add(p FuzzyPair) {
	w.a, w.b = append(w.a, p.A), append(w.b, p.B)
	w.r = append(w.r, strings.Join(p.Reasons, "|"))
	w.s = append(w.s, float32(p.Score))
}

// flush writes the batch, sorted so that concurrent writers lock pairs in
// one order.
func (w *pairWriter) flush(ctx context.Context, q querier) error {
	if len(w.a) > 0 {
		idx := make([]int, len(w.a))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(i, j int) bool {
			x, y := idx[i], idx[j]
			return w.a[x] < w.a[y] || w.a[x] == w.a[y] && w.b[x] < w.b[y]
		})
		a, b, r, s := make([]string, len(idx)), make([]string, len(idx)), make([]string, len(idx)), make([]float32, len(idx))
		for i, k := range idx {
			a[i], b[i], r[i], s[i] = w.a[k], w.b[k], w.r[k], w.s[k]
		}
		if _, err := q.Exec(ctx, sqlFuzzyWritePairs, w.orgID, a, b, r, s); err != nil {
			return fmt.Errorf("write fuzzy pairs: %w", err)
		}
		w.written += len(a)
		w.a, w.b, w.r, w.s = w.a[:0], w.b[:0], w.r[:0], w.s[:0]
	}
	return nil
}

// fuzzyKeysBatch is how many customers one statement of a scan's keys
// covers: a few hundred ms of one backend, after which the scan may make
// way for interactive requests (FuzzyScanOptions.Yield). One statement
// for the whole organization held a core for a minute at 1.69M customers;
// batches of 20,000 took 0.5–5 s each on a saturated box, searches
// waiting behind each.
const fuzzyKeysBatch = 5000

const (
	// sqlFuzzyKeysUpTo is the last id of the next batch of the
	// organization's customers after $2 (along the primary key).
	sqlFuzzyKeysUpTo = `SELECT max(id) FROM (SELECT id FROM customers
		WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3) b`
	sqlFuzzyKeysRange = `AND c.id > $2 AND c.id <= $3`
)

// writeFuzzyKeys writes the keys of every live customer of the
// organization, batch customers a transaction, calling yield
// after each with the time its statements took. Keys are per customer:
// batches committed apart are what one statement would have written, and a
// scan that dies half-way leaves each customer's keys either as they were
// or rewritten (the next scan writes the rest).
func writeFuzzyKeys(ctx context.Context, conn *pgxpool.Pool, orgID string, batch int, yield func(time.Duration) error) error {
	keys := fmt.Sprintf(sqlFuzzyKeys, sqlFuzzyKeysRange)
	after := ""
	for {
		start := time.Now()
		var upTo *string
		if err := conn.QueryRow(ctx, sqlFuzzyKeysUpTo, orgID, after, batch).Scan(&upTo); err != nil {
			return fmt.Errorf("fuzzy keys batch: %w", err)
		}
		if upTo == nil {
			return nil
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sqlFuzzyPlanSettings); err != nil {
				return fmt.Errorf("fuzzy settings: %w", err)
			}
			if _, err := tx.Exec(ctx, keys, orgID, after, *upTo); err != nil {
				return fmt.Errorf("write fuzzy keys: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		after = *upTo
		if err := yield(time.Since(start)); err != nil {
			return err
		}
	}
}
