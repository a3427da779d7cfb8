// Sign-in, sign-out, the session middleware and CSRF checks.

package webapp

import (
	"crypto/subtle"

	"net/http"
	"net/url"
	"strings"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
)

// cookieName holds the session token, nothing else: the API key itself is
// only ever in the sign-in POST body.
const cookieName = "linkit_session"

// session is the signed-in browser of a request.
type session struct {
	*postgres.WebSession
	token string
}

// pageHandler is a page or action of a signed-in browser; a returned error
// is shown as the error page.
type pageHandler func(w http.ResponseWriter, r *http.Request, s *session) error

// signedIn loads the session (else: the sign-in page, or 401 for htmx and
// POSTs), and checks the CSRF token of every state-changing request.
func (a *App) signedIn(h pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		s, err := a.loadSession(r)
		if err != nil {
			a.signInAgain(w, r, err)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) || !validCSRF(r, s.CSRFToken) {
				a.renderError(w, r, s, http.StatusForbidden, "This form expired or did not come from this app. Reload the page and try again.")
				return
			}
		}
		if err := h(w, r, s); err != nil {
			a.renderFailure(w, r, s, err)
		}
	})
}

func (a *App) loadSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil, errNotSignedIn
	}
	ws, err := a.store.FindWebSession(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	return &session{WebSession: ws, token: c.Value}, nil
}

var errNotSignedIn = &customer.Error{Code: customer.EUNAUTHORIZED, Message: "Not signed in"}

// signInAgain sends a browser without a live session to the sign-in page.
func (a *App) signInAgain(w http.ResponseWriter, r *http.Request, err error) {
	if e := customer.AsError(err); e.Code != customer.EUNAUTHORIZED {
		a.log.ErrorContext(r.Context(), "web session lookup failed", "err", err)
		http.Error(w, "The service is unavailable; try again in a moment.", http.StatusServiceUnavailable)
		return
	}
	clearCookie(w, r)
	target := "/app/login"
	if r.Method == http.MethodGet && r.URL.Path != "/app/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	if r.Header.Get("HX-Request") != "" {
		// htmx follows this with a full page load.
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet {
		a.renderError(w, r, nil, http.StatusUnauthorized, "You are signed out. Sign in again, then repeat what you did.")
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// validCSRF accepts the token from htmx's X-CSRF-Token header or a plain
// form's csrf_token field.
func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		got = r.PostFormValue("csrf_token")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin refuses a POST another site's page sent (when the browser says
// where it came from); the CSRF token stays the main defence.
func sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return origin == ""
	}
	u, err := url.Parse(origin)
	// Behind a proxy that rewrites Host, the browser's host is the forwarded one.
	return err == nil && (u.Host == r.Host || u.Host == r.Header.Get("X-Forwarded-Host"))
}

// secure tells whether the browser reached us over TLS (directly or behind
// a proxy that says so), so the cookie is sent only over TLS then.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, token string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/app/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

func clearCookie(w http.ResponseWriter, r *http.Request) { setCookie(w, r, "", -1) }

func (a *App) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s, err := a.loadSession(r); err == nil && s != nil {
		http.Redirect(w, r, nextPage(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	a.render(w, r, http.StatusOK, "login", nil, map[string]any{"Next": nextPage(r.URL.Query().Get("next"))})
}

// handleLogin trades an API key for a session. The key is checked and
// forgotten: it is never logged, stored, echoed or put in a URL.
func (a *App) handleLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !sameOrigin(r) {
		a.renderError(w, r, nil, http.StatusForbidden, "This sign-in form did not come from this app. Open the sign-in page and try again.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	next := nextPage(r.PostFormValue("next"))
	fail := func(status int, msg string) {
		a.render(w, r, status, "login", nil, map[string]any{"Next": next, "Error": msg})
	}
	if key == "" {
		fail(http.StatusUnprocessableEntity, "Paste your API key (it starts with lk_).")
		return
	}
	token, _, err := a.store.CreateWebSession(r.Context(), key, a.cfg.SessionTTL)
	if err != nil {
		if e := customer.AsError(err); e.Code == customer.EUNAUTHORIZED {
			fail(http.StatusUnauthorized, "That key was not accepted: check that you copied all of it, or ask your administrator for a new one (linkit key create).")
			return
		}
		a.log.ErrorContext(r.Context(), "web sign-in failed", "err", err)
		fail(http.StatusServiceUnavailable, "Signing in failed on our side; try again in a moment.")
		return
	}
	setCookie(w, r, token, int(a.cfg.SessionTTL.Seconds()))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *App) handleLogout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := a.store.DeleteWebSession(r.Context(), s.token); err != nil {
		return err
	}
	clearCookie(w, r)
	redirect(w, r, "/app/login?signed_out=1")
	return nil
}

// nextPage keeps a post-sign-in destination inside the app.
func nextPage(next string) string {
	if !strings.HasPrefix(next, "/app/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/app/imports"
	}
	return next
}

// redirect sends the browser to target: htmx requests by HX-Redirect (a
// full page load), plain forms by 303.
func redirect(w http.ResponseWriter, r *http.Request, target string) {
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
