package customer

import (
	"errors"
	"fmt"
)

// Code classifies an Error; the API maps each code to one HTTP status.
type Code string

const (
	EINVALID      Code = "invalid"      // 422: validation failed
	EBADREQUEST   Code = "bad_request"  // 400: malformed JSON or parameters
	ETIMEOUT      Code = "timeout"      // 408: the client sent its request too slowly
	EUNAUTHORIZED Code = "unauthorized" // 401
	EFORBIDDEN    Code = "forbidden"    // 403
	ENOTFOUND     Code = "not_found"    // 404
	ECONFLICT     Code = "conflict"     // 409
	ETOOLARGE     Code = "too_large"    // 413
	EUNSUPPORTED  Code = "unsupported"  // 415
	ERATELIMIT    Code = "rate_limited" // 429
	EUNAVAILABLE  Code = "unavailable"  // 503: a dependency is down
	EINTERNAL     Code = "internal"     // 500: never shown in detail
	EMOVED        Code = "moved"        // 301: a merged customer redirects to its survivor
	EGONE         Code = "gone"         // 410: an erased customer (its personal data removed on request)
)

// Error is the one application error type. Message is safe to show to users;
// Details names the offending fields (field → problem) or carries ids.
type Error struct {
	Code    Code
	Message string
	Details any
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf builds an Error with a formatted message and no details.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid is the 422 error for field problems.
func Invalid(fields map[string]string) *Error {
	return &Error{Code: EINVALID, Message: "Validation error", Details: fields}
}

// NotFound is the 404 error for a resource by id.
func NotFound(what, id string) *Error {
	return &Error{Code: ENOTFOUND, Message: what + " not found", Details: map[string]string{"id": id}}
}

// Erased is the 410 error for a customer erased on request (the id existed;
// nothing about the person is left to show).
func Erased(id string) *Error {
	return &Error{Code: EGONE, Message: "Customer was erased", Details: map[string]string{"id": id}}
}

// ErrorCode returns the code of the first Error in err's chain, EINTERNAL for
// any other non-nil error.
func ErrorCode(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// AsError returns the Error in err's chain or an internal error that hides
// the original text from users.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: EINTERNAL, Message: "Internal error"}
}
