// The imports pages: upload with preview and mapping, live progress, the
// result with its errors, error CSV, retry and undo, and past imports.

package webapp

import (
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/importer"
)

// terminal import statuses: polling stops.
var terminal = map[string]bool{"completed": true, "failed": true, "cancelled": true, "reverted": true}

func (a *App) handleImports(w http.ResponseWriter, r *http.Request, s *session) error {
	page := pageParam(r)
	imports, err := a.call(w, r, s, http.MethodGet, "/imports", url.Values{"page": {page}, "limit": {"20"}}, nil)
	if err != nil {
		return err
	}
	locs, groups, err := a.locationsAndGroups(w, r, s)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "imports", s, map[string]any{
		"Imports": imports.List(), "Pager": pagerFor(r, imports.Meta), "Total": imports.Meta["total"], "Locations": locs, "Groups": groups,
		"Policies": []string{"fill_blanks", "overwrite", "do_not_update", "merge_conflicts"},
		"Default":  s.Org.Settings.DefaultMergePolicy,
	})
	return nil
}

func (a *App) locationsAndGroups(w http.ResponseWriter, r *http.Request, s *session) (locs, groups []map[string]any, err error) {
	l, err := a.call(w, r, s, http.MethodGet, "/locations", url.Values{"limit": {"100"}}, nil)
	if err != nil {
		return nil, nil, err
	}
	g, err := a.call(w, r, s, http.MethodGet, "/customer-groups", url.Values{"limit": {"100"}}, nil)
	if err != nil {
		return nil, nil, err
	}
	return l.List(), g.List(), nil
}

// previewRow pairs a column with its detected and chosen field.
type mappingRow struct {
	Index    int
	Column   string
	Detected string
	Chosen   string
}

func (a *App) handleImportPreview(w http.ResponseWriter, r *http.Request, s *session) error {
	res, fields, err := a.forwardUpload(w, r, s, "/imports/preview")
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status < 500 {
			a.fragment(w, r, http.StatusOK, "imports", "preview-problem", s, map[string]any{"Message": ae.Message, "Fields": ae.Fields()})
			return nil
		}
		return err
	}
	data := res.Map()
	chosen := chosenMapping(fields)
	var rows []mappingRow
	read, _ := data["mapping"].(map[string]any)
	kind := customer.ImportKind(fields.Get("kind"))
	if kind == "" {
		kind = customer.ImportCustomers
	}
	for i, h := range strs(data["headers"]) {
		// What the header maps to by itself, to mark the merchant's changes.
		d := importer.FieldFor(kind, h)
		if d == "" {
			d = importer.AsAttribute
		}
		c, ok := chosen[h]
		if !ok {
			if c = str(read[h]); c == "" {
				c = importer.AsAttribute
			}
		}
		rows = append(rows, mappingRow{Index: i, Column: h, Detected: d, Chosen: c})
	}
	a.fragment(w, r, http.StatusOK, "imports", "preview", s, map[string]any{
		"Preview": data, "Mapping": rows, "Fields": strs(data["fields"]), "Attribute": importer.AsAttribute, "Ignore": importer.Ignore,
	})
	return nil
}

func (a *App) handleImportStart(w http.ResponseWriter, r *http.Request, s *session) error {
	res, _, err := a.forwardUpload(w, r, s, "/imports")
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status < 500 {
			a.fragment(w, r, http.StatusOK, "imports", "preview-problem", s, map[string]any{
				"Message": "The import was not started: " + ae.Message, "Fields": ae.Fields()})
			return nil
		}
		return err
	}
	redirect(w, r, "/app/imports/"+url.PathEscape(str(res.Map()["id"])))
	return nil
}

func (a *App) handleImport(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	im, err := a.call(w, r, s, http.MethodGet, "/imports/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return err
	}
	q := url.Values{"page": {pageParam(r)}, "limit": {"50"}}
	if sev := r.URL.Query().Get("severity"); sev == "error" || sev == "warning" {
		q.Set("severity", sev)
	}
	problems, err := a.call(w, r, s, http.MethodGet, "/imports/"+url.PathEscape(id)+"/errors", q, nil)
	if err != nil {
		return err
	}
	data := im.Map()
	a.render(w, r, http.StatusOK, "import", s, map[string]any{
		"Import": data, "Done": terminal[str(data["status"])], "Problems": problems.List(), "Pager": pagerFor(r, problems.Meta), "ProblemTotal": problems.Meta["total"],
		"Severity": q.Get("severity"), "Notice": r.URL.Query().Get("notice"),
	})
	return nil
}

// handleImportProgress is the fragment htmx polls every second; once the
// import has ended it asks for a reload, which shows the whole result.
func (a *App) handleImportProgress(w http.ResponseWriter, r *http.Request, s *session) error {
	im, err := a.call(w, r, s, http.MethodGet, "/imports/"+url.PathEscape(r.PathValue("id")), nil, nil)
	if err != nil {
		return err
	}
	data := im.Map()
	if terminal[str(data["status"])] {
		w.Header().Set("HX-Refresh", "true")
	}
	a.fragment(w, r, http.StatusOK, "import", "progress", s, map[string]any{"Import": data, "Done": terminal[str(data["status"])]})
	return nil
}

