package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// upsertInput is the find-or-create body of SPEC §6 and seed 004.
type upsertInput struct {
	Name        string          `json:"name"`
	FirstName   string          `json:"first_name"`
	LastName    string          `json:"last_name"`
	Email       string          `json:"email"`
	Phone       string          `json:"phone"`
	Address     json.RawMessage `json:"address"`
	Avatar      string          `json:"avatar"`
	CompanyName string          `json:"company_name"`
	Birthdate   string          `json:"birthdate"`
	Gender      string          `json:"gender"`
	Notes       string          `json:"notes"`
	Tags        *[]string       `json:"tags"`
	AddedTags   []string        `json:"added_tags"`
	GroupIDs    []string        `json:"group_ids"`
	Source      string          `json:"source"`
	DoNotUpdate bool            `json:"do_not_update"`
	LocationID  string          `json:"location_id"`
	ExternalID  string          `json:"external_id"`
	MergePolicy string          `json:"merge_policy"`
	Attributes  map[string]any  `json:"attributes"`
}

// request validates and normalizes the input into an engine request.
func (in upsertInput) request(p problems, regions ...string) *dedupe.Request {
	f := customer.Customer{
		FirstName:   p.name("first_name", in.FirstName, false),
		LastName:    p.name("last_name", in.LastName, false),
		Name:        p.name("name", in.Name, false),
		CompanyName: p.text("company_name", in.CompanyName, 0, customer.MaxCompanyNameLen),
		AvatarURL:   p.url("avatar", in.Avatar),
		Birthdate:   p.date("birthdate", in.Birthdate),
		Gender:      p.enum("gender", in.Gender, customer.Genders, ""),
		Notes:       p.text("notes", in.Notes, 0, customer.MaxNotesLen),
		Source:      p.text("source", in.Source, 0, customer.MaxSourceLen),
		Attributes:  in.Attributes,
	}
	if f.FirstName == "" && f.LastName == "" && f.Name != "" {
		f.FirstName, f.LastName = dedupe.SplitName(f.Name)
	}
	req := &dedupe.Request{Source: f.Source, GroupIDs: in.GroupIDs}
	rec := &req.Record
	rec.Email = p.email("email", in.Email)
	rec.EmailKey = dedupe.EmailKey(rec.Email, false)
	ph := p.phone("phone", in.Phone, regions...)
	rec.Phone, rec.PhoneValid, rec.PhoneExt, rec.PhoneKey = ph.Number, ph.Valid, ph.Extension, dedupe.PhoneDigits(ph.Number)
	if ext := p.text("external_id", in.ExternalID, 0, customer.MaxExternalIDLen); ext != "" {
		rec.External = externalKey(f.Source, ext)
	}
	if rec.Email == "" && rec.Phone == "" && rec.External == "" && p["email"] == "" && p["phone"] == "" {
		p.add("email", "email, phone or external_id is required")
		p.add("phone", "email, phone or external_id is required")
	}
	rec.Fields = f
	req.Options = p.mergePolicy("merge_policy", in.MergePolicy)
	if in.DoNotUpdate {
		req.Options.Policy = dedupe.DoNotUpdate
	}
	if in.Tags != nil {
		req.Tags, req.ReplaceTags = p.tags("tags", *in.Tags), true
	}
	req.AddedTags = p.tags("added_tags", in.AddedTags)
	req.Address = p.looseAddress("address", in.Address)
	return req
}

// mergePolicy reads a merge_policy (SPEC §6); none leaves the policy empty
// for the organization's default_merge_policy (matchRules).
func (p problems) mergePolicy(field, v string) dedupe.Options {
	switch strings.TrimSpace(v) {
	case "":
		return dedupe.Options{}
	case string(dedupe.FillBlanks):
		return dedupe.Options{Policy: dedupe.FillBlanks}
	case string(dedupe.Overwrite):
		return dedupe.Options{Policy: dedupe.Overwrite}
	case string(dedupe.DoNotUpdate):
		return dedupe.Options{Policy: dedupe.DoNotUpdate}
	case "merge_conflicts":
		return dedupe.Options{Policy: dedupe.FillBlanks, MergeConflicts: true}
	}
	p.add(field, "must be one of "+strings.Join(dedupe.Policies, ", "))
	return dedupe.Options{}
}

