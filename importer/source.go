package importer

import (
	"io"
	"sync/atomic"

	"github.com/linkitworks/customers/customer"
)

// decompressedLimit fails reads past max bytes of decompressed data: a
// small gzip body can hold a file many times the upload limit.
type decompressedLimit struct {
	r         io.Reader
	left, max int64
}

func (l *decompressedLimit) Read(p []byte) (int, error) {
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1] // one byte past the limit tells a larger file apart
	}
	n, err := l.r.Read(p)
	if l.left -= int64(n); l.left < 0 {
		return 0, &customer.Error{Code: customer.ETOOLARGE, Message: "File too large once decompressed",
			Details: map[string]any{"max_bytes": l.max}}
	}
	return n, err
}

// countingReader counts the bytes read from the caller's reader.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// source is a fixed-size read buffer over the decoded text stream. Parsers
// consume buf[r:w] directly; fill refills it once it is used up.
type source struct {
	rd   io.Reader
	buf  []byte
	r, w int
	err  error // sticky: io.EOF or the read error
}

const sourceSize = 64 << 10

func newSource(rd io.Reader) *source {
	return &source{rd: rd, buf: make([]byte, sourceSize)}
}

// fill moves unread bytes to the front and reads more. It reports whether
// new bytes were added.
func (s *source) fill() bool {
	if s.r > 0 {
		s.w = copy(s.buf, s.buf[s.r:s.w])
		s.r = 0
	}
	if s.err != nil || s.w == len(s.buf) {
		return false
	}
	for range 100 {
		n, err := s.rd.Read(s.buf[s.w:])
		s.w += n
		if err != nil {
			s.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	s.err = io.ErrNoProgress
	return false
}

// fillAll fills the buffer completely or up to the end of the input.
func (s *source) fillAll() {
	for s.w < len(s.buf) && s.err == nil {
		s.fill()
	}
}

// readErr returns the pending non-EOF read error, if any.
func (s *source) readErr() error {
	if s.err == io.EOF {
		return nil
	}
	return s.err
}

// peekByte returns the next byte without consuming it.
func (s *source) peekByte() (byte, bool) {
	if s.r >= s.w && !s.fill() {
		return 0, false
	}
	return s.buf[s.r], true
}

// skipSpace consumes JSON whitespace (and stray BOMs / NULs) and returns
// the next byte.
func (s *source) skipSpace() (byte, bool) {
	for {
		c, ok := s.peekByte()
		if !ok {
			return 0, false
		}
		switch c {
		case ' ', '\t', '\n', '\r', 0:
			s.r++
		case 0xEF: // U+FEFF encoded in UTF-8
			if s.w-s.r < 3 {
				s.fill()
			}
			if s.w-s.r >= 3 && s.buf[s.r+1] == 0xBB && s.buf[s.r+2] == 0xBF {
				s.r += 3
				continue
			}
			return c, true
		default:
			return c, true
		}
	}
}
