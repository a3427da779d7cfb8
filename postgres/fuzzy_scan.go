package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/dedupe"
)

const (
	// A scan covers the customers waiting when it writes its keys: their
	// rows are noted then and deleted once the pairs are written (a crash
	// before leaves them waiting); rows queued later stay for the
	// incremental scorer.
	sqlFuzzyPendingIDs  = `SELECT coalesce(array_agg(id), '{}') FROM suggest_pending WHERE organization_id = $1`
	sqlFuzzyDropPending = `WITH d AS (DELETE FROM suggest_pending WHERE organization_id = $1 AND id = ANY($2)
		RETURNING cardinality(customer_ids) AS n) SELECT coalesce(sum(n), 0) FROM d`
	// After a scan's writes: the GIN index's pending list merged (an
	// incremental lookup would scan it), the statistics fresh.
	sqlFuzzyTidy = `SELECT gin_clean_pending_list('fuzzy_keys_keys'::regclass); ANALYZE fuzzy_keys`
	sqlFuzzyNow  = `SELECT clock_timestamp()`
	// One round trip (simple protocol: no parameters).
	sqlFuzzyPlanSettings = `SET LOCAL work_mem = '128MB'; SET LOCAL jit = off`
	// A random sample of the organization's records: random pairs of them
	// are (nearly all) different people, which is what u measures.
	sqlFuzzySample = sqlFuzzyRecordsAll + ` ORDER BY random() LIMIT $2`

	// sqlFuzzyTrainBlocks groups the organization's live customers by a
	// training rule's key (%s, of customers c and default addresses a),
	// blocks as large as the blocking rules allow ($2).
	sqlFuzzyTrainBlocks = `SELECT array_agg(c.id) AS ids
		FROM customers c
		LEFT JOIN customer_addresses a ON a.organization_id = c.organization_id AND a.customer_id = c.id AND a.is_default
		WHERE c.organization_id = $1 AND c.merged_into IS NULL AND (%[1]s) IS NOT NULL
		GROUP BY %[1]s HAVING count(*) BETWEEN 2 AND $2`
	// sqlFuzzyTrainCount counts a training rule's pairs.
	sqlFuzzyTrainCount = `SELECT coalesce(sum(cardinality(ids)::bigint * (cardinality(ids) - 1) / 2), 0)
		FROM (` + sqlFuzzyTrainBlocks + `) b`
	// sqlFuzzyTrainPairs streams a sample of a training rule's pairs (those
	// whose ids hash to 0 modulo $3, at most $4) with both records.
	sqlFuzzyTrainPairs = `WITH blocks AS (` + sqlFuzzyTrainBlocks + `), pairs AS (
			SELECT a, b FROM blocks, unnest(ids) a, unnest(ids) b
			WHERE a < b AND ($3 = 1 OR abs(hashtext(a || b)) %% $3 = 0) LIMIT $4
		), rec AS (` + sqlFuzzyRecordsAll + `)
		SELECT ra.*, rb.* FROM pairs p JOIN rec ra ON ra.id = p.a JOIN rec rb ON rb.id = p.b`

	// sqlFuzzyRecordsAll reads what dedupe.FuzzyRecord compares.
	sqlFuzzyRecordsAll = `SELECT c.id, c.first_name, c.last_name, c.name, coalesce(to_char(c.birthdate, 'YYYY-MM-DD'), ''),
		coalesce(a.address_line1, ''), coalesce(a.city, ''), coalesce(a.postal_code, ''), c.email, c.phone, c.company_name
		FROM customers c
		LEFT JOIN customer_addresses a ON a.organization_id = c.organization_id AND a.customer_id = c.id AND a.is_default
		WHERE c.organization_id = $1 AND c.merged_into IS NULL`

	// Open fuzzy pairs the scan did not confirm (a customer changed since)
	// leave the queue.
	sqlFuzzyDropStale = `DELETE FROM duplicate_suggestions WHERE organization_id = $1 AND source = 'fuzzy'
		AND status = 'open' AND updated < $2`
	sqlFuzzyCountLive = `SELECT count(*) FROM customers WHERE organization_id = $1 AND merged_into IS NULL`

	// fuzzyWriteBatch is how many suggested pairs one statement writes.
	fuzzyWriteBatch = 2000
)

