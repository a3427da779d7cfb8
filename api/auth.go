// API keys: the authentication middleware, the cache of verified keys, and the admin token's guard.

package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
)

// authenticated requires a valid API key (401) and, when sent, an
// X-Organization-ID equal to the key's organization (403), then spends one
// request of the key's rate limit (429 beyond it).
func (s *Server) authenticated(next http.Handler) http.Handler {
	return s.authenticatedAs(s.writeError, next)
}

// errorWriter writes an error body in one of the API's shapes.
type errorWriter func(w http.ResponseWriter, r *http.Request, err error)

// authenticatedAs is authenticated answering failures with writeError.
func (s *Server) authenticatedAs(writeError errorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if si, ok := r.Context().Value(ctxSignedIn).(signedIn); ok && si.org != nil {
			// The web app's session: its key's rate limit applies as to the key.
			*r = *r.WithContext(context.WithValue(r.Context(), ctxOrg, si.org))
			if s.rateLimited(w, r, writeError, si.keyID, si.org) {
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		key, ok := bearer(r)
		if !ok {
			writeError(w, r, &customer.Error{Code: customer.EUNAUTHORIZED, Message: "Missing API key: send Authorization: Bearer <key>"})
			return
		}
		o, err := s.authenticate(r.Context(), key)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if h := r.Header.Get("X-Organization-ID"); h != "" && h != o.ID {
			writeError(w, r, &customer.Error{Code: customer.EFORBIDDEN, Message: "X-Organization-ID does not match the API key's organization",
				Details: map[string]string{"X-Organization-ID": h}})
			return
		}
		*r = *r.WithContext(context.WithValue(r.Context(), ctxOrg, o))
		keyID, _ := postgres.KeyID(key)
		if s.rateLimited(w, r, writeError, keyID, o) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// signedIn is an organization authenticated in-process and the id of the
// key it signed in with.
type signedIn struct {
	org   *customer.Organization
	keyID string
}

// WithOrganization marks an in-process request as already authenticated
// for o with the key keyID: the web app (package webapp) calls the API this
// way for a browser signed in with a session, so the key itself never needs
// to be kept. Only code in this binary can put it on a request context;
// HTTP requests never carry it.
func WithOrganization(ctx context.Context, o *customer.Organization, keyID string) context.Context {
	return context.WithValue(ctx, ctxSignedIn, signedIn{org: o, keyID: keyID})
}

func (s *Server) authenticate(ctx context.Context, key string) (*customer.Organization, error) {
	now := time.Now()
	o, epoch, ok := s.keys.get(key, now)
	if ok {
		return o, nil
	}
	o, err := s.store.Authenticate(ctx, key)
	if err != nil {
		return nil, err
	}
	if s.cfg.AuthCacheTTL > 0 {
		s.keys.put(key, o, now.Add(s.cfg.AuthCacheTTL), epoch)
	}
	return o, nil
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// adminOnly guards ops endpoints with LINKIT_ADMIN_TOKEN, as a bearer token
// or as the basic-auth password (for browsers).
func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			_, token, ok = r.BasicAuth()
		}
		if s.cfg.AdminToken == "" || !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="linkit admin"`)
			s.writeError(w, r, &customer.Error{Code: customer.EUNAUTHORIZED, Message: "Admin token required"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authEntry is a cached verified key.
type authEntry struct {
	org     *customer.Organization
	expires time.Time
}

// authCache holds verified keys with their organization (settings included).
type authCache struct {
	mu      sync.Mutex
	entries map[string]authEntry
	// epoch counts drops: an organization read from the store while a drop
	// happened may predate the change, so it is not cached.
	epoch uint64
}

// get returns a live entry, else the epoch to hand to put.
func (c *authCache) get(key string, now time.Time) (*customer.Organization, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.After(e.expires) {
		return nil, c.epoch, false
	}
	return e.org, c.epoch, true
}

func (c *authCache) put(key string, org *customer.Organization, expires time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return
	}
	if len(c.entries) > 10000 { // bound memory under key-guessing traffic
		clear(c.entries)
	}
	c.entries[key] = authEntry{org: org, expires: expires}
}

// dropOrg forgets every key of orgID, so its next request reads the
// organization (and its settings) again.
func (c *authCache) dropOrg(orgID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for key, e := range c.entries {
		if e.org.ID == orgID {
			delete(c.entries, key)
		}
	}
}
