package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aiorch/litewavemetric"
)

// exporterDelivery measures one collection of n series through a new
// exporter: the customer cache is warmed by a first, small collection, as
// in steady state; the measured collection's Export returns once every
// event had its first attempt, which on a healthy backend is delivery.
// extra options choose another backend than the events API.
func exporterDelivery(b *backend, n, tenants, concurrency int, spool bool, extra ...litewavemetric.Option) (rate float64, lookups [2]int64, err error) {
	ctx := context.Background()
	opts := []litewavemetric.Option{litewavemetric.WithEndpoint(b.URL), litewavemetric.WithConcurrency(concurrency),
		litewavemetric.WithMaxSeries(2 * n), litewavemetric.WithSpoolDir(""), litewavemetric.WithAPIKey("")}
	opts = append(opts, extra...)
	if spool {
		dir, err := os.MkdirTemp("", "litewave-bench-spool")
		if err != nil {
			return 0, lookups, err
		}
		defer os.RemoveAll(dir)
		opts = append(opts, litewavemetric.WithSpoolDir(dir))
	}
	exp, err := litewavemetric.New(ctx, opts...)
	if err != nil {
		return 0, lookups, err
	}
	defer exp.Shutdown(ctx)
	b.reset()
	if err := exp.Export(ctx, collection(tenants, tenants)); err != nil {
		return 0, lookups, fmt.Errorf("warm-up collection: %w", err)
	}
	lookups[0] = b.lookups.Load()
	rm := collection(n, tenants)
	b.reset()
	runtime.GC()
	start := time.Now()
	if err := exp.Export(ctx, rm); err != nil {
		return 0, lookups, err
	}
	elapsed := time.Since(start)
	lookups[1] = b.lookups.Load()
	if got := b.events.Load() + b.records.Load(); got != int64(n) {
		return 0, lookups, fmt.Errorf("backend received %d events, want %d", got, n)
	}
	return float64(n) / elapsed.Seconds(), lookups, nil
}

// bareDelivery posts the same events with a bare net/http client tuned the
// same way (idle connections = concurrency), at the same concurrency: the
// physical limit of a one-POST-per-event API on this machine. With a
// timeout, each request is bounded by it, as the exporter bounds its own.
func bareDelivery(b *backend, reqs []request, concurrency int, timeout time.Duration) (float64, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost, t.MaxIdleConns = concurrency, 2*concurrency
	client := &http.Client{Transport: t}
	defer t.CloseIdleConnections()
	b.reset()
	runtime.GC()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, concurrency)
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(reqs)); i = next.Add(1) - 1 {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if timeout > 0 {
					ctx, cancel = context.WithTimeout(ctx, timeout)
				}
				err := post(ctx, client, b.URL, reqs[i])
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(len(reqs)) / elapsed.Seconds(), nil
}

// meterLibDelivery emulates meter-lib's access pattern in Go: for each event a
// customer lookup and a post, each on a new connection, one at a time.
func meterLibDelivery(b *backend, reqs []request) (float64, error) {
	t := &http.Transport{DisableKeepAlives: true}
	client := &http.Client{Transport: t, Timeout: 10 * time.Second}
	b.reset()
	start := time.Now()
	for _, r := range reqs {
		resp, err := client.Get(b.URL + "/api/v1/customer-accounts/tenant/" + r.tenant)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err := post(context.Background(), client, b.URL, request{tenant: r.tenant, device: r.device, body: r.body}); err != nil {
			return 0, err
		}
	}
	return float64(len(reqs)) / time.Since(start).Seconds(), nil
}

func post(ctx context.Context, client *http.Client, base string, r request) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/events", bytes.NewReader(r.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-tenant-id", r.tenant)
	req.Header.Set("x-device-id", r.device)
	if r.key != "" {
		req.Header.Set("Idempotency-Key", r.key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// owedMemory measures the live heap the exporter holds per series while
// owed series wait for a backend that is down. The collection is dropped
// before measuring, so the ids' strings count as the exporter's, as they
// are once the SDK has moved on.
func owedMemory(owed, tenants, concurrency int) (float64, error) {
	ctx := context.Background()
	exp, err := litewavemetric.New(ctx, litewavemetric.WithEndpoint(deadEndpoint()),
		litewavemetric.WithConcurrency(concurrency), litewavemetric.WithMaxSeries(owed),
		litewavemetric.WithSpoolDir(""), litewavemetric.WithAPIKey(""),
		litewavemetric.WithRetry(litewavemetric.RetryConfig{InitialInterval: time.Hour, MaxInterval: time.Hour}))
	if err != nil {
		return 0, err
	}
	before := liveHeap()
	rm := collection(owed, tenants)
	ectx, cancel := context.WithTimeout(ctx, 60*time.Second)
	_ = exp.Export(ectx, rm) // reports the outage; the usage is owed
	cancel()
	rm = nil
	after := liveHeap()
	st := exp.Stats()
	if st.OwedEvents != int64(owed) {
		return 0, fmt.Errorf("%d events owed, want %d", st.OwedEvents, owed)
	}
	perSeries := float64(after-before) / float64(owed)
	sctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	_ = exp.Shutdown(sctx)
	return perSeries, nil
}

func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// idle measures an Export of an empty collection: it must send nothing.
func idle(b *backend, exports int) (perExport time.Duration, allocs float64, requests int64, err error) {
	ctx := context.Background()
	exp, err := litewavemetric.New(ctx, litewavemetric.WithEndpoint(b.URL), litewavemetric.WithSpoolDir(""), litewavemetric.WithAPIKey(""))
	if err != nil {
		return 0, 0, 0, err
	}
	defer exp.Shutdown(ctx)
	empty := &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{}}}
	b.reset()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	for range exports {
		if err := exp.Export(ctx, empty); err != nil {
			return 0, 0, 0, err
		}
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&m1)
	return elapsed / time.Duration(exports), float64(m1.Mallocs-m0.Mallocs) / float64(exports), b.lookups.Load() + b.events.Load(), nil
}
