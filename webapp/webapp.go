// Package webapp is the merchant web app at /app/ (SPEC §10.5): server-rendered
// html/template pages with htmx for the live parts, every asset embedded.
// Pages read and write through the JSON API in-process (the same handler,
// the session's organization attached with api.WithOrganization), so the app
// obeys exactly the public contract and has no business rules of its own.
package webapp

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/telemetry"
)

//go:embed static templates
var files embed.FS

// Config tunes the app.
type Config struct {
	// SessionTTL is how long a sign-in lasts (default 12 h).
	SessionTTL time.Duration
}

// App serves /app/.
type App struct {
	cfg   Config
	api   http.Handler
	store *postgres.Store
	log   *slog.Logger
	mux   *http.ServeMux
	pages *pages
}

// New builds the app over the API handler it calls in-process and the store
// that keeps sessions.
func New(cfg Config, apiHandler http.Handler, store *postgres.Store, log *slog.Logger) *App {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, api: apiHandler, store: store, log: log, mux: http.NewServeMux(), pages: mustParsePages()}
	a.routes()
	return a
}

// Mount answers /app/ with the app, / with a redirect to it, and everything
// else with the API: the one handler of the binary's HTTP port.
func Mount(app *App, apiHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/app/", telemetry.HTTPHandler(app)) // the API has its own spans
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/app/", http.StatusFound)
	})
	mux.Handle("/", apiHandler)
	return mux
}

func (a *App) routes() {
	static, _ := fs.Sub(files, "static")
	a.mux.Handle("GET /app/static/", http.StripPrefix("/app/static/", staticFiles(http.FileServerFS(static))))

	a.mux.HandleFunc("GET /app/login", a.handleLoginPage)
	a.mux.HandleFunc("POST /app/login", a.handleLogin)
	a.mux.Handle("POST /app/logout", a.signedIn(a.handleLogout))

	a.mux.Handle("GET /app/{$}", a.signedIn(func(w http.ResponseWriter, r *http.Request, s *session) error {
		http.Redirect(w, r, "/app/imports", http.StatusSeeOther)
		return nil
	}))

	// Imports.
	a.mux.Handle("GET /app/imports", a.signedIn(a.handleImports))
	a.mux.Handle("POST /app/imports/preview", a.signedIn(a.handleImportPreview))
	a.mux.Handle("POST /app/imports", a.signedIn(a.handleImportStart))
	a.mux.Handle("GET /app/imports/{id}", a.signedIn(a.handleImport))
	a.mux.Handle("GET /app/imports/{id}/progress", a.signedIn(a.handleImportProgress))
	a.mux.Handle("GET /app/imports/{id}/errors.csv", a.signedIn(a.handleImportErrorCSV))
	a.mux.Handle("POST /app/imports/{id}/cancel", a.signedIn(a.handleImportCancel))
	a.mux.Handle("POST /app/imports/{id}/revert", a.signedIn(a.handleImportRevert))
	a.mux.Handle("POST /app/imports/{id}/retry", a.signedIn(a.handleImportRetry))

	// Customers.
	a.mux.Handle("GET /app/customers", a.signedIn(a.handleCustomers))
	a.mux.Handle("GET /app/customers/{id}", a.signedIn(a.handleCustomer))
	a.mux.Handle("POST /app/customers/{id}/unmerge", a.signedIn(a.handleUnmerge))

	// Duplicate review.
	a.mux.Handle("GET /app/duplicates", a.signedIn(a.handleDuplicates))
	a.mux.Handle("GET /app/duplicates/{id}", a.signedIn(a.handleDuplicate))
	a.mux.Handle("POST /app/duplicates/{id}/merge", a.signedIn(a.handleDuplicateMerge))
	a.mux.Handle("POST /app/duplicates/{id}/dismiss", a.signedIn(a.handleDuplicateDismiss))

	// Settings, locations, groups.
	a.mux.Handle("GET /app/settings", a.signedIn(a.handleSettings))
	a.mux.Handle("POST /app/settings", a.signedIn(a.handleSettingsSave))
	a.mux.Handle("GET /app/locations", a.signedIn(a.handleLocations))
	a.mux.Handle("POST /app/locations", a.signedIn(a.handleLocationCreate))
	a.mux.Handle("POST /app/groups", a.signedIn(a.handleGroupCreate))
}

// staticFiles lets browsers cache the embedded assets briefly.
func staticFiles(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP adds the security headers every answer of the app carries and
// writes one access log line (the route, never the URL: queries hold
// customer searches).
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Scripts only from our own files: no inline script, no eval, so an
	// injected tag cannot run.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	start := time.Now()
	rec := &api.StatusRecorder{ResponseWriter: w}
	a.mux.ServeHTTP(rec, r)
	telemetry.NameHTTPSpan(r.Context(), r.Method, r.Pattern, "")
	a.log.InfoContext(r.Context(), "web request", "method", r.Method, "route", r.Pattern, "status", rec.Status,
		"duration_ms", float64(time.Since(start).Microseconds())/1000)
}
