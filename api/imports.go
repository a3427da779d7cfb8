package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/importer"
	"github.com/linkitworks/customers/queue"
)

// upload is an import's file and options, from a multipart form or a raw body.
type upload struct {
	file     io.Reader
	fileName string
	format   importer.Format
	form     url.Values
	closer   func()
}

// importOptions reads the options (SPEC §7) from query and form values, and
// the phone regions in the order they apply.
func (s *Server) importOptions(ctx context.Context, o *customer.Organization, v url.Values, p problems) (customer.ImportOptions, []string) {
	opts := customer.ImportOptions{
		LocationID:    strings.TrimSpace(v.Get("location_id")),
		Tags:          p.tags("tags", list(v["tags"])),
		GroupIDs:      list(v["group_ids"]),
		MergePolicy:   strings.TrimSpace(v.Get("merge_policy")),
		DefaultRegion: strings.ToUpper(strings.TrimSpace(v.Get("default_region"))),
		Kind:          customer.ImportKind(strings.TrimSpace(v.Get("kind"))),
		Sheet:         strings.TrimSpace(v.Get("sheet")),
	}
	if opts.Kind == "" {
		opts.Kind = customer.ImportCustomers
	}
	if opts.Kind != customer.ImportCustomers && opts.Kind != customer.ImportOrders {
		p.add("kind", "must be customers or orders")
	}
	if raw := strings.TrimSpace(v.Get("dry_run")); raw != "" {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			p.add("dry_run", "must be true or false")
		}
		opts.DryRun = b
	}
	if opts.MergePolicy != "" && !containsString(dedupe.Policies, opts.MergePolicy) {
		p.add("merge_policy", "must be one of "+strings.Join(dedupe.Policies, ", "))
	}
	if raw := strings.TrimSpace(v.Get("mapping")); raw != "" {
		if err := json.Unmarshal([]byte(raw), &opts.Mapping); err != nil {
			p.add("mapping", `must be a JSON object of column → field, e.g. {"E-mail Address": "email"}`)
		}
	}
	var locRegion string
	if opts.LocationID != "" {
		var err error
		if locRegion, err = s.store.FindLocationRegion(ctx, o.ID, opts.LocationID); err != nil {
			p.add("location_id", "is not a location of this organization")
		}
	}
	if opts.DefaultRegion != "" && !dedupe.ValidRegion(opts.DefaultRegion) {
		p.add("default_region", "must be a known ISO 3166-1 alpha-2 region")
	}
	// The phone regions in the order they apply (SPEC §3): the option's,
	// the location's, the organization's. The first set one reads phones
	// and dates; a phone not valid there is tried in the others.
	regions := []string{opts.DefaultRegion, locRegion, o.DefaultRegion}
	if missing, err := s.store.MissingGroups(ctx, o.ID, opts.GroupIDs); err == nil && len(missing) > 0 {
		p.add("group_ids", "unknown groups: "+strings.Join(missing, ", "))
	}
	return opts, regions
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The option fields of a multipart upload: at most maxFormFields of them,
// their names and values at most maxFormBytes together (a mapping of a
// few hundred columns fits).
const (
	maxFormFields = 64
	maxFormBytes  = 64 << 10
)

