package dedupe

import (
	"hash/maphash"
	"sync"
)

// DefaultPhoneCacheEntries is the cache size NewPhoneNormalizer uses when
// given a non-positive size.
const DefaultPhoneCacheEntries = 100_000

// phoneShards spreads the cache over independently locked shards so many
// import goroutines rarely wait on each other.
const phoneShards = 64

// PhoneNormalizer is NormalizePhone with a bounded cache of phonenumbers
// results, for imports where the same numbers (and the same store phones)
// recur. It is safe for concurrent use. A nil *PhoneNormalizer normalizes
// without a cache.
type PhoneNormalizer struct {
	seed   maphash.Seed
	perGen int
	shards [phoneShards]phoneShard
}

// phoneShard keeps two generations: when cur fills up it becomes prev and a
// fresh cur starts, and hits in prev are copied forward. That approximates
// LRU with no per-entry bookkeeping and caps a shard at 2*perGen entries.
type phoneShard struct {
	mu   sync.Mutex
	cur  map[phoneKey]phoneResult
	prev map[phoneKey]phoneResult
	_    [40]byte // keep neighbouring shards' locks off one cache line
}

// NewPhoneNormalizer returns a normalizer caching about maxEntries results
// (DefaultPhoneCacheEntries when maxEntries <= 0).
func NewPhoneNormalizer(maxEntries int) *PhoneNormalizer {
	if maxEntries <= 0 {
		maxEntries = DefaultPhoneCacheEntries
	}
	n := &PhoneNormalizer{
		seed:   maphash.MakeSeed(),
		perGen: max(1, maxEntries/(2*phoneShards)),
	}
	for i := range n.shards {
		n.shards[i].cur = make(map[phoneKey]phoneResult)
	}
	return n
}

// Normalize is NormalizePhone, cached. Results are identical to
// NormalizePhone's; only the phonenumbers step is cached, keyed by the
// cleaned digits and the region used, so "(415) 555-0123" and
// "415.555.0123" share an entry.
func (n *PhoneNormalizer) Normalize(raw string, regions ...string) (Phone, error) {
	if n == nil {
		return NormalizePhone(raw, regions...)
	}
	in, err := cleanPhone(raw)
	if err != nil {
		return Phone{}, err
	}
	return resolveRegions(in, regions, n.resolve).phone(in.ext)
}

// resolve is resolvePhone through the cache.
func (n *PhoneNormalizer) resolve(k phoneKey) phoneResult {
	s := &n.shards[n.shardIndex(k)]
	r, ok := s.get(k, n.perGen)
	if !ok {
		// Parse outside the lock; a concurrent miss on the same key only
		// costs a duplicate parse.
		r = resolvePhone(k)
		s.put(k, r, n.perGen)
	}
	return r
}

func (n *PhoneNormalizer) shardIndex(k phoneKey) uint64 {
	var h maphash.Hash
	h.SetSeed(n.seed)
	h.WriteString(k.region)
	h.WriteString(k.number)
	return h.Sum64() % phoneShards
}

func (s *phoneShard) get(k phoneKey, perGen int) (phoneResult, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.cur[k]; ok {
		return r, true
	}
	r, ok := s.prev[k]
	if ok {
		s.putLocked(k, r, perGen)
	}
	return r, ok
}

func (s *phoneShard) put(k phoneKey, r phoneResult, perGen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLocked(k, r, perGen)
}

func (s *phoneShard) putLocked(k phoneKey, r phoneResult, perGen int) {
	if len(s.cur) >= perGen {
		s.prev = s.cur
		s.cur = make(map[phoneKey]phoneResult, perGen)
	}
	s.cur[k] = r
}

// len reports the number of cached entries, for tests.
func (n *PhoneNormalizer) len() int {
	total := 0
	for i := range n.shards {
		s := &n.shards[i]
		s.mu.Lock()
		total += len(s.cur) + len(s.prev)
		s.mu.Unlock()
	}
	return total
}