// handleImportErrorCSV streams the API's error CSV to the browser.
func (a *App) handleImportErrorCSV(w http.ResponseWriter, r *http.Request, s *session) error {
	req, err := apiRequest(r.Context(), s, http.MethodGet, "/imports/"+url.PathEscape(r.PathValue("id"))+"/errors",
		url.Values{"format": {"csv"}}, nil)
	if err != nil {
		return err
	}
	a.api.ServeHTTP(w, req)
	return nil
}

func (a *App) handleImportCancel(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	if _, err := a.call(w, r, s, http.MethodPost, "/imports/"+url.PathEscape(id)+"/cancel", nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/app/imports/"+url.PathEscape(id)+"?notice=cancelled")
	return nil
}

// handleImportRevert asks the API to undo the import (a job); the page
// then follows the import's status.
func (a *App) handleImportRevert(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	if _, err := a.call(w, r, s, http.MethodPost, "/imports/"+url.PathEscape(id)+"/revert", nil, map[string]any{}); err != nil {
		return err
	}
	redirect(w, r, "/app/imports/"+url.PathEscape(id)+"?notice=reverting")
	return nil
}

// handleImportRetry uploads the corrected error CSV into the same import.
func (a *App) handleImportRetry(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	if _, _, err := a.forwardUpload(w, r, s, "/imports/"+url.PathEscape(id)+"/retry"); err != nil {
		return err
	}
	redirect(w, r, "/app/imports/"+url.PathEscape(id)+"?notice=retried")
	return nil
}

// importOptions are the form fields passed on to the API as options.
var importOptions = []string{"location_id", "tags", "merge_policy", "default_region", "dry_run", "kind"}

// importQuery turns the page's form fields into the API's options.
func importQuery(fields url.Values) url.Values {
	q := url.Values{}
	for _, k := range importOptions {
		if v := strings.TrimSpace(fields.Get(k)); v != "" {
			q.Set(k, v)
		}
	}
	if ids := fields["group_ids"]; len(ids) > 0 {
		q.Set("group_ids", strings.Join(ids, ","))
	}
	if m := chosenMapping(fields); len(m) > 0 {
		b, _ := json.Marshal(m)
		q.Set("mapping", string(b))
	}
	return q
}

// chosenMapping pairs the mapping table's col and map fields.
func chosenMapping(fields url.Values) map[string]string {
	cols, maps := fields["col"], fields["map"]
	m := map[string]string{}
	for i := 0; i < len(cols) && i < len(maps); i++ {
		m[cols[i]] = maps[i]
	}
	return m
}

// forwardUpload streams the browser's multipart upload to an API upload
// endpoint: the fields before the file become the API's options, the file
// is copied through as it arrives (app.js sends the file last), never held
// whole in memory or on disk.
func (a *App) forwardUpload(w http.ResponseWriter, r *http.Request, s *session, apiPath string) (*result, url.Values, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, &apiError{Status: http.StatusBadRequest, Message: "Choose a file to upload.", Details: map[string]any{"file": "is required"}}
	}
	fields := url.Values{}
	for size := 0; ; {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, fields, &apiError{Status: http.StatusUnprocessableEntity, Message: "Choose a file to upload.", Details: map[string]any{"file": "is required"}}
		}
		if err != nil {
			return nil, fields, &apiError{Status: http.StatusBadRequest, Message: "The upload was interrupted; try again."}
		}
		if part.FormName() != "file" {
			v, err := io.ReadAll(io.LimitReader(part, 64<<10))
			size += len(v)
			if err != nil || size > 256<<10 || len(fields) > 1000 {
				return nil, fields, &apiError{Status: http.StatusBadRequest, Message: "The form is too large."}
			}
			fields.Add(part.FormName(), string(v))
			continue
		}
		if part.FileName() == "" {
			return nil, fields, &apiError{Status: http.StatusUnprocessableEntity, Message: "Choose a file to upload.", Details: map[string]any{"file": "is required"}}
		}
		res, err := a.streamFile(w, r, s, apiPath, importQuery(fields), part)
		return res, fields, err
	}
}

func (a *App) streamFile(w http.ResponseWriter, r *http.Request, s *session, apiPath string, query url.Values, part *multipart.Part) (*result, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fw, err := mw.CreateFormFile("file", part.FileName())
		if err == nil {
			_, err = io.Copy(fw, part)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := apiRequest(r.Context(), s, http.MethodPost, apiPath, query, pr)
	if err != nil {
		pr.Close()
		<-done
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := a.do(w, req)
	// A preview stops reading after its rows: unblock the copy, which must
	// end before the browser's body is closed.
	pr.CloseWithError(errors.New("upload no longer read"))
	<-done
	return res, err
}

// pageParam is the page number of a list, 1 when absent or not a number.
func pageParam(r *http.Request) string {
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 1 {
		return strconv.Itoa(n)
	}
	return "1"
}