// readUpload finds the file in the request. Multipart option fields must
// come before the file part (they are read as the stream passes).
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request) (*upload, error) {
	body := &progressBody{r: limitedBody{http.MaxBytesReader(w, r.Body, s.cfg.maxImportBytes())},
		rc: http.NewResponseController(w), timeout: s.cfg.uploadProgressTimeout()}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	up := &upload{form: url.Values{}, closer: func() {}}
	for k, v := range r.URL.Query() {
		up.form[k] = v
	}
	up.fileName = r.URL.Query().Get("file_name")
	switch mt {
	case "multipart/form-data":
		mr := multipart.NewReader(body, params["boundary"])
		fields, fieldBytes := 0, 0
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return nil, customer.Invalid(map[string]string{"file": "is required (multipart field \"file\")"})
			}
			if err != nil {
				return nil, importer.Problem(err)
			}
			if part.FormName() == "file" {
				up.file, up.closer = part, func() { part.Close() }
				if up.fileName == "" {
					up.fileName = part.FileName()
				}
				up.format = formatOf(part.Header.Get("Content-Type"), up.fileName)
				return up, nil
			}
			// Fields are held in memory until the file: bounded in number
			// and in bytes, past which the request is refused (413).
			if fields++; fields > maxFormFields {
				return nil, &customer.Error{Code: customer.ETOOLARGE, Message: "Too many form fields before the file",
					Details: map[string]any{"max_form_fields": maxFormFields}}
			}
			budget := maxFormBytes - fieldBytes - len(part.FormName())
			val, err := io.ReadAll(io.LimitReader(part, int64(max(0, budget))+1))
			if err != nil {
				return nil, importer.Problem(err)
			}
			if fieldBytes += len(part.FormName()) + len(val); fieldBytes > maxFormBytes {
				return nil, &customer.Error{Code: customer.ETOOLARGE, Message: "Form fields before the file too large",
					Details: map[string]any{"max_form_bytes": maxFormBytes}}
			}
			up.form.Add(part.FormName(), string(val))
		}
	case "text/csv", "application/csv", "text/plain", "text/tab-separated-values":
		up.file, up.format = body, importer.FormatCSV
	case "application/json":
		up.file, up.format = body, importer.FormatJSON
	case "application/x-ndjson", "application/ndjson", "application/jsonl":
		up.file, up.format = body, importer.FormatNDJSON
	case xlsxType:
		up.file, up.format = body, importer.FormatXLSX
	case "application/gzip", "application/x-gzip", "application/octet-stream", "application/zip":
		up.file = body // gzip and the format are sniffed
	default:
		return nil, &customer.Error{Code: customer.EUNSUPPORTED,
			Message: "Upload a file as multipart/form-data (field \"file\") or a raw text/csv, application/json, application/x-ndjson or .xlsx body",
			Details: map[string]string{"content_type": r.Header.Get("Content-Type")}}
	}
	if up.fileName == "" {
		up.fileName = "upload"
	}
	return up, nil
}

// xlsxType is the content type of an Excel workbook.
const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// formatOf guesses a part's format from its content type or file name;
// "" lets the reader sniff it (a workbook is also known by its content).
func formatOf(contentType, name string) importer.Format {
	name = strings.TrimSuffix(strings.ToLower(name), ".gz")
	switch {
	case strings.HasSuffix(name, ".xlsx"), strings.Contains(contentType, "spreadsheetml"):
		return importer.FormatXLSX
	case strings.HasSuffix(name, ".ndjson"), strings.HasSuffix(name, ".jsonl"), strings.Contains(contentType, "ndjson"):
		return importer.FormatNDJSON
	case strings.HasSuffix(name, ".json"):
		return importer.FormatJSON
	case strings.HasSuffix(name, ".csv"), strings.HasSuffix(name, ".tsv"), strings.HasSuffix(name, ".txt"):
		return importer.FormatCSV
	}
	return ""
}

// limitedBody is an upload's size-limited body: past the limit its reads
// fail with the domain's 413, which the importer passes on
// (importer.Problem) without knowing HTTP.
type limitedBody struct{ io.Reader }

func (b limitedBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		err = &customer.Error{Code: customer.ETOOLARGE, Message: "File too large",
			Details: map[string]any{"max_bytes": maxErr.Limit}}
	}
	return n, err
}

func (s *Server) handleImportCreate(w http.ResponseWriter, r *http.Request) error {
	o := org(r)
	ctx := r.Context()
	release, err := s.acquireUpload(w, o.ID)
	if err != nil {
		return err
	}
	defer release()
	up, err := s.readUpload(w, r)
	if err != nil {
		return err
	}
	defer up.closer()
	p := problems{}
	opts, regions := s.importOptions(ctx, o, up.form, p)
	if err := p.err(); err != nil {
		return err
	}
	if s.Queue == nil {
		return &customer.Error{Code: customer.EUNAVAILABLE, Message: "Queue unavailable, try again"}
	}
	claim, replayed, err := s.claimUpload(w, r, up)
	if err != nil || replayed {
		return err
	}
	defer s.uploadReleased(r, claim) // unless answered below
	im, err := importer.Import(ctx, importer.Deps{Store: s.store, Plan: s.planImport, Phones: s.phones, Log: s.log},
		importer.Upload{OrgID: o.ID, File: up.file, FileName: up.fileName, Options: opts, Regions: regions,
			Read: s.cfg.readerOptions(up.format)})
	if err != nil {
		return err
	}
	location := "/api/v1/imports/" + im.ID
	w.Header().Set("Location", location)
	if claim == nil {
		writeData(w, http.StatusAccepted, im)
		return nil
	}
	// The answer is stored before it is sent, as written: a replay is
	// byte for byte the first answer.
	var body bytes.Buffer
	if err := json.NewEncoder(&body).Encode(envelope{Data: im}); err != nil {
		return err
	}
	s.uploadAnswered(r, claim, up.file, http.StatusAccepted, location, body.Bytes())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(body.Bytes())
	return nil
}

