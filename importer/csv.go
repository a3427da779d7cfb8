package importer

// csvParser is a streaming RFC 4180 parser with the semantics of
// encoding/csv (LazyQuotes: true, FieldsPerRecord: -1), plus:
//   - a lone CR outside a quoted field ends the record (old Mac files);
//   - each field is capped at maxField bytes (the rest of it is skipped and
//     the field index recorded in over), and at most maxStore fields of a
//     record are kept, so memory stays bounded whatever the input.
type csvParser struct {
	src      *source
	delim    byte
	maxField int
	maxStore int

	rec       []byte // bytes of the stored fields of the current record
	ends      []int  // end offset in rec of each stored field
	over      []int  // indices of fields longer than maxField
	nFields   int    // fields in the record, stored or not
	fieldOff  int
	fieldOver bool
	quoted    bool // some field of the record was quoted
}

const (
	stRecStart = iota
	stFieldStart
	stUnquoted
	stQuoted
	stQuotedCR
	stQuoteInQuoted
)

func (p *csvParser) appendField(b []byte) {
	if p.fieldOver || p.nFields >= p.maxStore || len(b) == 0 {
		return
	}
	if len(p.rec)-p.fieldOff+len(b) > p.maxField {
		p.fieldOver = true
		return
	}
	p.rec = append(p.rec, b...)
}

func (p *csvParser) appendByte(c byte) {
	if p.fieldOver || p.nFields >= p.maxStore {
		return
	}
	if len(p.rec)-p.fieldOff+1 > p.maxField {
		p.fieldOver = true
		return
	}
	p.rec = append(p.rec, c)
}

func (p *csvParser) endField() {
	if p.nFields < p.maxStore {
		if p.fieldOver {
			p.rec = p.rec[:p.fieldOff]
			p.over = append(p.over, p.nFields)
		}
		p.ends = append(p.ends, len(p.rec))
	}
	p.nFields++
	p.fieldOff = len(p.rec)
	p.fieldOver = false
}

// readRecord parses the next record. It returns false at the end of the
// input (err is the read error, nil at a clean end). Empty lines are
// skipped.
func (p *csvParser) readRecord() (bool, error) {
	p.rec, p.ends, p.over = p.rec[:0], p.ends[:0], p.over[:0]
	p.nFields, p.fieldOff, p.fieldOver, p.quoted = 0, 0, false, false
	s := p.src
	delim := p.delim
	st := stRecStart
	for {
		if s.r >= s.w && !s.fill() {
			if err := s.readErr(); err != nil {
				return false, err
			}
			if st == stRecStart {
				return false, nil
			}
			// End of input ends the record; a trailing lone CR inside an
			// unterminated quoted field is dropped like encoding/csv does.
			p.endField()
			return true, nil
		}
		b := s.buf[s.r:s.w]
		switch st {
		case stRecStart:
			i := 0
			for i < len(b) && (b[i] == '\n' || b[i] == '\r') {
				i++
			}
			s.r += i
			if i < len(b) {
				st = stFieldStart
			}
		case stFieldStart:
			switch c := b[0]; c {
			case '"':
				s.r++
				st = stQuoted
				p.quoted = true
			case delim:
				s.r++
				p.endField()
			case '\n', '\r':
				s.r++
				p.endField()
				return true, nil
			default:
				st = stUnquoted
			}
		case stUnquoted:
			i := 0
			for i < len(b) {
				c := b[i]
				if c == delim || c == '\n' || c == '\r' {
					break
				}
				i++
			}
			p.appendField(b[:i])
			s.r += i
			if i < len(b) {
				s.r++
				p.endField()
				if b[i] != delim {
					return true, nil
				}
				st = stFieldStart
			}
		case stQuoted:
			i := 0
			for i < len(b) && b[i] != '"' && b[i] != '\r' {
				i++
			}
			p.appendField(b[:i])
			s.r += i
			if i < len(b) {
				s.r++
				if b[i] == '"' {
					st = stQuoteInQuoted
				} else {
					st = stQuotedCR
				}
			}
		case stQuotedCR: // CRLF inside quotes becomes LF; a lone CR is kept
			if b[0] == '\n' {
				s.r++
				p.appendByte('\n')
			} else {
				p.appendByte('\r')
			}
			st = stQuoted
		case stQuoteInQuoted:
			switch c := b[0]; c {
			case '"': // escaped quote
				s.r++
				p.appendByte('"')
				st = stQuoted
			case delim:
				s.r++
				p.endField()
				st = stFieldStart
			case '\n', '\r':
				s.r++
				p.endField()
				return true, nil
			default: // lazy quote: keep it, stay inside the quoted field
				p.appendByte('"')
				st = stQuoted
			}
		}
	}
}

// cells converts the current record into strings (one allocation for the
// text, one for the slice). The strings never alias the parser's buffers.
func (p *csvParser) cells() []string {
	line := string(p.rec)
	out := make([]string, len(p.ends))
	start := 0
	for i, end := range p.ends {
		out[i] = line[start:end]
		start = end
	}
	return out
}