// FuzzyScanOptions tune a scan; the zero value is the defaults.
type FuzzyScanOptions struct {
	MinScore    float64 // dedupe.DefaultMinScore when 0
	SamplePairs int     // pairs the model is estimated on, about (default 200,000)
	RandomPairs int     // random pairs u is estimated on (default 100,000)
	// KeepModel scores with the organization's current model (the one the
	// incremental scorer uses: estimated by the last scan, or the priors)
	// instead of estimating a new one: a scan standing in for the
	// incremental scorer then suggests exactly what it would.
	KeepModel bool
	// MemoryBudget bounds one pass's records and blocks, in bytes (0: the
	// store's Options.FuzzyScanMemory, else DefaultFuzzyScanMemory); an
	// organization above it is scanned in several passes, finding the same
	// pairs.
	MemoryBudget int64
	// Progress, when set, is called as each pass's pairs start to be
	// compared for scoring (pass from 0).
	Progress func(pass, passes int)
	// Yield, when set, is called after each of the scan's long PostgreSQL
	// statements (a batch of keys, a pass's records) with the time it
	// took, and may wait before the next: the scan's backend runs at the
	// priority of any other, and interactive requests come first
	// (worker: while an API process is busy). An error ends the scan.
	Yield func(ctx context.Context, spent time.Duration) error
	// KeysBatch is how many customers one statement of keys covers (0:
	// fuzzyKeysBatch).
	KeysBatch int
}

// FuzzyScanResult is a scan's outcome: the job's result.
type FuzzyScanResult struct {
	Customers      int `json:"customers"`
	CandidatePairs int `json:"candidate_pairs"`
	Suggested      int `json:"suggested"`
	Removed        int `json:"removed"`
	// PendingCleared is how many waiting customers (suggest_pending) the
	// scan covered and took off the incremental scorer's list.
	PendingCleared int     `json:"pending_cleared"`
	MinScore       float64 `json:"min_score"`
	Lambda         float64 `json:"model_lambda"`
	Seconds        float64 `json:"seconds"`
	// Where the time went: waiting for the organization, writing the keys,
	// reading the records, estimating the model, scoring the pairs.
	LockSeconds     float64 `json:"lock_seconds"`
	KeysSeconds     float64 `json:"keys_seconds"`
	RecordsSeconds  float64 `json:"records_seconds"` // and the blocks
	EstimateSeconds float64 `json:"estimate_seconds"`
	ScoreSeconds    float64 `json:"score_seconds"`
	PairsPerSecond  float64 `json:"pairs_per_second"`
	// Passes is how many parts the blocks were read in (the memory budget).
	Passes int `json:"passes"`
	// YieldSeconds is how long the scan waited for interactive requests
	// (FuzzyScanOptions.Yield), counted in the phases it interrupted.
	YieldSeconds float64 `json:"yield_seconds"`
}

// ScanFuzzy rescans a whole organization: rewrites every blocking key,
// estimates the model from the organization's own data (u from random
// pairs, m and lambda by EM over a sample of the candidate pairs), then
// passes every candidate pair through the model and writes those scoring
// at least the minimum. Memory is one pass's records and blocks (within
// the memory budget: fuzzy_blocks.go) and a few batches of pairs.
func (s *Store) ScanFuzzy(ctx context.Context, orgID string, opts FuzzyScanOptions) (*FuzzyScanResult, error) {
	start := time.Now()
	if opts.MinScore <= 0 {
		opts.MinScore = dedupe.DefaultMinScore
	}
	if opts.SamplePairs <= 0 {
		opts.SamplePairs = 200000
	}
	if opts.RandomPairs <= 0 {
		opts.RandomPairs = 100000
	}
	// Incremental batches wait while a scan runs: it covers what they would
	// do. A second scan of the organization waits for this one.
	ctx, release, err := s.takeFuzzyLease(ctx, orgID)
	if err != nil {
		return nil, err
	}
	defer release()
	res, err := s.scanFuzzy(ctx, orgID, opts, start)
	if errors.Is(context.Cause(ctx), ErrFuzzyLeaseLost) {
		return nil, ErrFuzzyLeaseLost
	}
	return res, err
}

