package dedupe_test

import (
	"sync"
	"testing"

	"github.com/linkitworks/customers/dedupe"
)

func TestNormalizeCountry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, code string
		ok       bool
	}{
		{"US", "US", true},
		{" us ", "US", true},
		{"USA", "US", true},
		{"U.S.A.", "US", true},
		{"United States", "US", true},
		{"united states of america", "US", true},
		{"UK", "GB", true},
		{"Great Britain", "GB", true},
		{"GBR", "GB", true},
		{"SAU", "SA", true},
		{"Saudi Arabia", "SA", true},
		{"KSA", "SA", true},
		{"UAE", "AE", true},
		{"ARE", "AE", true},
		{"España", "ES", true},
		{"deu", "DE", true},
		{"Deutschland", "DE", true},
		{"Royaume-Uni", "GB", true},
		{"Estados Unidos", "US", true},
		{"Vereinigte Staaten", "US", true},
		{"Côte d’Ivoire", "CI", true},
		{"Cote d'Ivoire", "CI", true},
		{"New Caledonia", "NC", true},
		{"Bosnia & Herzegovina", "BA", true},
		{"المملكة العربية السعودية", "SA", true},
		{"Suudi Arabistan", "SA", true},
		{"السعودية", "SA", true},
		{"Korea, Republic of", "KR", true},
		{"Tanzania, United Republic of", "TZ", true},
		{"The Bahamas", "BS", true},
		{"Czech Republic", "CZ", true},
		{"Narnia, Kingdom of", "Narnia, Kingdom of", false},
		{"Narnia", "Narnia", false},
		{" EU ", "EU", false},
		{"AAA", "AAA", false},
		{"840", "840", false},
		{"", "", false},
	}
	for _, tc := range tests {
		code, ok := dedupe.NormalizeCountry(tc.in)
		if code != tc.code || ok != tc.ok {
			t.Errorf("NormalizeCountry(%q) = %q, %v; want %q, %v", tc.in, code, ok, tc.code, tc.ok)
		}
	}
}

func FuzzNormalizeCountry(f *testing.F) {
	for _, s := range []string{"US", "USA", "United Kingdom", "Narnia", "", "ñ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, ok := dedupe.NormalizeCountry(s)
		if ok && !dedupe.ValidCountry(code) {
			t.Fatalf("NormalizeCountry(%q) = %q, not ISO 3166-1 alpha-2", s, code)
		}
		if ok {
			if again, ok2 := dedupe.NormalizeCountry(code); again != code || !ok2 {
				t.Fatalf("not idempotent: %q -> %q -> %q", s, code, again)
			}
		}
	})
}

// Imports normalize countries on several goroutines at once (run with -race).
func TestNormalizeCountryConcurrently(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if code, ok := dedupe.NormalizeCountry("Côte d’Ivoire"); code != "CI" || !ok {
					t.Errorf("Côte d’Ivoire → %q %v", code, ok)
					return
				}
			}
		}()
	}
	wg.Wait()
}
