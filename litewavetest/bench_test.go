package litewavetest

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkPostEvents measures the server under parallel keyed posts over
// keep-alive connections, the shape of the exporter benchmark.
func BenchmarkPostEvents(b *testing.B) {
	s := NewServer(WithCustomer("t1", "cus_1"))
	defer s.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	body := eventBody("pages.processed", 24, "cus_1")
	var seq atomic.Int64

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/events", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("x-tenant-id", "t1")
			req.Header.Set("x-device-id", "d1")
			req.Header.Set("Idempotency-Key", strconv.FormatInt(seq.Add(1), 10))
			res, err := do(c, req)
			if err != nil || res.status != http.StatusCreated {
				b.Errorf("post: %v %d", err, res.status) // Fatal may not be called off the benchmark's goroutine
				return
			}
		}
	})
	b.StopTimer()
	if got := s.Stats().Accepted; got != int64(b.N) {
		b.Fatalf("accepted %d, want %d", got, b.N)
	}
}
