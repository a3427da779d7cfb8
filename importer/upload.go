package importer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// Store is the store's side of reading a file into an import: the
// import's record and staging (postgres.Store).
type Store interface {
	Stager
	CreateImport(ctx context.Context, im *customer.Import) error
	FailImport(ctx context.Context, orgID, id, reason string) error
	ImportRead(ctx context.Context, im *customer.Import, chunkStarts []int) (customer.ImportStatus, error)
	FindImport(ctx context.Context, orgID, id string) (*customer.Import, error)
}

// Deps are what Import needs besides the file, all required. The store is
// an interface and planning a function so this package knows neither
// PostgreSQL nor the queue.
type Deps struct {
	Store Store
	// Plan hands a read import on to planning (enqueues it). A failure is
	// logged, not returned: the reconciler re-plans processing imports.
	Plan   func(ctx context.Context, orgID, importID string) error
	Phones *dedupe.PhoneNormalizer // shared parse cache
	// Log takes the failures the upload's answer does not carry (a plan
	// not enqueued, an import not marked failed).
	Log *slog.Logger
}

// Upload is a file to import and what the merchant chose for it.
type Upload struct {
	OrgID    string
	File     io.Reader
	FileName string
	Options  customer.ImportOptions
	// Regions are the phone regions in the order they apply (SPEC §3): the
	// option, the location's, the organization's ("" when unset). The first
	// set one is the default region of phones and dates; a phone that is
	// not valid there takes the first later region it is valid in.
	Regions []string
	// Read are the reader's options; Kind and Mapping come from Options.
	Read Options
}

// Import reads an uploaded file into a new import: it opens the file,
// records the import, stages every row, records what reading found and
// hands the import on to planning. It answers the import as stored. A
// file that cannot be read fails before the import exists, or fails the
// import, with the *customer.Error that says why (Problem).
func Import(ctx context.Context, d Deps, up Upload) (*customer.Import, error) {
	rd, norm, err := up.Open(d.Phones)
	if err != nil {
		return nil, err
	}
	defer rd.Close() // a workbook's temporary files
	if missing := rd.Detected().MissingColumns(up.Options.Kind); len(missing) > 0 {
		// Every row would be an error: say so now, not a million times.
		return nil, customer.Invalid(map[string]string{"mapping": strings.Join(missing, "; ")})
	}
	im := &customer.Import{OrganizationID: up.OrgID, Kind: up.Options.Kind, FileName: up.FileName, Options: up.Options}
	if err := d.Store.CreateImport(ctx, im); err != nil {
		return nil, err
	}
	staged, err := Stage(ctx, rd, norm, d.Store, up.OrgID, im.ID)
	if err != nil {
		prob := Problem(err)
		reason := prob.Message
		if f, ok := prob.Details.(map[string]string); ok && f["file"] != "" {
			reason = f["file"]
		}
		d.failImport(ctx, up.OrgID, im.ID, reason)
		if prob.Code == customer.EBADREQUEST && ctx.Err() == nil {
			// Not the upload's fault (the store failed): the cause answers.
			return nil, fmt.Errorf("stage import %s: %w", im.ID, err)
		}
		return nil, prob
	}
	det := rd.Detected()
	im.Format, im.Encoding, im.Delimiter, im.Headers, im.Mapping = string(det.Format), det.Encoding, det.Delimiter, det.Headers, det.Mapping
	im.SizeBytes = rd.BytesRead()
	im.Counts = customer.ImportCounts{Rows: staged.Rows, Invalid: staged.Invalid, Warnings: staged.Warnings}
	status, err := d.Store.ImportRead(ctx, im, staged.ChunkStarts)
	if err != nil {
		// Left in reading, the import would wait for the reconciler.
		d.failImport(ctx, up.OrgID, im.ID, "Internal error recording the file")
		return nil, fmt.Errorf("record import %s read: %w", im.ID, err)
	}
	if status == customer.ImportProcessing {
		if err := d.Plan(ctx, up.OrgID, im.ID); err != nil {
			// The reconciler re-plans processing imports; nothing is lost.
			d.Log.WarnContext(ctx, "enqueue import plan", "import_id", im.ID, "err", err)
		}
	}
	return d.Store.FindImport(ctx, up.OrgID, im.ID)
}

// failImport marks an import failed even when the upload's request has
// ended; a failure to do so is logged (the reconciler expires it later).
func (d Deps) failImport(ctx context.Context, orgID, id, reason string) {
	if err := d.Store.FailImport(context.WithoutCancel(ctx), orgID, id, reason); err != nil {
		d.Log.ErrorContext(ctx, "fail import", "import_id", id, "err", err)
	}
}

// Open opens the upload's file and prepares the normalizer of its rows:
// the first steps of Import, which a preview shares. Errors are Problem's.
func (up Upload) Open(phones *dedupe.PhoneNormalizer) (*Reader, *Normalizer, error) {
	opts := up.Read
	opts.Kind, opts.Mapping, opts.Sheet = up.Options.Kind, up.Options.Mapping, up.Options.Sheet
	rd, err := Open(up.File, opts)
	if err != nil {
		return nil, nil, Problem(err)
	}
	norm := NewNormalizer(rd.Detected(), cmp.Or(up.Regions...), phones, up.Regions...)
	norm.Kind = opts.Kind
	return rd, norm, nil
}

// Problem says what an error of reading a file means to whoever uploaded
// it: a bad mapping or an unreadable file is a 422 naming the field, an
// upload over its size limit or stalled (a *customer.Error ETOOLARGE or
// ETIMEOUT the caller's reader returns) stays that, and anything else is
// an interrupted or malformed upload.
func Problem(err error) *customer.Error {
	var me *MappingError
	var fe *FileError
	var se *SheetError
	var ce *customer.Error
	switch {
	case errors.As(err, &me):
		return customer.Invalid(map[string]string{"mapping": me.Error()})
	case errors.As(err, &se):
		return customer.Invalid(map[string]string{"sheet": strings.TrimPrefix(se.Error(), "importer: ")})
	case errors.As(err, &ce) && (ce.Code == customer.ETOOLARGE || ce.Code == customer.ETIMEOUT):
		return ce
	case errors.As(err, &fe):
		return customer.Invalid(map[string]string{"file": fe.Reason})
	}
	return &customer.Error{Code: customer.EBADREQUEST, Message: "Upload interrupted or malformed"}
}
