package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/linkitworks/customers/customer"
)

// statusOf is the one table from domain error codes to HTTP statuses.
var statusOf = map[customer.Code]int{
	customer.EINVALID:      http.StatusUnprocessableEntity,
	customer.EBADREQUEST:   http.StatusBadRequest,
	customer.ETIMEOUT:      http.StatusRequestTimeout,
	customer.EUNAUTHORIZED: http.StatusUnauthorized,
	customer.EFORBIDDEN:    http.StatusForbidden,
	customer.ENOTFOUND:     http.StatusNotFound,
	customer.ECONFLICT:     http.StatusConflict,
	customer.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	customer.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	customer.ERATELIMIT:    http.StatusTooManyRequests,
	customer.EUNAVAILABLE:  http.StatusServiceUnavailable,
	customer.EINTERNAL:     http.StatusInternalServerError,
	customer.EMOVED:        http.StatusMovedPermanently,
	customer.EGONE:         http.StatusGone,
}

// errorBody is the documented error shape.
type errorBody struct {
	Code    int    `json:"code"`
	Error   string `json:"error"`
	Details any    `json:"details,omitempty"`
}

// envelope wraps success bodies.
type envelope struct {
	Data any            `json:"data"`
	Meta *customer.Page `json:"meta,omitempty"`
}

func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeData answers {"data": v}.
func writeData(w http.ResponseWriter, status int, v any) {
	encode(w, status, envelope{Data: v})
}

// writeList answers {"data": [...], "meta": {...}}.
func writeList(w http.ResponseWriter, v any, page customer.Page) {
	if cs, ok := v.([]*customer.Customer); ok {
		buf := listBodies.Get().(*[]byte)
		defer listBodies.Put(buf)
		if b, err := customerList((*buf)[:0], cs, page); err == nil {
			if cap(b) <= maxPooledListBody {
				*buf = b
			}
			// A known length: the body goes out unchunked, one write to
			// the socket fewer than chunked encoding's.
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(b)
			return
		}
	}
	encode(w, http.StatusOK, envelope{Data: v, Meta: &page})
}

// listBodies are customer list bodies' buffers, reused: a search page's
// ~40 KB body allocated anew each time was most of the bytes a search
// allocated, which the collector then paid for (issue 24). The writers
// under writeList copy what they are given (the socket's buffer, an
// idempotent answer's record), so a buffer is free again once written.
var listBodies = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledListBody is the largest buffer kept for reuse (a page of 200
// customers with their relations; larger ones are left to the collector).
const maxPooledListBody = 1 << 20

// customerList appends to b the list body of cs, byte for byte what encode
// writes, each customer appended in place (Customer.AppendJSON):
// encoding/json would check and copy each one's output again, a third of a
// search's Go time (issue 24).
func customerList(b []byte, cs []*customer.Customer, page customer.Page) ([]byte, error) {
	b = slices.Grow(b, 2048*len(cs)+128)
	b = append(b, `{"data":[`...)
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		if c == nil {
			b = append(b, "null"...)
			continue
		}
		var err error
		if b, err = c.AppendJSON(b); err != nil {
			return nil, err
		}
	}
	meta, err := json.Marshal(&page)
	if err != nil {
		return nil, err
	}
	b = append(append(append(b, `],"meta":`...), meta...), "}\n"...)
	return b, nil
}

// writeError maps err to its status and documented body. Internal errors
// are logged here, once, and shown to users only as "Internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, status := s.prepareError(w, r, err)
	encode(w, status, errorBody{Code: status, Error: e.Message, Details: e.Details})
}

// prepareError maps err to its domain error and status, logs internal
// errors and sets the redirect of a merged customer; the caller writes the body.
func (s *Server) prepareError(w http.ResponseWriter, r *http.Request, err error) (*customer.Error, int) {
	e := customer.AsError(err)
	status := statusOf[e.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "err", err, "status", status)
	}
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		// RFC 6750: the scheme to use, and whether the key sent was refused.
		challenge := `Bearer realm="linkit"`
		if _, sent := bearer(r); sent {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	if e.Code == customer.EMOVED {
		if d, ok := e.Details.(map[string]string); ok && d["merged_into"] != "" {
			w.Header().Set("Location", strings.Replace(r.URL.Path, d["id"], d["merged_into"], 1))
		}
	}
	return e, status
}

// maxJSONBytes bounds JSON request bodies.
const maxJSONBytes = 1 << 20

// decode reads a JSON body into v: 415 for another content type, 413 when
// too large, 400 when malformed, 422 naming the field of a wrong type, of a
// string PostgreSQL cannot store, or of a member given twice (checkJSON).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBytes))
	if err != nil {
		return jsonError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return customer.Errorf(customer.EBADREQUEST, "Malformed JSON: unexpected data after the object")
	}
	return checkJSON(raw)
}

func requireJSON(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return &customer.Error{Code: customer.EUNSUPPORTED,
			Message: "Content-Type must be application/json",
			Details: map[string]string{"content_type": r.Header.Get("Content-Type")}}
	}
	return nil
}

// jsonError classifies a decoding error.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &customer.Error{Code: customer.ETIMEOUT, Message: "Request body not received in time"}
	case errors.As(err, &maxErr):
		return &customer.Error{Code: customer.ETOOLARGE, Message: "Request body too large",
			Details: map[string]any{"max_bytes": maxErr.Limit}}
	case errors.As(err, &typeErr):
		// The path names embedded Go structs (tradeInput.credit_limit);
		// clients only know the JSON member.
		field := strings.ReplaceAll(typeErr.Field, "tradeInput.", "")
		if field == "" {
			return customer.Errorf(customer.EINVALID, "Request body must be a JSON object")
		}
		return customer.Invalid(map[string]string{field: "must be " + jsonKind(typeErr.Type.Kind().String())})
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return &customer.Error{Code: customer.EBADREQUEST, Message: "Malformed JSON"}
	case errors.Is(err, io.EOF):
		return &customer.Error{Code: customer.EBADREQUEST, Message: "Request body is empty"}
	default:
		return &customer.Error{Code: customer.EBADREQUEST, Message: fmt.Sprintf("Malformed JSON: %s", safeJSONMessage(err))}
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	default:
		return "a number"
	}
}

// safeJSONMessage keeps decoder messages short and free of Go type names.
func safeJSONMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "Go "); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimPrefix(msg, "json: ")
}

// discardLogger is used when a Server has no logger.
var discardLogger = slog.New(slog.DiscardHandler)

// setLocation sets the Location of a 201: the created resource, id, in
// collection (the POST's own path for most).
func setLocation(w http.ResponseWriter, collection, id string) {
	w.Header().Set("Location", strings.TrimRight(collection, "/")+"/"+url.PathEscape(id))
}
