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
	// Chunks merged while API processes were busy, and the time import
	// slots waited for them (Deps.ImportYield).
	busyChunks  prometheus.Counter
	importYield prometheus.Counter
	// Webhook attempts by outcome (delivered, retried, failed: three
	// series, whatever the receivers and events).
	webhooks        *prometheus.CounterVec
	webhookDuration *prometheus.HistogramVec
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
	m.busyChunks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "linkit_import_chunks_beside_requests_total",
		Help: "Import chunks merged while API processes were busy (the trigram pending list kept short).",
	})
	m.importYield = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "linkit_import_yield_seconds_total", Help: "Time import slots waited after their chunks (and reverts after their batches) for busy API processes.",
	})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "linkit_webhook_deliveries_total",
		Help: "Webhook delivery attempts, by outcome: delivered (2xx), retried (will be tried again), failed (given up or dropped).",
	}, []string{"outcome"})
	m.webhookDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "linkit_webhook_delivery_duration_seconds", Help: "Time a webhook receiver took to answer an attempt (or to fail), by outcome.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{"outcome"})
	for _, o := range []string{webhookDelivered, webhookRetried, webhookFailed} {
		m.webhooks.WithLabelValues(o) // every series from the start, at 0
	}
	reg.MustRegister(m.upserts, m.upsertDuration, m.batchSize, m.importRows, m.chunkDuration, m.busyChunks, m.importYield, m.webhooks, m.webhookDuration)
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

func (m *Metrics) observeChunk(rows int, d time.Duration, besideRequests bool) {
	if m == nil {
		return
	}
	m.importRows.Add(float64(rows))
	m.chunkDuration.Observe(d.Seconds())
	if besideRequests {
		m.busyChunks.Inc()
	}
}

// observeImportYield adds the time an import slot (or a revert) waited for
// busy API processes.
func (m *Metrics) observeImportYield(waited time.Duration) {
	if m != nil && waited > 0 {
		m.importYield.Add(waited.Seconds())
	}
}

// Webhook attempt outcomes, the label values of the webhook metrics.
const (
	webhookDelivered = "delivered"
	webhookRetried   = "retried"
	webhookFailed    = "failed"
)

func (m *Metrics) observeWebhook(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(outcome).Inc()
	if d > 0 {
		m.webhookDuration.WithLabelValues(outcome).Observe(d.Seconds())
	}
}
