package dedupe

import (
	"fmt"
	"testing"
)

func TestPhoneNormalizerBounded(t *testing.T) {
	t.Parallel()
	for _, max := range []int{256} {
		n := NewPhoneNormalizer(max)
		for i := 0; i < 5*max; i++ {
			if _, err := n.Normalize(fmt.Sprintf("+1 415 %07d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if got := n.len(); got > max || got < max/4 {
			t.Errorf("NewPhoneNormalizer(%d) holds %d entries after %d distinct numbers", max, got, 5*max)
		}
	}
}

func TestPhoneNormalizerKeepsHotEntries(t *testing.T) {
	t.Parallel()
	n := NewPhoneNormalizer(256)
	hot := phoneInput{digits: "14155550123", plus: true}.key("")
	for i := 0; i < 2_000; i++ {
		if _, err := n.Normalize("+1 415 555 0123"); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Normalize(fmt.Sprintf("+1 212 %07d", i)); err != nil {
			t.Fatal(err)
		}
	}
	s := &n.shards[n.shardIndex(hot)]
	if _, ok := s.get(hot, n.perGen); !ok {
		t.Error("a number seen on every row fell out of the cache")
	}
}
