package postgres

import (
	"context"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestSearchProbeBackendCPU (a measurement, skipped without
// LINKIT_BENCH_SEARCH_URL): the backend CPU of a rare term's page
// statement with the whole term for the trigram index against the part
// probePart picks, alternated on one connection, for terms shaped as the
// benchmark's rare ones (three letters and three digits of an email):
// those probePart shortens, or all with LINKIT_BENCH_SEARCH_ALL.
func TestSearchProbeBackendCPU(t *testing.T) {
	url, org := os.Getenv("LINKIT_BENCH_SEARCH_URL"), os.Getenv("LINKIT_BENCH_SEARCH_ORG")
	if url == "" {
		t.Skip("LINKIT_BENCH_SEARCH_URL not set")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pid int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	cpu := func() int {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
		u, _ := strconv.Atoi(f[11])
		s, _ := strconv.Atoi(f[12])
		return (u + s) * 10_000 // µs at 100 ticks a second
	}
	rows, err := conn.Query(ctx, sqlSearchSample, org, searchWalkRows, searchSampleEvery)
	if err != nil {
		t.Fatal(err)
	}
	texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	st := newSampleTexts(texts)
	rows, err = conn.Query(ctx, `SELECT email FROM customers WHERE organization_id = $1 ORDER BY id LIMIT 80`, org)
	if err != nil {
		t.Fatal(err)
	}
	emails, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var terms, parts []string
	for _, e := range emails {
		local, _, _ := strings.Cut(e, "@")
		if i := strings.IndexAny(local, "0123456789"); i >= 3 && i+3 <= len(local) {
			term := local[i-3 : i+3]
			if p := st.probePart(term); p != "" || os.Getenv("LINKIT_BENCH_SEARCH_ALL") != "" {
				terms, parts = append(terms, term), append(parts, p)
			}
		}
	}
	where := "c.organization_id = $1 AND c.merged_into IS NULL"
	q := buildSearchTexts(where, 2, customerOrders["-created"], true)
	run := func(part bool) int {
		start := cpu()
		for range 10 {
			for i, term := range terms {
				query, args := q.probe, []any{org, likePattern(term), 21, 0}
				if part && parts[i] != "" {
					query, args = q.probePart, append(args, likePattern(parts[i]))
				}
				b := &pgx.Batch{}
				b.Queue(probePlan)
				b.Queue(query, args...)
				if err := conn.SendBatch(ctx, b).Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
		return (cpu() - start) / (10 * len(terms))
	}
	run(false)
	run(true)
	var whole, part []int
	for range 6 {
		whole = append(whole, run(false))
		part = append(part, run(true))
	}
	n := 0
	for _, p := range parts {
		if p != "" {
			n++
		}
	}
	sort.Ints(whole)
	sort.Ints(part)
	t.Logf("%d terms, %d probed by a part; backend µs a page statement (with its plan settings), whole term %v, part %v", len(terms), n, whole, part)
}
