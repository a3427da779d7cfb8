package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/linkitworks/customers/customer"
)

// badText is the problem of a value PostgreSQL would refuse as text.
const badText = "must be valid UTF-8 without NUL bytes"

// cleanText reports whether s can be stored as PostgreSQL text.
func cleanText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// checkedHeaders are the request headers the API reads.
var checkedHeaders = []string{"Authorization", "Idempotency-Key", "X-Organization-ID", "Content-Type", "Prefer"}

// withCleanInput refuses NUL bytes and invalid UTF-8 in the path (400),
// the headers the API reads (400) and query parameters (422), naming the
// part, before any of them reaches a handler, the key cache or PostgreSQL.
func (s *Server) withCleanInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := uncleanInput(r); err != nil {
			if isLocationScoped(r.URL.Path) {
				s.writeScopedError(w, r, err)
			} else {
				s.writeError(w, r, err)
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

func uncleanInput(r *http.Request) error {
	malformed := func(part string) error {
		return &customer.Error{Code: customer.EBADREQUEST, Message: "Malformed request",
			Details: map[string]string{part: badText}}
	}
	if !cleanText(r.URL.Path) {
		return malformed("path")
	}
	for _, h := range checkedHeaders {
		for _, v := range r.Header.Values(h) {
			if !cleanText(v) {
				return malformed(h)
			}
		}
	}
	for name, vals := range r.URL.Query() {
		if !cleanText(name) {
			return customer.Invalid(map[string]string{"query": badText})
		}
		for _, v := range vals {
			if !cleanText(v) {
				return customer.Invalid(map[string]string{name: badText})
			}
		}
	}
	return nil
}

// freeFormMembers hold objects whose keys are the client's own (decoded
// into maps): "Size" and "size" there are two entries, not one member.
var freeFormMembers = map[string]bool{"attributes": true, "external_system_data": true}

// jsonFrame is an open object or array while checkJSON walks a body.
type jsonFrame struct {
	object   bool
	path     string
	freeForm bool
	seen     map[string]bool
	key      string // the member whose value comes next
	wantKey  bool
	index    int
}

// child is the path of the next value in f.
func (f *jsonFrame) child() string {
	if !f.object {
		return f.path + "[" + strconv.Itoa(f.index) + "]"
	}
	if f.path == "" {
		return f.key
	}
	return f.path + "." + f.key
}

// next moves f past one value.
func (f *jsonFrame) next() {
	if f.object {
		f.wantKey = true
	} else {
		f.index++
	}
}

// checkJSON walks a body that decoded without error. Every string must be
// valid UTF-8 without NUL bytes (the decoder silently replaces invalid
// bytes, PostgreSQL refuses NUL), and no object may name a member twice,
// in any case: the decoder matches names case-insensitively and keeps the
// last. Problems are 422 naming the member.
func checkJSON(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var stack []*jsonFrame
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil // only the first value counts; decode judged the rest
		}
		var top *jsonFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		path := ""
		if top != nil && !(top.object && top.wantKey) {
			path = top.child()
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '}' || t == ']' {
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return nil
				}
				continue
			}
			f := &jsonFrame{object: t == '{', path: path, wantKey: true, seen: map[string]bool{}}
			if top != nil {
				f.freeForm = top.freeForm || (top.object && freeFormMembers[top.key])
				top.next()
			}
			stack = append(stack, f)
		case string:
			text := utf8.Valid(raw[start:dec.InputOffset()]) && strings.IndexByte(t, 0) < 0
			if top != nil && top.object && top.wantKey {
				name := t
				if !top.freeForm {
					name = strings.ToLower(t)
				}
				field := (&jsonFrame{object: true, path: top.path, key: t}).child()
				switch {
				case !text:
					return customer.Invalid(map[string]string{cmp.Or(top.path, "body"): "member names " + badText})
				case top.seen[name] && top.freeForm:
					return customer.Invalid(map[string]string{field: "must appear once"})
				case top.seen[name]:
					return customer.Invalid(map[string]string{field: "must appear once (member names are case-insensitive)"})
				}
				top.seen[name] = true
				top.key, top.wantKey = t, false
				continue
			}
			if !text {
				return customer.Invalid(map[string]string{cmp.Or(path, "body"): badText})
			}
			if top != nil {
				top.next()
			}
		default:
			if top != nil {
				top.next()
			}
		}
	}
}
