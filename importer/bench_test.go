package importer

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// genReader streams a header then n copies of line, without holding them.
type genReader struct {
	header, line, footer string
	n                    int
	pos                  int
	started, ended       bool
	cur                  string
}

func (g *genReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if g.pos == len(g.cur) {
			switch {
			case !g.started:
				g.cur, g.started = g.header, true
			case g.n > 0:
				g.cur = g.line
				g.n--
			case !g.ended && g.footer != "":
				g.cur, g.ended = g.footer, true
			default:
				if total == 0 {
					return 0, io.EOF
				}
				return total, nil
			}
			g.pos = 0
		}
		c := copy(p, g.cur[g.pos:])
		g.pos += c
		p = p[c:]
		total += c
	}
	return total, nil
}

// heapPeak reads all rows and returns the highest live heap seen.
func heapPeak(t *testing.T, rd *Reader, wantRows int) uint64 {
	var ms runtime.MemStats
	var peak uint64
	n := 0
	for {
		_, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n%(32<<10) == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if n != wantRows {
		t.Fatalf("read %d rows, want %d", n, wantRows)
	}
	return peak
}

func benchData(rows int) []byte {
	var b bytes.Buffer
	b.WriteString("Customer ID,First Name,Last Name,Email,Phone,Company,City,Country,Tags,Subscription Date\n")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&b, "C%07d,Jane%d,Doe,jane.doe%d@example.com,+1-555-%04d,\"Acme, Inc.\",Springfield,US,\"vip,newsletter\",2024-01-%02d\n",
			i, i%100, i, i%10000, i%28+1)
	}
	return b.Bytes()
}

// BenchmarkCSV10Columns reports rows/s for a 10-column customer CSV read
// from memory (one Open + full read per iteration).
func BenchmarkCSV10Columns(b *testing.B) {
	const rows = 100_000
	data := benchData(rows)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rd, err := Open(bytes.NewReader(data), Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != rows {
			b.Fatalf("%d rows", n)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkNDJSON(b *testing.B) {
	const rows = 20_000
	var buf bytes.Buffer
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&buf, `{"id":%d,"first_name":"Jane","last_name":"Doe","email":"jane%d@example.com","phone":"+1 555 0100","tags":["vip","x"],"city":"Springfield","country":"US","score":1.5,"active":true}`+"\n", i, i)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rd, err := Open(bytes.NewReader(data), Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
