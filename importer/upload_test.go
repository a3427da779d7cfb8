package importer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/importer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/postgres/postgrestest"
)

// uploadEnv is a store with an organization, and the imports handed on to
// planning.
type uploadEnv struct {
	store   *postgres.Store
	orgID   string
	planned []string
}

func newUploadEnv(t *testing.T) *uploadEnv {
	t.Helper()
	e := &uploadEnv{store: postgrestest.New(t)}
	o := &customer.Organization{Name: "Upload test", DefaultRegion: "SA"}
	if err := e.store.CreateOrganization(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	e.orgID = o.ID
	return e
}

func (e *uploadEnv) importFile(file io.Reader) (*customer.Import, error) {
	d := importer.Deps{Store: e.store, Phones: dedupe.NewPhoneNormalizer(0), Log: slog.New(slog.DiscardHandler),
		Plan: func(_ context.Context, orgID, importID string) error {
			e.planned = append(e.planned, orgID+"/"+importID)
			return nil
		}}
	return importer.Import(context.Background(), d, importer.Upload{OrgID: e.orgID, File: file, FileName: "list.csv",
		Options: customer.ImportOptions{Kind: "customers"}, Regions: []string{"SA"}})
}

// A readable file becomes an import waiting for its plan, with what
// reading found; the merchant's invalid row is counted, not imported.
func TestImportStagesAndPlans(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	im, err := e.importFile(strings.NewReader("email,first_name\na@example.com,Amal\nb@example.com,Badr\nnot an email,Chadi\n"))
	if err != nil {
		t.Fatal(err)
	}
	if im.Status != customer.ImportProcessing || im.Counts.Rows != 3 || im.Counts.Invalid != 1 || im.Format != "csv" || im.FileName != "list.csv" {
		t.Fatalf("import %+v", im)
	}
	if len(e.planned) != 1 || e.planned[0] != e.orgID+"/"+im.ID {
		t.Fatalf("planned %v, want the import once", e.planned)
	}
}

// A file without any identifier column is refused before an import exists.
func TestImportRefusesFileWithoutIdentifiers(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	_, err := e.importFile(strings.NewReader("first_name,last_name\nAmal,Haddad\n"))
	if ce := customer.AsError(err); ce.Code != customer.EINVALID || !strings.Contains(fmt.Sprint(ce.Details), "mapping") {
		t.Fatalf("err = %v, want a 422 on the mapping", err)
	}
	list, _, err := e.store.FindImports(context.Background(), e.orgID, 1, 20)
	if err != nil || len(list) != 0 || len(e.planned) != 0 {
		t.Fatalf("imports %v (%v), planned %v: want none", list, err, e.planned)
	}
}

// tooLargeAfter reads n bytes of rows, then fails as an upload over its
// size limit does.
type tooLargeAfter struct{ n int }

func (r *tooLargeAfter) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, &customer.Error{Code: customer.ETOOLARGE, Message: "File too large"}
	}
	rows := strings.Repeat("someone@example.com,Someone\n", len(p)/28+1)
	n := copy(p, rows[:min(len(p), r.n)])
	r.n -= n
	return n, nil
}

// An upload cut off by its size limit while staging fails its import,
// which says why, and answers 413; it is not planned.
func TestImportFailsWhenUploadTooLarge(t *testing.T) {
	t.Parallel()
	e := newUploadEnv(t)
	_, err := e.importFile(io.MultiReader(strings.NewReader("email,first_name\n"), &tooLargeAfter{n: 512 << 10}))
	if code := customer.ErrorCode(err); code != customer.ETOOLARGE {
		t.Fatalf("err = %v, want too large", err)
	}
	list, _, err := e.store.FindImports(context.Background(), e.orgID, 1, 20)
	if err != nil || len(list) != 1 || list[0].Status != customer.ImportFailed || list[0].Error != "File too large" {
		t.Fatalf("imports %+v (%v), want one failed: File too large", list, err)
	}
	if len(e.planned) != 0 {
		t.Fatalf("planned %v", e.planned)
	}
}
