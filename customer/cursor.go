package customer

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Cursor is a position in the customers sorted by (updated, id): the last
// customer of a page. Clients see it only encoded, as an opaque string.
type Cursor struct {
	Updated time.Time
	ID      string
}

// cursorVersion prefixes encoded cursors so that their format can change
// without misreading old ones.
const cursorVersion = "u1"

// Encode is the cursor as an opaque, URL-safe string.
func (c Cursor) Encode() string {
	raw := cursorVersion + "." + strconv.FormatInt(c.Updated.UnixMicro(), 10) + "." + c.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// errCursor is returned for anything Encode did not write.
var errCursor = errors.New("not a cursor")

// DecodeCursor reads a string written by Encode.
func DecodeCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return Cursor{}, errCursor
	}
	version, rest, ok := strings.Cut(string(raw), ".")
	if !ok || version != cursorVersion {
		return Cursor{}, errCursor
	}
	micros, id, ok := strings.Cut(rest, ".")
	// The id goes to PostgreSQL as text: it must be one.
	if !ok || id == "" || len(id) > 64 || !utf8.ValidString(id) || strings.IndexByte(id, 0) >= 0 {
		return Cursor{}, errCursor
	}
	us, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return Cursor{}, errCursor
	}
	return Cursor{Updated: time.UnixMicro(us).UTC(), ID: id}, nil
}
