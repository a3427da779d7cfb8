// The two progress displays of linkit import: bars on a terminal, status lines otherwise.

package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/linkitworks/customers/customer"
)

// importProgress shows the upload and the processing.
type importProgress interface {
	uploadStarted(name string, size int64)
	uploadAdvanced(n int64)
	uploadFinished(im *customer.Import, took time.Duration)
	processing(im *customer.Import)
	note(msg string)
	stop()
}

// barProgress draws progress bars (stderr is a terminal).
type barProgress struct {
	w      io.Writer
	upload *progressbar.ProgressBar
	proc   *progressbar.ProgressBar
}

func (b *barProgress) uploadStarted(name string, size int64) {
	b.upload = progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription("uploading "+name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	)
}

func (b *barProgress) uploadAdvanced(n int64) { _ = b.upload.Add64(n) }

func (b *barProgress) uploadFinished(im *customer.Import, took time.Duration) {
	if !b.upload.IsFinished() {
		_ = b.upload.Finish()
	}
	fmt.Fprintln(b.w, acceptedLine(im, took))
}

func (b *barProgress) processing(im *customer.Import) {
	c := im.Counts
	if c.Rows <= 0 {
		return
	}
	if b.proc == nil {
		b.proc = progressbar.NewOptions64(int64(c.Rows),
			progressbar.OptionSetWriter(b.w),
			progressbar.OptionSetDescription("processing"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
		)
	}
	b.proc.Describe("processing" + rateAndETA(im))
	_ = b.proc.Set64(int64(c.Processed + c.Invalid))
}

func (b *barProgress) note(msg string) {
	if b.proc != nil {
		_ = b.proc.Clear()
	}
	fmt.Fprintln(b.w, msg)
}

func (b *barProgress) stop() {
	for _, bar := range []*progressbar.ProgressBar{b.upload, b.proc} {
		if bar != nil && !bar.IsFinished() {
			if bar.State().CurrentPercent >= 1 {
				_ = bar.Finish()
			} else {
				_ = bar.Exit()
				fmt.Fprintln(b.w)
			}
		}
	}
	b.upload, b.proc = nil, nil
}

// lineProgress prints a status line every few seconds (no terminal or
// --no-progress).
type lineProgress struct {
	w        io.Writer
	every    time.Duration
	last     time.Time
	name     string
	size     int64
	sent     int64
	lastLine string
}

func (l *lineProgress) due() bool {
	if time.Since(l.last) < l.every {
		return false
	}
	l.last = time.Now()
	return true
}

func (l *lineProgress) uploadStarted(name string, size int64) {
	l.name, l.size, l.last = name, size, time.Now()
	fmt.Fprintf(l.w, "uploading %s (%s)\n", name, humanBytes(size))
}

func (l *lineProgress) uploadAdvanced(n int64) {
	l.sent += n
	if l.due() && l.size > 0 {
		fmt.Fprintf(l.w, "uploaded %d%% (%s of %s)\n", l.sent*100/l.size, humanBytes(l.sent), humanBytes(l.size))
	}
}

func (l *lineProgress) uploadFinished(im *customer.Import, took time.Duration) {
	l.last = time.Now()
	fmt.Fprintln(l.w, acceptedLine(im, took))
}

func (l *lineProgress) processing(im *customer.Import) {
	if importDone(im.Status) || !l.due() {
		return
	}
	c := im.Counts
	line := fmt.Sprintf("import %s %s: %d%% (%s of %s rows)%s", im.ID, im.Status, int(im.Progress*100),
		groupDigits(int64(c.Processed+c.Invalid)), groupDigits(int64(c.Rows)), rateAndETA(im))
	if line != l.lastLine {
		fmt.Fprintln(l.w, line)
		l.lastLine = line
	}
}

func (l *lineProgress) note(msg string) { fmt.Fprintln(l.w, msg) }

func (l *lineProgress) stop() {}

func acceptedLine(im *customer.Import, took time.Duration) string {
	s := fmt.Sprintf("uploaded in %s: import %s, %s rows read", roundDuration(took), im.ID, groupDigits(int64(im.Counts.Rows)))
	if im.Counts.Invalid > 0 {
		s += fmt.Sprintf(" (%s invalid)", groupDigits(int64(im.Counts.Invalid)))
	}
	return s
}

// rateAndETA is ", 1,234 rows/s, ETA 20s" once the server can tell.
func rateAndETA(im *customer.Import) string {
	if im.RowsPerSecond < 1 {
		return ""
	}
	s := fmt.Sprintf(", %s rows/s", groupDigits(int64(im.RowsPerSecond+0.5)))
	if im.ETASeconds != nil && !importDone(im.Status) {
		s += ", ETA " + roundDuration(time.Duration(*im.ETASeconds*float64(time.Second)))
	}
	return s
}

// quietProgress shows nothing (--quiet).
type quietProgress struct{}

func (quietProgress) uploadStarted(string, int64)                    {}
func (quietProgress) uploadAdvanced(int64)                           {}
func (quietProgress) uploadFinished(*customer.Import, time.Duration) {}
func (quietProgress) processing(*customer.Import)                    {}
func (quietProgress) note(string)                                    {}
func (quietProgress) stop()                                          {}
