package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/linkitworks/customers/linkittest"
)

// A birthdate shared by at most ten customers pairs them all (the weak
// rule); shared by more it is skipped (at a million customers about 40
// share each birthdate), and only those with the same two initials stay
// candidates (the narrower rule).
func TestFuzzyScanWeakBlockCap(t *testing.T) {
	t.Parallel()
	s := linkittest.New(t)
	people := [][2]string{{"Kate", "Sommer"}, {"Karl", "Stein"}, {"Anna", "Baker"}, {"Bruno", "Dietz"},
		{"Clara", "Evans"}, {"Diego", "Fischer"}, {"Emma", "Garcia"}, {"Felix", "Hoffman"}, {"Greta", "Ito"},
		{"Hugo", "Jansen"}, {"Ida", "Lopez"}}
	add := func(i int) {
		s.Do("POST", "/api/v1/customers/upsert", map[string]any{
			"first_name": people[i][0], "last_name": people[i][1], "birthdate": "1970-01-01",
			"email": fmt.Sprintf("person%d@example.com", i),
		}).Want(t, http.StatusCreated)
	}
	for i := range 10 {
		add(i)
	}
	if res := scan(t, s.Client); res["customers"] != 10.0 || res["candidate_pairs"] != 45.0 {
		t.Fatalf("ten sharing a birthdate: %v, want 45 candidate pairs", res)
	}
	add(10)
	if res := scan(t, s.Client); res["customers"] != 11.0 || res["candidate_pairs"] != 1.0 {
		t.Fatalf("eleven sharing a birthdate: %v, want 1 candidate pair (Kate Sommer, Karl Stein)", res)
	}
}