// matchRules puts the organization's settings (SPEC §10.1) into a request
// before it is queued: the task carries them, so the worker reads nothing.
// A merge_policy the request named wins over the default one.
func matchRules(o *customer.Organization, req *dedupe.Request) {
	st := o.Settings
	named := req.Options
	req.Options = dedupe.OptionsOf(st, "")
	if named.Policy != "" {
		req.Options.Policy, req.Options.MergeConflicts = named.Policy, named.MergeConflicts
	}
	req.Record.EmailKey = dedupe.EmailKey(req.Record.Email, st.EmailCanonicalization)
}

// externalKey scopes another system's id to its source.
func externalKey(source, id string) string {
	if source == "" {
		source = "api"
	}
	return strings.ToLower(source) + ":" + id
}

// looseAddress reads seed 004's address: a string (the first line) or an
// object. Only present parts are checked; POS systems send what they have.
func (p problems) looseAddress(field string, raw json.RawMessage) *customer.Address {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var line string
	if err := json.Unmarshal(raw, &line); err == nil {
		if line = p.text(field, line, 0, customer.MaxAddressLineLen); line == "" {
			return nil
		}
		return &customer.Address{Label: "Address", AddressLine1: line}
	}
	var in struct {
		Label        string `json:"label"`
		AddressLine1 string `json:"address_line1"`
		Line1        string `json:"line1"`
		AddressLine2 string `json:"address_line2"`
		Line2        string `json:"line2"`
		City         string `json:"city"`
		State        string `json:"state"`
		Country      string `json:"country"`
		PostalCode   string `json:"postal_code"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		p.add(field, "must be a string or an address object")
		return nil
	}
	a := &customer.Address{
		Label:        p.text(field+".label", in.Label, 0, customer.MaxAddressLabelLen),
		AddressLine1: p.text(field+".address_line1", in.AddressLine1+in.Line1, 0, customer.MaxAddressLineLen),
		AddressLine2: p.text(field+".address_line2", in.AddressLine2+in.Line2, 0, customer.MaxAddressLineLen),
		City:         p.text(field+".city", in.City, 0, customer.MaxCityLen),
		State:        p.text(field+".state", in.State, 0, customer.MaxStateLen),
		Country:      p.country(field+".country", in.Country),
		PostalCode:   p.text(field+".postal_code", in.PostalCode, 0, customer.MaxPostalCodeLen),
	}
	if a.AddressLine1 == "" {
		return nil
	}
	return a
}

// readJSON reads a whole JSON body (bounded) for hashing and decoding.
func readJSON(w http.ResponseWriter, r *http.Request, v any) ([]byte, error) {
	if err := requireJSON(r); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBytes))
	if err != nil {
		return nil, jsonError(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, jsonError(io.EOF)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, jsonError(err)
	}
	return body, checkJSON(body)
}

// waitParam reads how long the caller waits for the result: the wait query
// parameter (seconds, default 10, max 30) or Prefer: respond-async / wait=N.
func waitParam(r *http.Request, p problems) time.Duration {
	raw := r.URL.Query().Get("wait")
	for _, pref := range strings.Split(r.Header.Get("Prefer"), ",") {
		pref = strings.TrimSpace(pref)
		if strings.EqualFold(pref, "respond-async") {
			return 0
		}
		if v, ok := strings.CutPrefix(pref, "wait="); ok && raw == "" {
			raw = v
		}
	}
	if raw == "" {
		return 10 * time.Second
	}
	secs, err := strconv.ParseFloat(strings.TrimSuffix(raw, "s"), 64)
	if err != nil || secs < 0 || secs > 30 {
		p.add("wait", "must be a number of seconds from 0 to 30")
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

// upsertOutcome is the answer to an upsert call: a finished result, or the
// accepted job when the caller does not wait (202).
type upsertOutcome struct {
	status   int
	customer *customer.Customer
	meta     *postgres.UpsertReply
	job      *customer.Job
}

// upsert runs SPEC §6 over HTTP: validate, record the job, enqueue, and
// wait for the worker's reply (or answer 202).
func (s *Server) upsert(w http.ResponseWriter, r *http.Request, pathLocation string) (*upsertOutcome, error) {
	var in upsertInput
	body, err := readJSON(w, r, &in)
	if err != nil {
		return nil, err
	}
	p := problems{}
	wait := waitParam(r, p)
	o := org(r)
	ctx := r.Context()
	locationID := strings.TrimSpace(in.LocationID)
	if pathLocation != "" {
		locationID = pathLocation
	}
	regions := []string{o.DefaultRegion} // the location's goes first (SPEC §3)
	if locationID != "" {
		locRegion, err := s.store.FindLocationRegion(ctx, o.ID, locationID)
		switch {
		case customer.ErrorCode(err) == customer.ENOTFOUND && pathLocation == "":
			p.add("location_id", "is not a location of this organization")
		case err != nil:
			return nil, err
		case locRegion != "":
			regions = []string{locRegion, o.DefaultRegion}
		}
	}
	req := in.request(p, regions...)
	req.LocationID = locationID
	if missing, err := s.store.MissingGroups(ctx, o.ID, req.GroupIDs); err != nil {
		return nil, err
	} else if len(missing) > 0 {
		p.add("group_ids", "unknown groups: "+strings.Join(missing, ", "))
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return s.findOrCreate(r, body, req, wait)
}

// findOrCreate runs a validated engine request through the job path shared
// by every find-or-create endpoint: record the job (Idempotency-Key aware;
// body is the raw request, hashed with its path), enqueue the task, and
// wait for the worker's reply or answer 202.
//
// A caller who waits and sends no Idempotency-Key is answered from the
// worker's reply, so its job row is left to the worker, which writes it
// with the result in the upsert's transaction: one statement and one
// commit fewer per upsert. The API writes the row itself only when it
// answers without the reply (202, the caller gone, the queue down): then,
// as for every other job, PostgreSQL holds what was accepted (a Redis
// that loses the task loses nothing).
func (s *Server) findOrCreate(r *http.Request, body []byte, req *dedupe.Request, wait time.Duration) (*upsertOutcome, error) {
	ctx := r.Context()
	o := org(r)
	matchRules(o, req)
	sum := sha256.Sum256(append([]byte(r.URL.Path+"\n"), body...))
	job := &customer.Job{OrganizationID: o.ID, Type: queue.TypeUpsert,
		RequestHash: hex.EncodeToString(sum[:]), IdempotencyKey: strings.TrimSpace(r.Header.Get("Idempotency-Key"))}
	if len(job.IdempotencyKey) > 200 {
		return nil, customer.Invalid(map[string]string{"Idempotency-Key": "must be at most 200 characters"})
	}
	// Encoded once: the job row's payload, the task's request, and the
	// worker's copy for the row it writes (queue.UpsertPayload.RawRequest).
	var err error
	if job.Payload, err = json.Marshal(req); err != nil {
		return nil, err
	}
	waits := wait > 0 && s.Replies != nil && s.Queue != nil
	leftToWorker := waits && job.IdempotencyKey == ""
	if leftToWorker {
		job.ID, job.State = customer.NewID(customer.PrefixJob), customer.JobQueued
	} else {
		stored, existing, err := s.store.CreateJob(ctx, job)
		if err != nil {
			return nil, err
		}
		if existing {
			if stored.RequestHash != job.RequestHash {
				return nil, customer.Invalid(map[string]string{"Idempotency-Key": "was already used with a different request"})
			}
			return s.awaitStoredJob(ctx, stored, wait)
		}
	}
	if s.Queue == nil {
		return nil, s.queueDown(ctx, job, errors.New("no queue configured"))
	}
	var replies <-chan []byte
	task := queue.UpsertPayload{JobID: job.ID, OrgID: o.ID, Request: req, RawRequest: job.Payload}
	if leftToWorker {
		task.RequestHash = job.RequestHash
	}
	if waits {
		ch, cancel := s.Replies.Wait(job.ID)
		defer cancel()
		replies, task.ReplyTo = ch, s.Replies.Channel()
	}
	// Upserts arriving together travel as one task (queue.Coalescer).
	sent, err := s.upserts.Enqueue(ctx, s.Queue, task)
	defer sent()
	if err != nil {
		if leftToWorker {
			_, _ = s.recordJob(ctx, job) // for queueDown to fail
		}
		return nil, s.queueDown(ctx, job, err)
	}
	if replies == nil {
		return &upsertOutcome{status: http.StatusAccepted, job: job}, nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case reply := <-replies:
		return s.outcome(ctx, job, reply)
	case <-timer.C:
		if !leftToWorker {
			return &upsertOutcome{status: http.StatusAccepted, job: job}, nil
		}
		stored, err := s.recordJob(ctx, job)
		if err != nil {
			return nil, err
		}
		// Written, or the worker's row: its result if it has one.
		return s.awaitStoredJob(ctx, stored, 0)
	case <-ctx.Done():
		if leftToWorker {
			_, _ = s.recordJob(ctx, job)
		}
		return nil, ctx.Err()
	}
}

// queueDown fails a job that could not be enqueued (so it is never re-run
// behind the caller's back) and answers 503: the caller may retry.
func (s *Server) queueDown(ctx context.Context, job *customer.Job, cause error) error {
	if err := s.store.FailJob(context.WithoutCancel(ctx), job.OrganizationID, job.ID, "queue unavailable"); err != nil {
		s.log.ErrorContext(ctx, "fail job", "job_id", job.ID, "err", err)
	}
	s.log.ErrorContext(ctx, "enqueue failed", "job_id", job.ID, "err", cause)
	return &customer.Error{Code: customer.EUNAVAILABLE, Message: "Queue unavailable, try again"}
}

// recordJob writes the row of a job left to the worker when the API
// answers without its reply, unless the worker wrote it first: stored is
// then the worker's row.
func (s *Server) recordJob(ctx context.Context, job *customer.Job) (stored *customer.Job, err error) {
	stored, _, err = s.store.RecordJob(context.WithoutCancel(ctx), job, customer.JobQueued, "")
	if err != nil {
		s.log.ErrorContext(ctx, "record job", "job_id", job.ID, "err", err)
	}
	return stored, err
}

// outcome turns a worker reply (result or error) into the answer.
func (s *Server) outcome(ctx context.Context, job *customer.Job, reply []byte) (*upsertOutcome, error) {
	// One decode: a reply is either a result or an error.
	res := postgres.UpsertReply{Result: &dedupe.Result{}}
	if err := json.Unmarshal(reply, &res); err != nil {
		return nil, err
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	// The worker's reply carries the customer as written; stored results
	// (idempotent replays, polling) name it, and it is read fresh.
	c := res.Customer
	if c == nil {
		var err error
		if c, err = s.store.FindSurvivor(ctx, job.OrganizationID, res.CustomerID); err != nil {
			return nil, err
		}
	}
	status := http.StatusOK
	if res.Action == dedupe.ActionCreated {
		status = http.StatusCreated
	}
	if res.Conflicts == nil {
		res.Conflicts = []dedupe.Conflict{}
	}
	return &upsertOutcome{status: status, customer: c, meta: &res, job: job}, nil
}

// awaitStoredJob answers a repeated Idempotency-Key: the first result, or,
// while the first call is still running, a short poll of its job row.
func (s *Server) awaitStoredJob(ctx context.Context, job *customer.Job, wait time.Duration) (*upsertOutcome, error) {
	deadline := time.Now().Add(wait)
	for {
		switch job.State {
		case customer.JobCompleted:
			return s.outcome(ctx, job, job.Result)
		case customer.JobFailed:
			return s.outcome(ctx, job, []byte(job.Error))
		}
		if time.Now().After(deadline) {
			return &upsertOutcome{status: http.StatusAccepted, job: job}, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		var err error
		if job, err = s.store.FindJob(ctx, job.OrganizationID, job.ID); err != nil {
			return nil, err
		}
	}
}

// upsertMeta is the meta block of an upsert answer.
type upsertMeta struct {
	Action    string            `json:"action"`
	MatchedOn *string           `json:"matched_on"`
	Conflicts []dedupe.Conflict `json:"conflicts"`
	JobID     string            `json:"job_id"`
	Merged    []string          `json:"merged,omitempty"`
	Warnings  []dedupe.Warning  `json:"warnings,omitempty"` // SPEC §10.1: applied, but worth knowing
}

func (o *upsertOutcome) metaBlock() upsertMeta {
	return upsertMeta{Action: o.meta.Action, MatchedOn: o.meta.MatchedOn, Conflicts: o.meta.Conflicts,
		JobID: o.job.ID, Merged: o.meta.Merged, Warnings: o.meta.Warnings}
}

// createdCustomer sets Location when an upsert created its customer (201),
// under collection.
func createdCustomer(w http.ResponseWriter, out *upsertOutcome, collection string) {
	if out.status == http.StatusCreated && out.customer != nil {
		setLocation(w, collection, out.customer.ID)
	}
}

// acceptJob answers 202 with where to poll.
func acceptJob(w http.ResponseWriter, job *customer.Job) {
	w.Header().Set("Location", "/api/v1/jobs/"+job.ID)
	job.State = customer.JobQueued
}

func (s *Server) handleUpsert(w http.ResponseWriter, r *http.Request) error {
	out, err := s.upsert(w, r, "")
	if err != nil {
		return err
	}
	if out.status == http.StatusAccepted {
		acceptJob(w, out.job)
		writeData(w, http.StatusAccepted, out.job)
		return nil
	}
	createdCustomer(w, out, "/api/v1/customers")
	encode(w, out.status, struct {
		Data *customer.Customer `json:"data"`
		Meta upsertMeta         `json:"meta"`
	}{out.customer, out.metaBlock()})
	return nil
}
