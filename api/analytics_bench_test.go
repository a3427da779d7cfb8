package api_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/linkitworks/customers/customer"
)

// BenchmarkAnalytics measures GET /api/customers/{id}/analytics over HTTP
// for a customer with 10,000 orders (about 30,000 lines over 200 products
// and three years), planted from a fixed seed. It reports the p50 and p99
// latency of the requests it made; the target is p99 < 50 ms.
//
//	go test ./api -run '^$' -bench BenchmarkAnalytics -benchtime 500x
func BenchmarkAnalytics(b *testing.B) {
	e := newEnvAt(b, now)
	id := e.erpCustomer("Big Buyer", "big@example.com")
	if err := e.store.CreateOrders(b.Context(), e.org, plantOrders(id, 10000)); err != nil {
		b.Fatal(err)
	}
	// What autovacuum does on a live database: statistics and the
	// visibility map that index-only scans need.
	if _, err := e.store.Pool().Exec(b.Context(), "VACUUM ANALYZE orders, order_items, customers"); err != nil {
		b.Fatal(err)
	}
	if n := e.do("GET", "/api/customers/"+id, nil).want(b, http.StatusOK).data()["total_orders"]; n.(float64) < 9000 {
		b.Fatalf("total_orders = %v", n)
	}
	periods := []string{"all", "1y", "90d", "30d"}
	var took []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		e.do("GET", "/api/customers/"+id+"/analytics?period="+periods[i%len(periods)], nil).want(b, http.StatusOK)
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	pct := func(p float64) float64 {
		return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// plantOrders makes n orders of one customer from a fixed seed: dates over
// the three years before the clock, 1–5 lines of 200 products, 5% cancelled,
// 3% returned, older orders mostly paid.
func plantOrders(customerID string, n int) []*customer.Order {
	rng := rand.New(rand.NewPCG(7, 2024))
	statuses := []string{"delivered", "delivered", "delivered", "shipped", "processing", "pending"}
	orders := make([]*customer.Order, n)
	for i := range orders {
		date := now.Add(-time.Duration(rng.Int64N(int64(3 * 365 * 24 * time.Hour)))).Truncate(time.Second)
		o := &customer.Order{CustomerID: customerID, OrderNumber: fmt.Sprintf("BENCH-%06d", i),
			Status: statuses[rng.IntN(len(statuses))], OrderDate: date, Currency: "USD"}
		switch r := rng.IntN(100); {
		case r < 5:
			o.Status = customer.OrderCancelled
		case r < 8:
			o.Status = customer.OrderReturned
		}
		for range 1 + rng.IntN(5) {
			p := rng.IntN(200)
			it := customer.OrderItem{ProductID: fmt.Sprintf("prod_%03d", p), ProductName: fmt.Sprintf("Product %d", p),
				Quantity: 1 + rng.IntN(10), UnitPrice: float64(100+p*7) / 4}
			o.Items = append(o.Items, it)
			o.ItemsCount += it.Quantity
			o.TotalAmount += float64(it.Quantity) * it.UnitPrice
		}
		if now.Sub(date) > 60*24*time.Hour && rng.IntN(10) > 0 {
			paid := date.Add(time.Duration(rng.IntN(60*24)) * time.Hour)
			o.PaidDate = &paid
		}
		orders[i] = o
	}
	return orders
}
