// Idempotency-Key on the creating POSTs: the first answer is stored and a
// retry gets exactly it back.

package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
)

// idempotencyWait is how long a retry waits for the first request with its
// key to be answered before answering 409 (retry later).
const idempotencyWait = 10 * time.Second

// idempotent makes next, a creating POST behind authentication, honour an
// Idempotency-Key header: the first request with a key claims it (per
// organization) and its answer — status, Location and body — is stored; a
// request with the same key and body gets that answer again, marked
// Idempotent-Replayed: true, without doing anything; the same key with
// another body is a 422 naming Idempotency-Key. Answers that are not final
// (202, 408, 429, 5xx) are not stored: the key is freed for the retry.
//
// joinPending is for handlers that are idempotent by key themselves (the
// find-or-create endpoints record a job under the key): a retry that finds
// the key still pending — its first request may have died with its API
// process — runs the handler, which joins the same job, instead of waiting
// and answering 409 until the pending claim expires.
func (s *Server) idempotent(writeError errorWriter, joinPending bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
		if key == "" {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > 200 {
			writeError(w, r, customer.Invalid(map[string]string{"Idempotency-Key": "must be at most 200 characters"}))
			return
		}
		// Bodies beyond the JSON limit are refused by the handler (413):
		// nothing to remember.
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBytes+1))
		if err != nil {
			writeError(w, r, jsonError(err))
			return
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(raw), r.Body), r.Body}
		if len(raw) > maxJSONBytes {
			next.ServeHTTP(w, r)
			return
		}
		orgID := org(r).ID
		sum := sha256.Sum256([]byte(r.Method + " " + r.URL.Path + "\n" + string(raw)))
		hash := hex.EncodeToString(sum[:])
		prev, err := s.claimKey(r.Context(), orgID, key, hash, joinPending)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if prev != nil && prev.Done {
			replay(w, prev)
			return
		}
		if prev != nil {
			// Joining a pending key: the first final answer stored wins; the
			// key is not ours to release.
			rec := &answerRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			if final(rec.status) {
				ctx := context.WithoutCancel(r.Context())
				if err := s.store.SaveIdempotentResponse(ctx, orgID, key, rec.status, rec.Header().Get("Location"), rec.body.Bytes()); err != nil {
					s.log.ErrorContext(ctx, "idempotency key: answer not stored", "err", err)
				}
			}
			return
		}
		rec := &answerRecorder{ResponseWriter: w}
		released := false
		defer func() {
			// A panic or a dropped client frees the key too.
			if !released && !rec.saved {
				_ = s.store.ReleaseIdempotencyKey(context.WithoutCancel(r.Context()), orgID, key)
			}
		}()
		next.ServeHTTP(rec, r)
		ctx := context.WithoutCancel(r.Context())
		if final(rec.status) {
			if err := s.store.SaveIdempotentResponse(ctx, orgID, key, rec.status, rec.Header().Get("Location"), rec.body.Bytes()); err != nil {
				s.log.ErrorContext(ctx, "idempotency key: answer not stored", "err", err)
			} else {
				rec.saved = true
			}
			return
		}
		released = true
		if err := s.store.ReleaseIdempotencyKey(ctx, orgID, key); err != nil {
			s.log.ErrorContext(ctx, "idempotency key: not released", "err", err)
		}
	})
}

// claimKey claims key, or returns its stored answer; while the first
// request with it is still being answered it waits (up to idempotencyWait),
// or, with joinPending, returns the pending claim at once.
func (s *Server) claimKey(ctx context.Context, orgID, key, hash string, joinPending bool) (*postgres.StoredResponse, error) {
	deadline := time.Now().Add(idempotencyWait)
	for {
		prev, err := s.store.ClaimIdempotencyKey(ctx, orgID, key, hash)
		if err != nil || prev == nil {
			return nil, err
		}
		if prev.RequestHash != hash {
			return nil, customer.Invalid(map[string]string{"Idempotency-Key": "was already used with a different request"})
		}
		if prev.Done || joinPending {
			return prev, nil
		}
		if time.Now().After(deadline) {
			return nil, &customer.Error{Code: customer.ECONFLICT, Message: "A request with this Idempotency-Key is still being answered; retry later",
				Details: map[string]string{"Idempotency-Key": key}}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// final reports whether an answer with status is the request's outcome,
// to be replayed; the others ask for a retry.
func final(status int) bool {
	switch {
	case status == 0, status >= 500:
		return false
	case status == http.StatusAccepted, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return false
	}
	return true
}

// replay writes a stored answer as it was first written.
func replay(w http.ResponseWriter, a *postgres.StoredResponse) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Idempotent-Replayed", "true")
	if a.Location != "" {
		h.Set("Location", a.Location)
	}
	h.Set("Content-Length", strconv.Itoa(len(a.Body)))
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}

// answerRecorder passes an answer through and keeps a copy of it.
type answerRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	saved  bool
}

func (a *answerRecorder) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	a.body.Write(b)
	return a.ResponseWriter.Write(b)
}

func (a *answerRecorder) Unwrap() http.ResponseWriter { return a.ResponseWriter }