// planImport hands a read import on to the workers' planning.
func (s *Server) planImport(ctx context.Context, orgID, importID string) error {
	return s.Queue.EnqueueImportPlan(ctx, queue.ImportPayload{OrgID: orgID, ImportID: importID})
}

// previewRow is one normalized row of a preview.
type previewRow struct {
	Row        int                      `json:"row"`
	Email      string                   `json:"email"`
	Phone      string                   `json:"phone"`
	PhoneValid bool                     `json:"phone_valid"`
	ExternalID string                   `json:"external_id"`
	Fields     map[string]string        `json:"fields"`
	Attributes map[string]string        `json:"attributes"`
	Tags       []string                 `json:"tags"`
	Address    *customer.Address        `json:"address"`
	Problems   []customer.ImportProblem `json:"problems"`
	Valid      bool                     `json:"valid"`
	// Order imports: the row's order number and what it says about the order.
	OrderNumber string        `json:"order_number,omitempty"`
	Order       *previewOrder `json:"order,omitempty"`
}

// previewOrder is an order row's order values as a preview shows them.
type previewOrder struct {
	Status          string                  `json:"status,omitempty"`
	OrderDate       *time.Time              `json:"order_date,omitempty"`
	PaidDate        *time.Time              `json:"paid_date,omitempty"`
	ShipDate        *time.Time              `json:"ship_date,omitempty"`
	DeliveryDate    *time.Time              `json:"delivery_date,omitempty"`
	Currency        string                  `json:"currency,omitempty"`
	TotalAmount     *float64                `json:"total_amount,omitempty"`
	Location        string                  `json:"location,omitempty"`
	ShippingAddress *customer.PostalAddress `json:"shipping_address,omitempty"`
	Item            *customer.OrderItem     `json:"item,omitempty"`
}

func previewOrderOf(l *customer.ImportOrderLine) *previewOrder {
	if l == nil {
		return nil
	}
	return &previewOrder{Status: l.Status, OrderDate: l.OrderDate, PaidDate: l.PaidDate, ShipDate: l.ShipDate,
		DeliveryDate: l.DeliveryDate, Currency: l.Currency, TotalAmount: l.Total, Location: l.Location,
		ShippingAddress: l.ShippingAddress, Item: l.Item}
}

// handleImportPreview reads the first 20 rows: detected encoding,
// delimiter and mapping, and the rows as they would be imported.
func (s *Server) handleImportPreview(w http.ResponseWriter, r *http.Request) error {
	o := org(r)
	up, err := s.readUpload(w, r)
	if err != nil {
		return err
	}
	defer up.closer()
	p := problems{}
	opts, regions := s.importOptions(r.Context(), o, up.form, p)
	if err := p.err(); err != nil {
		return err
	}
	rd, norm, err := importer.Upload{File: up.file, Options: opts, Regions: regions, Read: s.cfg.readerOptions(up.format)}.Open(s.phones)
	if err != nil {
		return err
	}
	defer rd.Close() // a workbook's temporary files
	rows := []previewRow{}
	for len(rows) < 20 {
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return importer.Problem(err)
		}
		staged, probs, ok := norm.Normalize(row)
		pr := previewRow{Row: row.Num, Email: staged.Email, Phone: staged.Phone, PhoneValid: staged.PhoneValid,
			Fields: staged.Record.Fields, Attributes: staged.Record.Attributes, Tags: staged.Record.Tags,
			Address: staged.Record.Address, Problems: probs, Valid: ok,
			OrderNumber: staged.OrderKey, Order: previewOrderOf(staged.Record.Order)}
		if _, id, found := strings.Cut(staged.External, ":"); found {
			pr.ExternalID = id
		}
		if pr.Problems == nil {
			pr.Problems = []customer.ImportProblem{}
		}
		rows = append(rows, pr)
	}
	det := rd.Detected()
	missing := det.MissingColumns(opts.Kind)
	if missing == nil {
		missing = []string{}
	}
	answer := map[string]any{
		"format": det.Format, "encoding": det.Encoding, "delimiter": det.Delimiter, "gzip": det.Gzip,
		"headers": det.Headers, "mapping": det.Mapping, "rows": rows, "fields": importer.Fields(opts.Kind),
		"missing_columns": missing,
	}
	if det.Format == importer.FormatXLSX {
		answer["sheets"], answer["sheet"] = det.Sheets, det.Sheet
	}
	writeData(w, http.StatusOK, answer)
	return nil
}

