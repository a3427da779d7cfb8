package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// maxDuplicateMerge bounds the pairs one duplicates merge job takes.
const maxDuplicateMerge = 100

// handleDuplicateList is GET /api/v1/duplicates (SPEC §10.2).
func (s *Server) handleDuplicateList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := problems{}
	page, limit := pagination(q, p)
	f := postgres.DuplicateFilter{Page: page, Limit: limit, Status: customer.DuplicateOpen,
		CustomerID: strings.TrimSpace(q.Get("customer_id"))}
	if v := strings.TrimSpace(q.Get("status")); v != "" {
		if f.Status = strings.ToLower(v); !slices.Contains(customer.DuplicateStatuses, f.Status) {
			p.add("status", "must be one of "+strings.Join(customer.DuplicateStatuses, ", "))
		}
	}
	if v := strings.TrimSpace(q.Get("min_score")); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(n) || n < 0 || n > 1 {
			p.add("min_score", "must be a number from 0 to 1")
		}
		f.MinScore = n
	}
	if len(f.CustomerID) > 100 {
		p.add("customer_id", "must be at most 100 characters")
	}
	if err := p.err(); err != nil {
		return err
	}
	list, meta, err := s.store.FindDuplicates(r.Context(), org(r).ID, f)
	if err != nil {
		return err
	}
	writeList(w, list, meta)
	return nil
}

func (s *Server) handleDuplicateGet(w http.ResponseWriter, r *http.Request) error {
	d, err := s.store.FindDuplicate(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, d)
	return nil
}

// handleDuplicateDismiss is POST /api/v1/duplicates/{id}/dismiss.
func (s *Server) handleDuplicateDismiss(w http.ResponseWriter, r *http.Request) error {
	d, err := s.store.DismissDuplicate(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, d)
	return nil
}

// mergeInput is POST /api/v1/customers/{id}/merge.
type mergeInput struct {
	SourceIDs   []string `json:"source_ids"`
	MergePolicy string   `json:"merge_policy"`
}

// handleCustomerMerge merges customers into {id} synchronously: a few
// customers' rows move in one transaction, well within a request.
func (s *Server) handleCustomerMerge(w http.ResponseWriter, r *http.Request) error {
	var in mergeInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	o := org(r)
	survivor := r.PathValue("id")
	p := problems{}
	ids := distinctIDs("source_ids", in.SourceIDs, postgres.MaxMergeSources, p)
	if slices.Contains(ids, survivor) {
		p.add("source_ids", "must not contain the customer merged into ("+survivor+")")
	}
	policy := p.mergePolicy("merge_policy", in.MergePolicy).Policy
	if err := p.err(); err != nil {
		return err
	}
	if policy == "" {
		policy = dedupe.OptionsOf(o.Settings, "").Policy
	}
	c, refs, err := s.store.MergeCustomers(r.Context(), o.ID, survivor, ids, policy, o.Settings.EmailCanonicalization)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, map[string]any{"data": c, "meta": map[string]any{"merges": refs}})
	return nil
}

// handleCustomerUnmerge is POST /api/v1/customers/{id}/unmerge.
func (s *Server) handleCustomerUnmerge(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		SourceID string `json:"source_id"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.SourceID = strings.TrimSpace(in.SourceID); in.SourceID == "" {
		return customer.Invalid(map[string]string{"source_id": "is required"})
	}
	o := org(r)
	survivor := r.PathValue("id")
	if in.SourceID == survivor {
		return customer.Invalid(map[string]string{"source_id": "must differ from the customer it was merged into"})
	}
	res, err := s.store.Unmerge(r.Context(), o.ID, survivor, in.SourceID)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, res)
	return nil
}

// handleDuplicatesMerge is POST /api/v1/duplicates/merge: a job (202) on
// the default queue that merges each pair, the older customer surviving.
func (s *Server) handleDuplicatesMerge(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		IDs         []string `json:"ids"`
		MergePolicy string   `json:"merge_policy"`
	}
	body, err := readJSON(w, r, &in)
	if err != nil {
		return err
	}
	o := org(r)
	ctx := r.Context()
	p := problems{}
	ids := distinctIDs("ids", in.IDs, maxDuplicateMerge, p)
	policy := p.mergePolicy("merge_policy", in.MergePolicy).Policy
	if err := p.err(); err != nil {
		return err
	}
	if policy == "" {
		policy = dedupe.OptionsOf(o.Settings, "").Policy
	}
	for _, id := range ids {
		// Unknown ids are the caller's mistake, told now rather than in the job.
		if _, err := s.store.FindDuplicate(ctx, o.ID, id); err != nil {
			return err
		}
	}
	task := queue.DuplicatesMergePayload{OrgID: o.ID, IDs: ids, Policy: policy, CanonicalEmails: o.Settings.EmailCanonicalization}
	payload, err := json.Marshal(task)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(append([]byte(r.URL.Path+"\n"), body...))
	job := &customer.Job{OrganizationID: o.ID, Type: queue.TypeDuplicatesMerge, Payload: payload,
		RequestHash: hex.EncodeToString(sum[:]), IdempotencyKey: strings.TrimSpace(r.Header.Get("Idempotency-Key"))}
	if len(job.IdempotencyKey) > 200 {
		return customer.Invalid(map[string]string{"Idempotency-Key": "must be at most 200 characters"})
	}
	stored, existing, err := s.store.CreateJob(ctx, job)
	if err != nil {
		return err
	}
	if existing {
		if stored.RequestHash != job.RequestHash {
			return customer.Invalid(map[string]string{"Idempotency-Key": "was already used with a different request"})
		}
		job = stored
	} else {
		if s.Queue == nil {
			return s.queueDown(ctx, job, errors.New("no queue configured"))
		}
		task.JobID = job.ID
		if _, err := s.Queue.EnqueueDuplicatesMerge(ctx, task); err != nil {
			return s.queueDown(ctx, job, err)
		}
	}
	w.Header().Set("Location", "/api/v1/jobs/"+job.ID)
	writeData(w, http.StatusAccepted, job)
	return nil
}

// distinctIDs checks a list of 1..max ids, none blank or repeated.
func distinctIDs(field string, ids []string, maxN int, p problems) []string {
	if len(ids) == 0 {
		p.add(field, "is required: at least one id")
		return nil
	}
	if len(ids) > maxN {
		p.add(field, "must hold at most "+strconv.Itoa(maxN)+" ids")
		return nil
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		id = strings.TrimSpace(id)
		switch {
		case id == "" || len(id) > 100:
			p.add(field, "ids must be 1 to 100 characters")
		case slices.Contains(out, id):
			p.add(field, "must not repeat an id ("+id+")")
		}
		out = append(out, id)
	}
	return out
}
