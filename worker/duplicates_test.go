package worker_test

import (
	"net/http"
	"testing"
)

// A duplicates merge job whose task Redis lost is queued again from
// PostgreSQL on the default queue, and merges its pair once run.
func TestReconcileRequeuesDuplicatesMerge(t *testing.T) {
	t.Parallel()
	s, mux := setup(t)
	var ids []string
	for _, email := range []string{"rq-a@example.com", "rq-b@example.com"} {
		c := s.Do("POST", "/api/v1/customers", map[string]any{"first_name": "Rae", "last_name": "Quinn", "email": email}).
			Want(t, http.StatusCreated).Data()
		ids = append(ids, c["id"].(string))
	}
	var pair string
	if err := s.Store.Pool().QueryRow(t.Context(), `INSERT INTO duplicate_suggestions (organization_id, customer_a, customer_b,
		reasons, score, source) VALUES ($1, $2, $3, '{names similar}', 0.8, 'fuzzy') RETURNING id`, s.Org, ids[0], ids[1]).Scan(&pair); err != nil {
		t.Fatal(err)
	}
	jobID, _ := s.Do("POST", "/api/v1/duplicates/merge", map[string]any{"ids": []string{pair}}).
		Want(t, http.StatusAccepted).Data()["id"].(string)
	if err := s.Inspector.DeleteTask(s.Names.Default(), jobID); err != nil {
		t.Fatal(err)
	}
	for pass, want := range []int{1, 0} {
		if n, err := s.Deps.Reconcile(t.Context(), 0); err != nil || n != want {
			t.Fatalf("reconcile pass %d: %d re-enqueued, %v; want %d", pass+1, n, err, want)
		}
	}
	if err := mux.ProcessTask(t.Context(), queuedTask(t, s, s.Names.Default(), jobID)); err != nil {
		t.Fatal(err)
	}
	job := s.Do("GET", "/api/v1/jobs/"+jobID, nil).Want(t, http.StatusOK).Data()
	if res, _ := job["result"].(map[string]any); job["state"] != "completed" || res["merged"] != float64(1) {
		t.Fatalf("job %v", job)
	}
	s.Do("GET", "/api/v1/customers/"+ids[1], nil).Want(t, http.StatusMovedPermanently)
}
