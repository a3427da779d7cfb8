package worker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the worker's Prometheus instruments. A nil *Metrics records nothing.
type Metrics struct {
	upserts        *prometheus.CounterVec
	upsertDuration prometheus.Histogram
	batchSize      prometheus.Histogram
	importRows     prometheus.Counter
	chunkDuration  prometheus.Histogram
}

// NewMetrics registers the worker's instruments on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		upserts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkit_upserts_total", Help: "Upsert jobs finished, by action (created, updated, unchanged, failed).",
		}, []string{"action"}),
		upsertDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "linkit_upsert_duration_seconds", Help: "Time a worker spends on one upsert job.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "linkit_upsert_batch_size", Help: "Upserts per coalesced batch task (a lone upsert is not counted).",
		Buckets: []float64{2, 4, 8, 16, 32, 64},
	})
	m.importRows = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "linkit_import_rows_merged_total", Help: "Import rows merged by workers.",
	})
	m.chunkDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "linkit_import_chunk_duration_seconds", Help: "Time to merge one import chunk.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
	})
	reg.MustRegister(m.upserts, m.upsertDuration, m.batchSize, m.importRows, m.chunkDuration)
	return m
}

func (m *Metrics) observeUpsert(action string, d time.Duration) {
	if m == nil {
		return
	}
	m.upserts.WithLabelValues(action).Inc()
	if d > 0 {
		m.upsertDuration.Observe(d.Seconds())
	}
}

func (m *Metrics) observeBatch(n int) {
	if m != nil {
		m.batchSize.Observe(float64(n))
	}
}

func (m *Metrics) observeChunk(rows int, d time.Duration) {
	if m == nil {
		return
	}
	m.importRows.Add(float64(rows))
	m.chunkDuration.Observe(d.Seconds())
}
