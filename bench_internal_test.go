package litewavemetric

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aiorch/litewavemetric/internal/config"
	"github.com/aiorch/litewavemetric/internal/outbox"
	"github.com/aiorch/litewavemetric/internal/retry"
	"github.com/aiorch/litewavemetric/internal/usage"
)

const benchPoints = 100_000

// instantBackend accepts everything at once, and knows every customer: the
// hot path without a network.
type instantBackend struct{}

func (instantBackend) MaxBatch() int { return 1 }
func (instantBackend) Send(_ context.Context, _ []usage.Event, out []usage.Outcome) {
	for i := range out {
		out[i] = usage.Outcome{Result: usage.Delivered}
	}
}
func (instantBackend) Close() error                                    { return nil }
func (instantBackend) Cached(string) (string, bool)                    { return "cus", true }
func (instantBackend) Resolve(context.Context, string) (string, error) { return "cus", nil }
func (instantBackend) Forget(string)                                   {}

// benchCollection is one collection of n points over n series: 1000 tenants
// with n/1000 devices each, one counter, as the SDK would hand it over.
func benchCollection(n int, temporality metricdata.Temporality, start time.Time) *metricdata.ResourceMetrics {
	pts := make([]metricdata.DataPoint[int64], n)
	for i := range pts {
		pts[i] = metricdata.DataPoint[int64]{
			Attributes: attribute.NewSet(
				attribute.String("tenant.id", fmt.Sprintf("tenant-%04d", i%1000)),
				attribute.String("device.id", fmt.Sprintf("device-%05d", i/1000)),
				attribute.String("region", "eu-west-1")),
			StartTime: start,
			Value:     int64(1 + i%7),
		}
	}
	return &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{{
		Name: "pages.processed",
		Data: metricdata.Sum[int64]{Temporality: temporality, IsMonotonic: true, DataPoints: pts},
	}}}}}
}

func benchMapper() mapper {
	return mapper{tenantKey: attribute.Key(config.TenantAttribute.Default), deviceKey: attribute.Key(config.DeviceAttribute.Default),
		deltas: newDeltaTracker(time.Hour, 2*benchPoints, time.Unix(0, 0), false, nil), cache: newSeriesCache(2 * benchPoints)}
}

func benchOutbox() *outbox.Outbox {
	return outbox.New(outbox.Config{Instance: "bench", MaxSeries: 2 * benchPoints, Concurrency: config.Defaults().Concurrency,
		Retry: retry.Policy{InitialInterval: time.Second, MaxInterval: time.Second}, IdleTTL: time.Hour,
		Backend: instantBackend{}, Customers: instantBackend{}})
}

func reportPerPoint(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchPoints, "ns/point")
}

// BenchmarkExportHotPath measures mapping plus ledger for a collection of
// 100 000 points whose series already exist, the steady state:
//   - accumulate: each series' event is still pending, so the usage adds to
//     its open amount (a slow or down backend);
//   - new-event: each series is idle, so each point makes the series' next
//     event (a healthy backend that acknowledged the previous collection).
//
// Like the SDK's, consecutive collections carry equal attribute sets built
// anew, with their own strings: the benchmark alternates two such copies.
func BenchmarkExportHotPath(b *testing.B) {
	rms := [2]*metricdata.ResourceMetrics{
		benchCollection(benchPoints, metricdata.DeltaTemporality, time.Time{}),
		benchCollection(benchPoints, metricdata.DeltaTemporality, time.Time{}),
	}
	b.Run("accumulate", func(b *testing.B) {
		m, box := benchMapper(), benchOutbox() // not started: events stay pending
		defer box.Close()
		m.ingest(box, rms[1], 0)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			m.ingest(box, rms[i%2], 0)
		}
		reportPerPoint(b)
	})
	b.Run("new-event", func(b *testing.B) {
		m, box := benchMapper(), benchOutbox()
		box.Start()
		defer box.Close()
		r, _, _ := m.ingest(box, rms[1], 0)
		<-r.Done()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			r, _, _ := m.ingest(box, rms[i%2], 0)
			b.StopTimer() // delivery is not the hot path
			<-r.Done()
			b.StartTimer()
		}
		reportPerPoint(b)
	})
}

// BenchmarkCumulativeToDelta measures the same collection given as
// cumulative totals: stream lookup and delta on top of the hot path.
func BenchmarkCumulativeToDelta(b *testing.B) {
	rm := benchCollection(benchPoints, metricdata.CumulativeTemporality, time.Unix(1_700_000_000, 0))
	m, box := benchMapper(), benchOutbox()
	defer box.Close()
	m.ingest(box, rm, 0)
	pts := rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64]).DataPoints
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := range pts {
			pts[i].Value++ // every stream grows by one
		}
		m.ingest(box, rm, 0)
	}
	reportPerPoint(b)
}
