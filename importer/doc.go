// Package importer turns an uploaded customer or order file into a stream of
// mapped rows. It knows nothing of HTTP, databases or queues.
//
// Import is the whole upload in one call (the API's POST /api/v1/imports
// and tests use it): open the file, record the import, stage its rows,
// record what reading found and hand the import on to planning, through
// the Store and Plan it is given. Problem says what a reading error means
// to the uploader. Row by row:
//
//	rd, err := importer.Open(file, importer.Options{Kind: customer.ImportCustomers})
//	if err != nil { ... } // *FileError, *MappingError
//	for {
//		row, err := rd.Next()
//		if err == io.EOF { break }
//		if err != nil { ... } // *FileError: the rest of the file is unreadable
//		if row.Err != nil { ... } // this row only; reading goes on
//		use(row.Num, row.Fields, row.Attributes)
//	}
//
// # Streaming
//
// Memory is bounded whatever the file size: Open reads a 64 KiB prefix to
// sniff, and the readers keep fixed 64 KiB buffers. The limits bound each
// record: at most MaxColumns cells are kept per CSV record and each cell or
// JSON value is capped at MaxFieldBytes (the bytes beyond are skipped, not
// buffered); a JSON element or NDJSON line is capped at
// max(1 MiB, MaxColumns×(MaxFieldBytes+64)) bytes, a longer one is a row
// error. BytesRead reports the bytes consumed from the caller's reader
// (compressed bytes for gzip), for progress.
//
// # Detection
//
//   - gzip: the magic bytes 1f 8b mean the stream is decompressed
//     transparently (multi-member streams included). Legacy .xls files are
//     refused with a *FileError saying to export as CSV.
//   - Workbooks: a ZIP (PK 03 04), or Options.Format FormatXLSX, is read as
//     an .xlsx (xlsx.go): spooled to a temporary file, opened with
//     excelize within Options.MaxBytes unzipped, one worksheet
//     (Options.Sheet, else the first; *SheetError when none matches) read
//     with its row iterator. Rows go through the CSV path's header mapping
//     and cells; Row.Num is the sheet's row number. Call Close (or read to
//     the end) to remove the temporary files.
//   - Encoding: a UTF-8 BOM ("utf-8-sig"), a UTF-16 LE/BE BOM, BOM-less
//     UTF-16 whose every other byte is NUL, else "utf-8" when the 64 KiB
//     prefix is valid UTF-8 (or has more valid multi-byte sequences than
//     invalid bytes: a UTF-8 file with a stray Latin-1 byte) and
//     "windows-1252" otherwise. Invalid bytes met in a file judged UTF-8
//     are decoded as Windows-1252 in the affected cells, with a warning on
//     the row. NUL bytes are removed from values, with a warning. All
//     returned text is valid UTF-8.
//   - Format (when Options.Format is ""): the first non-space character '['
//     means a JSON array, '{' NDJSON, anything else CSV.
//   - Delimiter: among , ; tab |, the one that splits the header into at
//     least two fields and with which the most of the first 100 records
//     (from the first 32 KiB) have as many fields as the header; ties go to
//     the wider header, then to the order above. Sniffing uses the real
//     quote-aware parser. A single-column file gets ",".
//
// # CSV
//
// Parsing follows encoding/csv with LazyQuotes (quoted fields may hold
// delimiters, newlines and doubled quotes; a stray quote is kept as text),
// with these decisions:
//   - CRLF inside a quoted field becomes LF (as encoding/csv does); a lone
//     CR outside quotes ends a record (old Mac exports).
//   - Rows are numbered like a spreadsheet: the header is row 1 and the
//     first record row 2. Numbers count records, so a quoted field spanning
//     several lines is still one row. Blank lines (empty or whitespace only)
//     are skipped and NOT counted. A record whose cells are all empty
//     (",,,") is counted but not returned.
//   - A record whose field count differs from the header's is returned with
//     Row.Err set ("ragged"), Raw holding its cells and Fields nil; reading
//     continues.
//   - A data cell starting with an apostrophe before = + - @ (a formula
//     defused by an error report, ours or another exporter's) is read
//     without the apostrophe: a spreadsheet's text marker. A cell that is
//     one formula string literal, ="0501234567" (how exports keep leading
//     zeros), is read as the literal.
//   - A first line "sep=X" (Excel's delimiter hint, X one of , ; tab |)
//     sets the delimiter and is not a row: the header is still row 1.
//   - Header cells are trimmed of whitespace, BOMs and zero-width spaces.
//     An empty header's attribute key is "Column N"; repeated attribute
//     keys get " (2)", " (3)"…
//   - A CSV header wider than MaxColumns is a *FileError, as is a header
//     cell longer than MaxFieldBytes. A longer data cell is dropped (Raw
//     holds "" for it) with a warning {Column, "longer than N bytes"}.
//
// # JSON and NDJSON
//
// Row.Num is the 1-based element index (for NDJSON, blank lines are not
// counted). Raw holds the element's JSON text. Keys are mapped like
// headers; strings are trimmed, numbers keep their literal text ("1.50"),
// booleans become "true"/"false", null is absent. An array of scalars
// under a key mapped to tags is joined with ","; any other object or
// array goes to attributes as compact JSON text (and cannot fill a
// canonical field). An element that is not valid JSON or not an object,
// or has more than MaxColumns keys, is a row error; reading continues.
// In a JSON array, elements are cut out by a bracket- and string-aware
// scanner, so a malformed element whose brackets balance is only a row
// error; when the array structure itself is broken (missing ',' between
// elements, truncated file) Next returns a *FileError. Open reads the first
// element so that Detected lists its keys; later new keys are appended to
// Detected as they are met. A top-level single object spread over several
// lines is not supported (it reads as NDJSON, line by line).
//
// # Implementation notes
//
// The CSV parser is this package's own (encoding/csv cannot bound the size
// of a record, e.g. an unterminated quote swallowing the rest of a 2 GB
// file); FuzzCSVParser checks it against encoding/csv. Rows cost one
// string and one slice allocation plus the Fields/Attributes maps: about
// 600-800k rows/s for a 10-column customer CSV on one core
// (BenchmarkCSV10Columns). JSON elements are cut out by a scanner and
// checked with json.Valid before their keys are walked in order.
//
// # Header mapping
//
// A header maps to a canonical field (see Fields) when its normalized form
// (lowercase, accents folded, only letters and digits kept: "E-mail
// Address" → "emailaddress") equals a known alias. When several columns
// map to one field the first wins and the others become attributes, so a
// "Mobile" column after "Phone" stays an attribute. A few aliases are
// secondary and lose to a regular alias wherever it stands: Shopify's
// "Default Address Phone" (so its customer "Phone" wins), billing/shipping
// columns of order exports, Square's "Reference ID" (so "Square Customer
// ID" is the external_id). Square "Memo" maps to notes and "Groups" to tags.
// "Phone 2", "Email 2" and all other unknown columns go to Attributes under
// their trimmed header. For orders, "Name" (Shopify) is the order number
// and the customer's id is customer_external_id.
//
// # Order rows
//
// With Normalizer.Kind = customer.ImportOrders, Normalize reads a row of an
// order file: the customer's identifiers and names, the order number
// (staged as ImportRow.OrderKey) and what the row says about its order
// (customer.ImportOrderLine: status, dates, currency, total, location,
// shipping address, at most one line). Only a row without an order number
// is an error here; whether an order can be imported is decided when its
// rows are merged together (postgres/import_orders.go). See orders.go for
// the accepted dates, amounts and status spellings.
//
// Options.Mapping overrides the automatic mapping per column (matched
// exactly after trimming, else by normalized form): a canonical field, ""
// or Ignore to drop the column, AsAttribute to keep it as an attribute. An
// override beats automatic matches; when two overridden columns target the
// same field the first wins. Override keys matching no column are ignored;
// a target that is not a field of the kind makes Open fail with
// *MappingError.
//
// Only non-empty (trimmed) values appear in Fields and Attributes.
// Attributes is nil when a row has none.
package importer
