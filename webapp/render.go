// Templates, their helper functions and the error pages.

package webapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// pageNames are the templates/<name>.html files; each is parsed with the
// layout into a set of its own, so every page defines "content".
var pageNames = []string{"login", "error", "imports", "import", "customers", "customer", "duplicates", "duplicate",
	"settings", "locations"}

type pages struct{ sets map[string]*template.Template }

func mustParsePages() *pages {
	p := &pages{sets: map[string]*template.Template{}}
	for _, name := range pageNames {
		t := template.New(name).Funcs(funcs)
		p.sets[name] = template.Must(t.ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
	return p
}

// view is what every template gets.
type view struct {
	Session *session
	Nav     string // the page's section, for the menu
	Data    any
	Path    string
}

// CSRF is the token forms and htmx send back.
func (v view) CSRF() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.CSRFToken
}

// OrgName names the signed-in organization.
func (v view) OrgName() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.Org.Name
}

// render writes a whole page.
func (a *App) render(w http.ResponseWriter, r *http.Request, status int, name string, s *session, data any) {
	a.execute(w, r, status, name, "layout", s, data)
}

// fragment writes one named template of a page: an htmx swap.
func (a *App) fragment(w http.ResponseWriter, r *http.Request, status int, name, tmpl string, s *session, data any) {
	a.execute(w, r, status, name, tmpl, s, data)
}

func (a *App) execute(w http.ResponseWriter, r *http.Request, status int, name, tmpl string, s *session, data any) {
	var buf bytes.Buffer
	nav, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/app/"), "/")
	if err := a.pages.sets[name].ExecuteTemplate(&buf, tmpl, view{Session: s, Nav: nav, Data: data, Path: r.URL.Path}); err != nil {
		a.log.ErrorContext(r.Context(), "web template failed", "page", name, "template", tmpl, "err", err)
		http.Error(w, "This page could not be shown; try again, or go back to /app/.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// errorView is the error page's (or fragment's) data.
type errorView struct {
	Status  int
	Message string
	Fields  []string
}

// renderError shows message: inside the page for htmx, else as a page.
func (a *App) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, message string, fields ...string) {
	ev := errorView{Status: status, Message: message, Fields: fields}
	if r.Header.Get("HX-Request") != "" {
		a.fragment(w, r, status, "error", "problem", s, ev)
		return
	}
	a.render(w, r, status, "error", s, ev)
}

// renderFailure turns a handler's error into a page a merchant can act on;
// internal errors are logged and shown without their text.
func (a *App) renderFailure(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		switch {
		case ae.Status == http.StatusNotFound:
			a.renderError(w, r, s, http.StatusNotFound, "Not found: "+ae.Message+". It may belong to another organization or have been deleted.")
		case ae.Status == http.StatusUnauthorized:
			a.signInAgain(w, r, errNotSignedIn)
		case ae.Status < 500:
			a.renderError(w, r, s, ae.Status, ae.Message, ae.Fields()...)
		default:
			a.renderError(w, r, s, ae.Status, ae.Message+" Try again in a moment.")
		}
		return
	}
	a.log.ErrorContext(r.Context(), "web page failed", "route", r.Pattern, "err", err)
	a.renderError(w, r, s, http.StatusInternalServerError, "Something went wrong on our side. Try again; if it keeps happening, tell your administrator the time it happened.")
}

var funcs = template.FuncMap{
	"num":      formatNumber,
	"pct":      formatPercent,
	"duration": formatDuration,
	"when":     formatTime,
	"bytes":    formatBytes,
	"str":      str,
	"get":      get,
	"list":     list,
	"keys":     keys,
	"has":      has,
	"join":     func(sep string, v any) string { return strings.Join(strs(v), sep) },
	"json":     func(v any) string { b, _ := json.Marshal(v); return string(b) },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"truthy": truthy,
	"differ": func(a, b any) bool { return str(a) != str(b) },
	"add":    func(a, b int) int { return a + b },
	"itoa":   strconv.Itoa,
	"change": describeChange,
}

// describeChange writes a history change ({"from", "to"} or a value) for
// people: "old → new".
func describeChange(v any) string {
	show := func(x any) string {
		switch x := x.(type) {
		case nil:
			return "(empty)"
		case string:
			if x == "" {
				return "(empty)"
			}
			return x
		}
		b, _ := json.Marshal(x)
		return string(b)
	}
	if m, ok := v.(map[string]any); ok {
		from, hasFrom := m["from"]
		to, hasTo := m["to"]
		if hasFrom || hasTo {
			return show(from) + " → " + show(to)
		}
	}
	return show(v)
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}

// formatNumber writes 1234567 as "1,234,567" and keeps one decimal of
// fractions.
func formatNumber(v any) string {
	f, ok := number(v)
	if !ok {
		return "—"
	}
	neg := f < 0
	f = math.Abs(f)
	whole := int64(f)
	frac := ""
	if f-float64(whole) >= 0.05 && f < 1000 {
		frac = strconv.FormatFloat(f-float64(whole), 'f', 1, 64)[1:]
	}
	s := strconv.FormatInt(whole, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String() + frac
	if neg {
		out = "-" + out
	}
	return out
}

func formatPercent(v any) string {
	f, _ := number(v)
	return strconv.Itoa(int(math.Floor(f*100))) + "%"
}

func formatDuration(v any) string {
	f, ok := number(v)
	if !ok || f < 0 {
		return "—"
	}
	d := time.Duration(f * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
}

func formatTime(v any) string {
	t, err := time.Parse(time.RFC3339Nano, str(v))
	if err != nil {
		return str(v)
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func formatBytes(v any) string {
	f, _ := number(v)
	switch {
	case f >= 1<<30:
		return fmt.Sprintf("%.1f GB", f/(1<<30))
	case f >= 1<<20:
		return fmt.Sprintf("%.1f MB", f/(1<<20))
	case f >= 1<<10:
		return fmt.Sprintf("%.0f KB", f/(1<<10))
	}
	return fmt.Sprintf("%.0f bytes", f)
}

func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

// get reads m[key] for keys templates cannot name (spaces, dots).
func get(m any, key string) any {
	if mm, ok := m.(map[string]any); ok {
		return mm[key]
	}
	return nil
}

func list(v any) []any {
	xs, _ := v.([]any)
	return xs
}

func strs(v any) []string {
	switch v := v.(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			out = append(out, str(x))
		}
		return out
	}
	return nil
}

func keys(v any) []string {
	m, _ := v.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func has(v any, x string) bool {
	for _, s := range strs(v) {
		if s == x {
			return true
		}
	}
	return false
}

func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case json.Number:
		f, _ := v.Float64()
		return f != 0
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

// pager is a list's paging links, keeping the other query parameters.
type pager struct {
	Total      string
	Page       int
	Prev, Next string
}

func pagerFor(r *http.Request, meta map[string]any) pager {
	page, _ := strconv.Atoi(pageParam(r))
	p := pager{Total: formatNumber(meta["total"]), Page: page}
	link := func(n int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		return r.URL.Path + "?" + q.Encode()
	}
	if page > 1 {
		p.Prev = link(page - 1)
	}
	if truthy(meta["hasMore"]) {
		p.Next = link(page + 1)
	}
	return p
}
