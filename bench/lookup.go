package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/linkitworks/customers/client"
	"github.com/linkitworks/customers/postgres"
)

// customerColumns is the store's own column list, so the SQL baselines
// read exactly the data the API reads.
const customerColumns = postgres.CustomerColumns

const (
	baseLookup = `SELECT ` + customerColumns + ` FROM customer_identities i
		JOIN customers c ON c.organization_id = i.organization_id AND c.id = i.customer_id
		WHERE i.organization_id = $1 AND i.kind = $2 AND i.value = $3`
	baseSearch = `SELECT ` + customerColumns + ` FROM customers c
		WHERE c.organization_id = $1 AND c.merged_into IS NULL AND c.search_text LIKE $2
			AND translate(c.search_text, ' .@-_''', 'ǂǁʘǃǀʗ') LIKE translate($2, ' .@-_''', 'ǂǁʘǃǀʗ')
		ORDER BY c.created DESC, c.id DESC LIMIT 20`
	baseGet = `SELECT ` + customerColumns + ` FROM customers c WHERE c.organization_id = $1 AND c.id = $2`
)

// rowsOf runs a query and counts its rows, reading raw values without
// decoding them: the floor of what any reader pays.
func rowsOf(ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) (int, error) {
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	n := 0
	for rows.Next() {
		_ = rows.RawValues()
		n++
	}
	rows.Close()
	return n, rows.Err()
}

// likePattern is the search's LIKE pattern over search_text.
func likePattern(term string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(term)) + "%"
}

