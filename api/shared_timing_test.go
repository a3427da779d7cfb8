package api_test

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSharedImportTiming times two 20,000-row imports (LINKIT_TIMING_ROWS), new people then the
// same people again (every 20th under another person's name), with the name
// check on and off. Opt-in, it measures rather than checks:
//
//	LINKIT_TIMING=1 go test ./api -run TestSharedImportTiming -v
func TestSharedImportTiming(t *testing.T) {
	if os.Getenv("LINKIT_TIMING") == "" {
		t.Skip("set LINKIT_TIMING=1 to time imports")
	}
	rows := 20000
	if n, err := strconv.Atoi(os.Getenv("LINKIT_TIMING_ROWS")); err == nil && n > 0 {
		rows = n
	}
	firsts := []string{"Ann", "Bob", "Carmen", "Dmitri", "Emeka", "Fatima", "Gustav", "Hiro", "Ines", "Jon", "Kwame", "Lena"}
	lasts := []string{"Lee", "Dylan", "Ortiz", "Ivanov", "Obi", "Zahra", "Berg", "Tanaka", "Silva", "Doe", "Mensah", "Weber", "Khan"}
	file := func(again bool) []byte {
		var b strings.Builder
		b.WriteString("first_name,last_name,email,phone\n")
		for i := range rows {
			first := firsts[i%len(firsts)]
			if again && i%20 == 0 {
				first = firsts[(i+5)%len(firsts)] // another person on the same identifiers
			}
			fmt.Fprintf(&b, "%s,%s,p%d@example.com,+1 415 %03d %04d\n", first, lasts[(i/len(firsts))%len(lasts)], i, 200+i/10000, i%10000)
		}
		return []byte(b.String())
	}
	first, second := file(false), file(true)
	for _, check := range []bool{true, false} {
		e := newQueueEnv(t, queueOpts{})
		if !check {
			e.do("PATCH", "/api/v1/settings", map[string]any{"name_check": false}).want(t, http.StatusOK)
		}
		start := time.Now()
		e.importCSV("/api/v1/imports?default_region=US", first)
		created := time.Since(start)
		start = time.Now()
		done := e.importCSV("/api/v1/imports?default_region=US", second)
		t.Logf("name_check=%v: %d new rows %v, %d matching rows %v; counts %v", check, rows, created.Round(time.Millisecond),
			rows, time.Since(start).Round(time.Millisecond), counts(done))
	}
}

// TestSharedUpsertTiming times sequential upserts, new people then the same
// people again under a nickname. Opt-in like TestSharedImportTiming:
//
//	LINKIT_TIMING=1 go test ./api -run TestSharedUpsertTiming -v
func TestSharedUpsertTiming(t *testing.T) {
	if os.Getenv("LINKIT_TIMING") == "" {
		t.Skip("set LINKIT_TIMING=1 to time upserts")
	}
	const n = 400
	for _, check := range []bool{true, false, true, false} {
		e := newQueueEnv(t, queueOpts{})
		if !check {
			e.do("PATCH", "/api/v1/settings", map[string]any{"name_check": false}).want(t, http.StatusOK)
		}
		var took [2]time.Duration
		for round, first := range []string{"Jonathan", "Jon"} {
			start := time.Now()
			for i := range n {
				e.do("POST", "/api/v1/customers/upsert", map[string]any{"first_name": first, "last_name": "Doe",
					"email": fmt.Sprintf("u%d@example.com", i), "phone": fmt.Sprintf("+1 415 300 %04d", i)}).want(t, []int{201, 200}[round])
			}
			took[round] = time.Since(start)
		}
		t.Logf("name_check=%v: %d upserts creating %v/op, matching %v/op", check, n,
			(took[0] / n).Round(time.Microsecond), (took[1] / n).Round(time.Microsecond))
	}
}
