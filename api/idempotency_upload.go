// Idempotency-Key on uploads (POST /api/v1/imports): the body is a stream
// of any size, so the request is identified by what it carries — the
// options, the file's name and the file's bytes, hashed as they stream —
// rather than by its raw bytes (a multipart boundary differs on every
// retry), and only once it has been read.

package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/linkitworks/customers/customer"
)

// uploadPending is the request hash of an upload's key while the upload
// is read: a retry meanwhile cannot know yet whether it is the same file.
const uploadPending = "upload:pending"

// uploadIdempotency is an upload's claim of its Idempotency-Key.
type uploadIdempotency struct {
	key  string
	sum  hash.Hash // the options and file, as they stream
	done bool      // the answer is stored, or the key released
}

// claimUpload handles an upload's Idempotency-Key once its options are
// read: it returns nil, nil without a key; replayed when the key already
// answered this same upload (the answer is written; the file was read to
// compare); else the claim, whose file reader up.file now hashes. The
// same key with another upload is a 422; while the first upload is still
// being read, a 409 asking to retry later.
func (s *Server) claimUpload(w http.ResponseWriter, r *http.Request, up *upload) (claim *uploadIdempotency, replayed bool, err error) {
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if key == "" {
		return nil, false, nil
	}
	if len(key) > 200 {
		return nil, false, customer.Invalid(map[string]string{"Idempotency-Key": "must be at most 200 characters"})
	}
	c := &uploadIdempotency{key: key, sum: sha256.New()}
	// What identifies the upload besides its bytes.
	io.WriteString(c.sum, r.Method+" "+r.URL.Path+"\n"+up.fileName+"\n"+string(up.format)+"\n"+r.Header.Get("Content-Encoding")+"\n")
	names := make([]string, 0, len(up.form))
	for k := range up.form {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		io.WriteString(c.sum, k+"="+strings.Join(up.form[k], "\x00")+"\n")
	}
	orgID := org(r).ID
	prev, err := s.store.ClaimIdempotencyKey(r.Context(), orgID, key, uploadPending)
	switch {
	case err != nil:
		return nil, false, err
	case prev == nil:
		up.file = io.TeeReader(up.file, c.sum)
		return c, false, nil
	case !prev.Done:
		return nil, false, &customer.Error{Code: customer.ECONFLICT,
			Message: "An upload with this Idempotency-Key is still being read; retry later",
			Details: map[string]string{"Idempotency-Key": key}}
	case !strings.HasPrefix(prev.RequestHash, "upload:"):
		return nil, false, customer.Invalid(map[string]string{"Idempotency-Key": "was already used with a different request"})
	}
	if _, err := io.Copy(c.sum, up.file); err != nil {
		return nil, false, err
	}
	if prev.RequestHash != c.hash() {
		return nil, false, customer.Invalid(map[string]string{"Idempotency-Key": "was already used with a different request"})
	}
	replay(w, prev)
	return nil, true, nil
}

func (c *uploadIdempotency) hash() string { return "upload:" + hex.EncodeToString(c.sum.Sum(nil)) }

// answered stores the upload's 202, once the rest of its file (nothing,
// unless the reader stopped early) has been hashed.
func (s *Server) uploadAnswered(r *http.Request, c *uploadIdempotency, file io.Reader, status int, location string, body []byte) {
	ctx := context.WithoutCancel(r.Context())
	if _, err := io.Copy(io.Discard, file); err != nil {
		s.uploadReleased(r, c)
		return
	}
	c.done = true
	if err := s.store.SaveIdempotentUpload(ctx, org(r).ID, c.key, c.hash(), status, location, body); err != nil {
		s.log.ErrorContext(ctx, "idempotency key: upload answer not stored", "err", err)
	}
}

// uploadReleased frees the key of an upload that created nothing: its
// retry is read and judged again.
func (s *Server) uploadReleased(r *http.Request, c *uploadIdempotency) {
	if c == nil || c.done {
		return
	}
	c.done = true
	ctx := context.WithoutCancel(r.Context())
	if err := s.store.ReleaseIdempotencyKey(ctx, org(r).ID, c.key); err != nil {
		s.log.ErrorContext(ctx, "idempotency key: not released", "err", err)
	}
}