// scanFuzzy is ScanFuzzy's work, once the scan holds the organization.
func (s *Store) scanFuzzy(ctx context.Context, orgID string, opts FuzzyScanOptions, start time.Time) (*FuzzyScanResult, error) {
	res := &FuzzyScanResult{MinScore: opts.MinScore}
	phase := start // the wait for the lease is LockSeconds
	lap := func(d *float64) {
		*d = time.Since(phase).Seconds()
		phase = time.Now()
	}
	lap(&res.LockSeconds)
	var began time.Time
	if err := s.pool.QueryRow(ctx, sqlFuzzyNow).Scan(&began); err != nil {
		return nil, interpretError(err, nil)
	}
	yield := func(spent time.Duration) error {
		if opts.Yield == nil {
			return nil
		}
		t := time.Now()
		err := opts.Yield(ctx, spent)
		res.YieldSeconds += time.Since(t).Seconds()
		return err
	}
	var pending []int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Before the keys: a row seen here has its customer's change
		// visible to the keys and records read after.
		if err := tx.QueryRow(ctx, sqlFuzzyPendingIDs, orgID).Scan(&pending); err != nil {
			return fmt.Errorf("pending rows: %w", err)
		}
		if _, err := tx.Exec(ctx, sqlFuzzyDropKeys, orgID); err != nil {
			return fmt.Errorf("reset fuzzy keys: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, interpretError(err, nil)
	}
	if err := writeFuzzyKeys(ctx, s.pool, orgID, cmp.Or(opts.KeysBatch, fuzzyKeysBatch), yield); err != nil {
		return nil, interpretError(err, nil)
	}
	if err := s.pool.QueryRow(ctx, sqlFuzzyCountLive, orgID).Scan(&res.Customers); err != nil {
		return nil, interpretError(err, nil)
	}
	if _, err := s.pool.Exec(ctx, sqlFuzzyTidy); err != nil {
		return nil, interpretError(fmt.Errorf("analyze fuzzy keys: %w", err), nil)
	}
	lap(&res.KeysSeconds)
	budget := cmp.Or(opts.MemoryBudget, s.opts.FuzzyScanMemory, DefaultFuzzyScanMemory)
	sc := &fuzzyScanner{s: s, orgID: orgID, workers: s.fuzzyWorkers(), nice: s.fuzzyNice(), yield: yield}
	if sc.plan, err = s.planFuzzyPasses(ctx, orgID, budget); err != nil {
		return nil, interpretError(err, nil)
	}
	res.Passes = len(sc.plan.passes)
	lap(&res.RecordsSeconds)
	var model *dedupe.FuzzyModel
	if opts.KeepModel {
		if model, err = fuzzyModel(ctx, s.pool, orgID); err != nil {
			return nil, interpretError(err, nil)
		}
	} else {
		if model, err = s.estimateFuzzyModel(ctx, orgID, res.Customers, sc, opts); err != nil {
			return nil, err
		}
		raw, err := json.Marshal(model)
		if err != nil {
			return nil, fmt.Errorf("encode fuzzy model: %w", err)
		}
		if _, err := s.pool.Exec(ctx, sqlFuzzySaveModel, orgID, raw); err != nil {
			return nil, interpretError(fmt.Errorf("save fuzzy model: %w", err), nil)
		}
	}
	lap(&res.EstimateSeconds)
	res.Lambda = model.Lambda
	// Each comparing goroutine writes its own batches: a pair comes once
	// from the stream, so two writers never hold the same row.
	writers := make([]*pairWriter, sc.workers)
	compared := make([]int, len(writers))
	for i := range writers {
		writers[i] = &pairWriter{orgID: orgID}
	}
	sc.progress = opts.Progress
	weights := model.Weights()
	err = sc.each(ctx, 1, func(i int, a, b *dedupe.FuzzyRecord) error {
		compared[i]++
		c := dedupe.Compare(dedupe.Prepare(a), dedupe.Prepare(b))
		if score := weights.Score(c); score >= opts.MinScore {
			w := writers[i]
			// The ids are views of the pass's arena, which the next pass
			// overwrites: the batch keeps copies.
			w.add(FuzzyPair{A: strings.Clone(a.ID), B: strings.Clone(b.ID), Score: score, Reasons: model.Reasons(c)})
			if len(w.a) >= fuzzyWriteBatch {
				return w.flush(ctx, s.pool)
			}
		}
		return nil
	})
	for i, w := range writers {
		if err == nil {
			err = w.flush(ctx, s.pool)
		}
		res.Suggested += w.written
		res.CandidatePairs += compared[i]
	}
	if err != nil {
		return nil, interpretError(err, nil)
	}
	lap(&res.ScoreSeconds)
	// The passes' reads count as records, not as the phase they served.
	res.RecordsSeconds += sc.loadSeconds
	res.EstimateSeconds -= sc.estimateLoads
	res.ScoreSeconds -= sc.loadSeconds - sc.estimateLoads
	tag, err := s.pool.Exec(ctx, sqlFuzzyDropStale, orgID, began)
	if err != nil {
		return nil, interpretError(fmt.Errorf("drop stale fuzzy pairs: %w", err), nil)
	}
	res.Removed = int(tag.RowsAffected())
	if err := s.pool.QueryRow(ctx, sqlFuzzyDropPending, orgID, pending).Scan(&res.PendingCleared); err != nil {
		return nil, interpretError(fmt.Errorf("clear pending: %w", err), nil)
	}
	res.Seconds = time.Since(start).Seconds()
	if res.Seconds > 0 {
		res.PairsPerSecond = float64(res.CandidatePairs) / res.Seconds
	}
	return res, nil
}

// fuzzyTrainingKeys are the training rules' keys (dedupe.TrainOn…), of
// customers c and their default addresses a.
var fuzzyTrainingKeys = []struct {
	rule dedupe.TrainingRule
	key  string
}{
	{dedupe.TrainOnBirthdate, `c.birthdate`},
	{dedupe.TrainOnNames, `NULLIF(dmetaphone(lower(CASE WHEN c.first_name || c.last_name = ''
		THEN split_part(btrim(c.name), ' ', 1) ELSE c.first_name END)), '') || '|' ||
		NULLIF(dmetaphone(lower(CASE WHEN c.first_name || c.last_name = ''
		THEN substring(btrim(c.name) FROM '\s(\S+)$') ELSE c.last_name END)), '')`},
}

// estimateFuzzyModel fits the organization's model (dedupe.EstimateFuzzyModel):
// u from random pairs of a random sample of its records, m from a sample of
// each training rule's pairs, lambda from a sample of the candidate pairs
// (each counted by pattern: memory is per pattern, not pair).
func (s *Store) estimateFuzzyModel(ctx context.Context, orgID string, customers int, sc *fuzzyScanner, opts FuzzyScanOptions) (*dedupe.FuzzyModel, error) {
	rows, err := s.pool.Query(ctx, sqlFuzzySample, orgID, 2000)
	if err != nil {
		return nil, interpretError(fmt.Errorf("fuzzy sample: %w", err), nil)
	}
	var sample []dedupe.PreparedRecord
	var r dedupe.FuzzyRecord
	_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.First, &r.Last, &r.Name, &r.Birthdate, &r.Street, &r.City,
		&r.Postcode, &r.Email, &r.Phone, &r.Company}, func() error {
		sample = append(sample, dedupe.Prepare(&r))
		return nil
	})
	if err != nil {
		return nil, interpretError(fmt.Errorf("fuzzy sample: %w", err), nil)
	}
	in := dedupe.FuzzyEstimateInput{Random: dedupe.PatternCounts{}, Records: customers}
	if n := len(sample); n > 1 {
		rng := rand.New(rand.NewPCG(uint64(n), 20)) // fixed: a rescan of the same data estimates the same
		for range min(opts.RandomPairs, n*(n-1)/2) {
			i, j := rng.IntN(n), rng.IntN(n-1)
			if j >= i {
				j++
			}
			in.Random.Add(dedupe.Compare(sample[i], sample[j]).Pattern)
		}
	}
	for _, t := range fuzzyTrainingKeys {
		var pairs int64
		if err := s.pool.QueryRow(ctx, fmt.Sprintf(sqlFuzzyTrainCount, t.key), orgID, FuzzyBlockCap).Scan(&pairs); err != nil {
			return nil, interpretError(fmt.Errorf("fuzzy training pairs (%s): %w", t.rule.Name, err), nil)
		}
		tp := dedupe.TrainingPairs{Rule: t.rule, Counts: dedupe.PatternCounts{}}
		if pairs > 0 {
			mod := max(1, pairs/int64(max(1, opts.SamplePairs/2)))
			err := s.streamPairs(ctx, fmt.Sprintf(sqlFuzzyTrainPairs, t.key), []any{orgID, FuzzyBlockCap, mod, opts.SamplePairs},
				func(a, b *dedupe.FuzzyRecord) error {
					tp.Counts.Add(dedupe.Compare(dedupe.Prepare(a), dedupe.Prepare(b)).Pattern)
					return nil
				})
			if err != nil {
				return nil, interpretError(fmt.Errorf("fuzzy training pairs (%s): %w", t.rule.Name, err), nil)
			}
		}
		in.Training = append(in.Training, tp)
	}
	// About SamplePairs pairs: a customer has a handful of candidates.
	mod := max(1, customers*4/opts.SamplePairs)
	counts := make([]dedupe.PatternCounts, sc.workers)
	for i := range counts {
		counts[i] = dedupe.PatternCounts{}
	}
	err = sc.each(ctx, mod, func(i int, a, b *dedupe.FuzzyRecord) error {
		counts[i].Add(dedupe.Compare(dedupe.Prepare(a), dedupe.Prepare(b)).Pattern)
		return nil
	})
	sc.estimateLoads = sc.loadSeconds
	if err != nil {
		return nil, interpretError(err, nil)
	}
	in.Candidates, in.CandidateScale = counts[0], float64(mod)
	for _, c := range counts[1:] {
		for p, n := range c {
			in.Candidates[p] += n
		}
	}
	return dedupe.EstimateFuzzyModel(in), nil
}

// streamPairs runs a query of pairs (both records, as sqlFuzzyRecordsAll
// reads them) and calls fn for each.
func (s *Store) streamPairs(ctx context.Context, query string, args []any, fn func(a, b *dedupe.FuzzyRecord) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// The DISTINCT over every rule's pairs is a hash: let it stay in
		// memory. The planner overestimates the pairs (it cannot know blocks
		// are small) and JIT-compiled the query for seconds: it runs in less.
		if _, err := tx.Exec(ctx, sqlFuzzyPlanSettings); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		var a, b dedupe.FuzzyRecord
		_, err = pgx.ForEachRow(rows, []any{&a.ID, &a.First, &a.Last, &a.Name, &a.Birthdate, &a.Street, &a.City,
			&a.Postcode, &a.Email, &a.Phone, &a.Company, &b.ID, &b.First, &b.Last, &b.Name, &b.Birthdate, &b.Street,
			&b.City, &b.Postcode, &b.Email, &b.Phone, &b.Company}, func() error { return fn(&a, &b) })
		return err
	})
}