// lookupSuite measures reads over the loaded customers: lookup by email
// and by phone, list with search, get by id; against the equivalent SQL.
// As the search suite (after the import suite: "right after a 1M-row
// import", issue 24) it measures the searches only.
func lookupSuite(ctx context.Context, suite string, cfg config, st *stack, pool *pgxpool.Pool, g *gen, rep *report, logf func(string, ...any)) error {
	n := g.n
	// Sanity: the API finds a loaded customer every way we will ask.
	p := g.person(n / 2)
	rng := rand.New(rand.NewPCG(1, 2))
	// In this order: the phone and search draws come from rng.
	for _, c := range []struct {
		what string
		call func() error
	}{
		{"lookup by email", func() error {
			_, err := client.OK(st.api.LookupCustomerWithResponse(ctx, &client.LookupCustomerParams{Email: client.Ptr(strings.ToUpper(p.Email))}))
			return err
		}},
		{"lookup by phone", func() error {
			_, err := client.OK(st.api.LookupCustomerWithResponse(ctx, &client.LookupCustomerParams{Phone: client.Ptr(g.phoneVariant(p, rng))}))
			return err
		}},
		{"get", func() error {
			_, err := client.OK(st.api.GetCustomerWithResponse(ctx, p.ID))
			return err
		}},
		{"search", func() error {
			_, err := client.OK(st.api.ListCustomersWithResponse(ctx, &client.ListCustomersParams{Search: client.Ptr(searchTerm(p, rng))}))
			return err
		}},
		{"rare search", func() error {
			_, err := client.OK(st.api.ListCustomersWithResponse(ctx, &client.ListCustomersParams{Search: client.Ptr(rareTerm(p))}))
			return err
		}},
	} {
		if err := c.call(); err != nil {
			return fmt.Errorf("sanity check, %s of %s: %w", c.what, p.ID, err)
		}
	}

	smallKey, err := smallOrganization(ctx, cfg, pool, g)
	if err != nil {
		return err
	}
	rep.Baselines = append(rep.Baselines,
		"lookup by email/phone: the identity row by primary key joined to its customer, the API's columns, "+
			"raw rows (not decoded), keys normalized by the client; get by id: the customer by primary key, same way",
		"list with search: only the page query (search_text LIKE '%term%', with the folded trigram condition the index serves, ORDER BY created DESC, id DESC LIMIT 20), "+
			"without the capped count, the planner estimate or the relations (tags, groups, visits, aliases) the API adds")
	type workload struct {
		name      string
		api, base op
		target    func(c int, s stats) *target
	}
	lookupTarget := func(c int, s stats) *target {
		return &target{Text: "p99 < 5 ms", Pass: s.P99 < 5}
	}
	searchTarget := func(c int, s stats) *target {
		return &target{Text: "p99 < 50 ms", Pass: s.P99 < 50}
	}
	// The search box on every page (issue 24): p99 < 50 ms and p50 < 10 ms.
	boxTarget := func(c int, s stats) *target {
		return &target{Text: "p99 < 50 ms, p50 < 10 ms", Pass: s.P99 < 50 && s.P50 < 10}
	}
	workloads := []workload{
		{
			name: "lookup ?email= (mixed case)",
			api: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(n))
				return st.get(ctx, "/api/v1/customers/lookup?email="+url.QueryEscape(emailVariant(p.Email, rng))) == 200
			},
			base: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(n))
				_ = emailVariant(p.Email, rng) // same draws as the API side
				k, err := rowsOf(ctx, pool, baseLookup, g.orgID, "email", p.Email)
				return err == nil && k == 1
			},
			target: lookupTarget,
		},
		{
			name: "lookup ?phone= (varied formats)",
			api: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(n))
				return st.get(ctx, "/api/v1/customers/lookup?phone="+url.QueryEscape(g.phoneVariant(p, rng))) == 200
			},
			base: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(n))
				_ = g.phoneVariant(p, rng)
				k, err := rowsOf(ctx, pool, baseLookup, g.orgID, "phone", p.PhoneKey)
				return err == nil && k == 1
			},
			target: lookupTarget,
		},
		{
			name: "list ?search= (3–6 chars)",
			api: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(n))
				return st.get(ctx, "/api/v1/customers?search="+url.QueryEscape(searchTerm(p, rng))) == 200
			},
			base: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(n))
				_, err := rowsOf(ctx, pool, baseSearch, g.orgID, likePattern(searchTerm(p, rng)))
				return err == nil
			},
			target: searchTarget,
		},
		// Issue 24: what a search box sends, split by how many customers
		// match, so a page is not cheap only on average.
		{
			name: "list ?search= common (≥1%)",
			api: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(n))
				return st.get(ctx, "/api/v1/customers?search="+url.QueryEscape(commonTerm(p, rng))) == 200
			},
			base: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(n))
				_, err := rowsOf(ctx, pool, baseSearch, g.orgID, likePattern(commonTerm(p, rng)))
				return err == nil
			},
			target: boxTarget,
		},
		{
			name: "list ?search= rare (<0.01%)",
			api: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(n))
				return st.get(ctx, "/api/v1/customers?search="+url.QueryEscape(rareTerm(p))) == 200
			},
			base: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(n))
				_, err := rowsOf(ctx, pool, baseSearch, g.orgID, likePattern(rareTerm(p)))
				return err == nil
			},
			target: boxTarget,
		},
		// A small organization (2,000 customers, copies of the large one's
		// first) searching terms common in the large one: one trigram
		// index serves every organization (issue 24).
		{
			name: "list ?search= small org, common",
			api: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(smallCustomers))
				return st.getAs(ctx, smallKey, "/api/v1/customers?search="+url.QueryEscape(commonTerm(p, rng))) == 200
			},
			base: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(smallCustomers))
				_, err := rowsOf(ctx, pool, baseSearch, smallOrg, likePattern(commonTerm(p, rng)))
				return err == nil
			},
			target: boxTarget,
		},
		{
			name: "list ?search= small org, rare",
			api: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(smallCustomers))
				return st.getAs(ctx, smallKey, "/api/v1/customers?search="+url.QueryEscape(rareTerm(p))) == 200
			},
			base: func(ctx context.Context, rng *rand.Rand) bool {
				p := g.person(rng.IntN(smallCustomers))
				_, err := rowsOf(ctx, pool, baseSearch, smallOrg, likePattern(rareTerm(p)))
				return err == nil
			},
			target: boxTarget,
		},
		{
			name: "get /customers/{id}",
			api: func(ctx context.Context, rng *rand.Rand) bool {
				return st.get(ctx, "/api/v1/customers/"+g.customerID(rng.IntN(n))) == 200
			},
			base: func(ctx context.Context, rng *rand.Rand) bool {
				k, err := rowsOf(ctx, pool, baseGet, g.orgID, g.customerID(rng.IntN(n)))
				return err == nil && k == 1
			},
		},
	}
	w := window{warmup: cfg.warmup, duration: cfg.duration}
	if suite == "search" && cfg.searchCPUProfile != "" {
		// Separate API-only measurements after the suite, so the profile
		// holds no baseline: the common and the rare search.
		defer func() {
			stop, err := startProfile(cfg.searchCPUProfile)
			if err != nil {
				logf("search profile: %v", err)
				return
			}
			var rates []string
			for wi, wl := range workloads[3:5] {
				s := measure(ctx, 16, w, cfg.seed+80_000+uint64(wi), wl.api)
				rates = append(rates, fmt.Sprintf("%s %.0f req/s", wl.name, s.RPS))
			}
			stop()
			logf("search profiled c=16 (API only): %s → %s", strings.Join(rates, ", "), cfg.searchCPUProfile)
			rep.Notes = append(rep.Notes, fmt.Sprintf("CPU profile of separate 16-client API-only searches (%s): %s; "+
				"load-generator goroutines carry the label side=client", strings.Join(rates, ", "), cfg.searchCPUProfile))
		}()
	}
	for wi, wl := range workloads {
		if strings.HasPrefix(suite, "search") && !strings.HasPrefix(wl.name, "list ?search=") {
			continue
		}
		for _, c := range cfg.lookupClients {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			seed := cfg.seed + uint64(wi)*1000 + uint64(c)
			var api, base stats
			if suite == suiteDuringImport {
				// API only: SQL slices between would let the import run
				// as beside a quiet API (worker.DefaultImportYield).
				api = measure(ctx, c, w, seed, wl.api)
			} else {
				api, base = measurePair(ctx, c, w, seed, wl.api, wl.base)
			}
			r := newRow(suite, wl.name, c, api, base)
			if wl.target != nil {
				r.Target = wl.target(c, api)
			}
			logf("%s %-32s c=%-3d %s", suite, wl.name, c, r.brief())
			rep.Rows = append(rep.Rows, r)
			if api.Failed > 0 || base.Failed > 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s %q at %d clients: %d API and %d SQL requests failed",
					suite, wl.name, c, api.Failed, base.Failed))
			}
		}
	}
	return nil
}
