// The final report of linkit import, and the number formats it shares with the progress lines.

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
)

// printImportSummary is the final report on stdout.
func printImportSummary(w io.Writer, im *customer.Import, took, upload time.Duration) {
	what := "Import"
	if im.Options.DryRun {
		what = "Dry run"
	}
	fmt.Fprintf(w, "%s %s %s in %s (upload %s)\n", what, im.ID, im.Status, roundDuration(took), roundDuration(upload))
	file := []string{fmt.Sprintf("%s, %s", im.FileName, humanBytes(im.SizeBytes))}
	for _, s := range []string{im.Format, im.Encoding} {
		if s != "" {
			file = append(file, s)
		}
	}
	fmt.Fprintf(w, "  file            %s\n", strings.Join(file, ", "))
	if im.Options.DryRun {
		fmt.Fprintln(w, "  (dry run: nothing was written; the counts say what would happen)")
	}
	c := im.Counts
	for _, r := range []struct {
		label string
		n     int
	}{
		{"rows", c.Rows}, {"created", c.Created}, {"updated", c.Updated}, {"unchanged", c.Unchanged},
		{"merged in file", c.MergedInFile}, {"conflicts", c.Conflicts}, {"invalid", c.Invalid}, {"warnings", c.Warnings},
	} {
		fmt.Fprintf(w, "  %-15s %s\n", r.label, groupDigits(int64(r.n)))
	}
	if im.Kind == customer.ImportOrders {
		for _, r := range []struct {
			label string
			n     int
		}{{"orders created", c.OrdersCreated}, {"orders skipped", c.OrdersSkipped}, {"orders invalid", c.OrdersInvalid}} {
			fmt.Fprintf(w, "  %-15s %s\n", r.label, groupDigits(int64(r.n)))
		}
	}
	fmt.Fprintf(w, "  %-15s %s\n", "rows/s", groupDigits(int64(im.RowsPerSecond+0.5)))
	if im.Error != "" {
		fmt.Fprintf(w, "  %-15s %s\n", "error", im.Error)
	}
	if len(im.ErrorSummary) > 0 {
		fmt.Fprintln(w, "Problems:")
		keys := make([]string, 0, len(im.ErrorSummary))
		for k := range im.ErrorSummary {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			a, b := im.ErrorSummary[keys[i]], im.ErrorSummary[keys[j]]
			return a > b || (a == b && keys[i] < keys[j])
		})
		for _, k := range keys {
			fmt.Fprintf(w, "  %7s  %s\n", groupDigits(int64(im.ErrorSummary[k])), k)
		}
	}
}

func roundDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// groupDigits writes 1234567 as 1,234,567.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// importJSON is linkit import --json's summary: the import as the API
// answers it, and what the command did around it.
type importJSON struct {
	Import        *customer.Import `json:"import"`
	Seconds       float64          `json:"seconds"`
	UploadSeconds float64          `json:"upload_seconds"`
	ErrorsFile    string           `json:"errors_file,omitempty"`
	ErrorsWritten *int             `json:"errors_written,omitempty"` // rows written to errors_file
}

func printImportJSON(w io.Writer, im *customer.Import, took, upload time.Duration, errorsPath string, wrote int) error {
	out := importJSON{Import: im, Seconds: took.Seconds(), UploadSeconds: upload.Seconds()}
	if wrote >= 0 {
		out.ErrorsFile, out.ErrorsWritten = errorsPath, &wrote
	}
	return json.NewEncoder(w).Encode(out)
}
