package dedupe_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/linkitworks/customers/dedupe"
)

type phoneInput struct {
	raw     string
	regions []string
}

// cacheInputs is every table case plus every libphonenumber example form.
func cacheInputs(t testing.TB) []phoneInput {
	t.Helper()
	var inputs []phoneInput
	for _, tc := range phoneCases {
		inputs = append(inputs, phoneInput{tc.raw, tc.regions})
	}
	for _, row := range readExamples(t) {
		for _, in := range exampleInputs(t, row) {
			inputs = append(inputs, phoneInput{in, []string{row.region}})
		}
	}
	return inputs
}

func TestPhoneNormalizerMatchesNormalizePhone(t *testing.T) {
	t.Parallel()
	inputs := cacheInputs(t)
	want := normalizeAll(inputs)
	for _, size := range []int{0, 64} {
		n := dedupe.NewPhoneNormalizer(size)
		inputs := inputs
		if size > 0 { // a tiny cache rotates constantly: the table is enough
			inputs = inputs[:len(phoneCases)]
		}
		for pass := 0; pass < 2; pass++ { // misses, then hits (or misses after rotations)
			for i, in := range inputs {
				p, err := n.Normalize(in.raw, in.regions...)
				if got := (result{p, fmt.Sprint(err)}); got != want[i] {
					t.Errorf("size %d: Normalize(%q, %q) = %+v; NormalizePhone = %+v", size, in.raw, in.regions, got, want[i])
				}
			}
		}
	}
	var nilNormalizer *dedupe.PhoneNormalizer
	for i, in := range inputs[:len(phoneCases)] {
		p, err := nilNormalizer.Normalize(in.raw, in.regions...)
		if got := (result{p, fmt.Sprint(err)}); got != want[i] {
			t.Errorf("nil: Normalize(%q, %q) = %+v; NormalizePhone = %+v", in.raw, in.regions, got, want[i])
		}
	}
}

// result makes a normalization comparable, errors by message.
type result struct {
	p   dedupe.Phone
	err string
}

func normalizeAll(inputs []phoneInput) []result {
	want := make([]result, len(inputs))
	for i, in := range inputs {
		p, err := dedupe.NormalizePhone(in.raw, in.regions...)
		want[i] = result{p, fmt.Sprint(err)}
	}
	return want
}

func TestPhoneNormalizerErrorsAreFresh(t *testing.T) {
	t.Parallel()
	n := dedupe.NewPhoneNormalizer(10)
	_, err1 := n.Normalize("12345", "US")
	_, err2 := n.Normalize("12345", "US")
	if err1 == nil || err1 == err2 {
		t.Fatalf("cached errors must be distinct values, got %v and %v", err1, err2)
	}
}

func TestPhoneNormalizerConcurrent(t *testing.T) {
	t.Parallel()
	inputs := cacheInputs(t)
	inputs = inputs[:len(phoneCases)+400] // the table and some examples: parsing is slow under -race
	want := normalizeAll(inputs)
	// A small cache forces generation swaps while readers are active.
	n := dedupe.NewPhoneNormalizer(256)
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Go(func() {
			for pass := 0; pass < 2; pass++ {
				for j := range inputs {
					i := (j*7 + g*131) % len(inputs) // each goroutine its own order
					p, err := n.Normalize(inputs[i].raw, inputs[i].regions...)
					if got := (result{p, fmt.Sprint(err)}); got != want[i] {
						t.Errorf("Normalize(%q) = %+v, want %+v", inputs[i].raw, got, want[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// benchPhones are distinct US-style numbers, like one import file's.
func benchPhones(n int) []string {
	phones := make([]string, n)
	for i := range phones {
		phones[i] = fmt.Sprintf("(%03d) 555-%04d", 201+i%700, i%10_000)
	}
	return phones
}

func BenchmarkNormalizePhone(b *testing.B) {
	phones := benchPhones(1000)
	b.Run("uncached", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := dedupe.NormalizePhone(phones[i%len(phones)], "US"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		n := dedupe.NewPhoneNormalizer(0)
		for i := 0; b.Loop(); i++ {
			if _, err := n.Normalize(phones[i%len(phones)], "US"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		n := dedupe.NewPhoneNormalizer(0)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := n.Normalize(phones[i%len(phones)], "US"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("uncached-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := dedupe.NormalizePhone(phones[i%len(phones)], "US"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