func (s *Server) handleImportList(w http.ResponseWriter, r *http.Request) error {
	p := problems{}
	page, limit := pagination(r.URL.Query(), p)
	if err := p.err(); err != nil {
		return err
	}
	list, meta, err := s.store.FindImports(r.Context(), org(r).ID, page, limit)
	if err != nil {
		return err
	}
	writeList(w, list, meta)
	return nil
}

func (s *Server) handleImportGet(w http.ResponseWriter, r *http.Request) error {
	im, err := s.store.FindImport(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, im)
	return nil
}

func (s *Server) handleImportCancel(w http.ResponseWriter, r *http.Request) error {
	im, err := s.store.CancelImport(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, im)
	return nil
}

// handleImportErrors lists row problems as JSON (paginated) or, with
// format=csv, as the original rows plus an "error" column, ready to fix and
// upload again. CSV holds errors only unless severity=all or warning.
func (s *Server) handleImportErrors(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	o := org(r)
	id := r.PathValue("id")
	severity := q.Get("severity")
	switch severity {
	case "", "all":
		severity = ""
		if q.Get("format") == "csv" && q.Get("severity") == "" {
			severity = customer.SeverityError
		}
	case customer.SeverityError, customer.SeverityWarning:
	default:
		return customer.Invalid(map[string]string{"severity": "must be error, warning or all"})
	}
	switch q.Get("format") {
	case "", "json":
		p := problems{}
		page, limit := pagination(q, p)
		if err := p.err(); err != nil {
			return err
		}
		list, meta, err := s.store.FindImportErrors(r.Context(), o.ID, id, severity, page, limit)
		if err != nil {
			return err
		}
		writeList(w, list, meta)
		return nil
	case "csv":
		return s.writeErrorCSV(w, r, o.ID, id, severity)
	default:
		return customer.Invalid(map[string]string{"format": "must be json or csv"})
	}
}

func (s *Server) writeErrorCSV(w http.ResponseWriter, r *http.Request, orgID, id, severity string) error {
	im, err := s.store.FindImport(r.Context(), orgID, id)
	if err != nil {
		return err
	}
	header := append([]string{}, im.Headers...)
	if im.Format != string(importer.FormatCSV) && im.Format != string(importer.FormatXLSX) {
		header = []string{"original"}
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-errors.csv"`, im.ID))
	cw := csv.NewWriter(w)
	_ = cw.Write(escapeCells(append(header, errorColumn(header))))
	// Problems of one row are joined into one line.
	var cur *customer.ImportProblem
	var reasons []string
	flush := func() {
		if cur == nil {
			return
		}
		cells := make([]string, len(header))
		copy(cells, cur.Raw)
		if len(cur.Raw) > len(header) {
			// A row with more cells than the header (an unquoted comma):
			// the cells past the header go into the error text, so fixing
			// the row loses none of it and the columns stay aligned.
			reasons = append(reasons, "cells past the header: "+quoteCells(cur.Raw[len(header):]))
		}
		_ = cw.Write(escapeCells(append(cells, strings.Join(reasons, "; "))))
	}
	err = s.store.EachImportError(r.Context(), orgID, id, severity, func(p customer.ImportProblem) error {
		if cur == nil || cur.Row != p.Row {
			flush()
			c := p
			cur, reasons = &c, nil
		}
		reason := p.Reason
		if p.Column != "" {
			reason = p.Column + ": " + reason
		}
		reasons = append(reasons, fmt.Sprintf("row %d %s: %s", p.Row, p.Severity, reason))
		return nil
	})
	flush()
	cw.Flush()
	return err
}

func quoteCells(cells []string) string {
	q := make([]string, len(cells))
	for i, c := range cells {
		q[i] = strconv.Quote(c)
	}
	return strings.Join(q, ", ")
}

// escapeCells defuses spreadsheet formulas the OWASP way: a cell a
// spreadsheet could read as a formula (importer.Formula, which looks past
// leading spaces and quotes) gets a leading apostrophe; the CSV writer
// quotes the rest.
func escapeCells(cells []string) []string {
	for i, c := range cells {
		if importer.Formula(c) {
			cells[i] = "'" + c
		}
	}
	return cells
}

// errorColumn names the report's error column: "error", unless the file
// has a column of that name, then "error (linkit)" (numbered if need be),
// so a fixed report does not come back with two columns of one name.
func errorColumn(header []string) string {
	taken := make(map[string]bool, len(header))
	for _, h := range header {
		taken[strings.ToLower(strings.TrimSpace(h))] = true
	}
	name := "error"
	for n := 1; taken[name]; n++ {
		name = "error (linkit)"
		if n > 1 {
			name = fmt.Sprintf("error (linkit %d)", n)
		}
	}
	return name
}
