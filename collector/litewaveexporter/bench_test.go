package litewaveexporter

import (
	"context"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/aiorch/litewavemetric/litewavetest"
)

// benchSeries is the size of one collection: a tenant per point.
const benchSeries = 1000

// BenchmarkCollection bills the same collection (benchSeries delta points,
// each a unit, to the same fake backend) through the library's Exporter as
// a Go program does, and through the Collector exporter as an OTLP client
// does (conversion from pdata included, the OTLP receiver not). Compare
// the two ns/op side by side; the absolute figures depend on the machine.
func BenchmarkCollection(b *testing.B) {
	b.Run("library", func(b *testing.B) {
		srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
		defer srv.Close()
		exp := srv.Exporter(b)
		start := time.Now()
		b.ResetTimer()
		for range b.N {
			end := start.Add(time.Millisecond)
			if err := exp.Export(b.Context(), libraryCollection(start, end)); err != nil {
				b.Fatal(err)
			}
			start = end
		}
		b.StopTimer()
		if err := exp.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		report(b, srv)
	})
	b.Run("collector", func(b *testing.B) {
		srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
		defer srv.Close()
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		cfg.Endpoint = srv.URL
		exp, err := NewFactory().CreateMetrics(b.Context(), exportertest.NewNopSettings(typ), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := exp.Start(b.Context(), componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		b.ResetTimer()
		for range b.N {
			end := start.Add(time.Millisecond)
			if err := exp.ConsumeMetrics(b.Context(), collectorCollection(start, end)); err != nil {
				b.Fatal(err)
			}
			start = end
		}
		b.StopTimer()
		if err := exp.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		report(b, srv)
	})
}

func report(b *testing.B, srv *litewavetest.Server) {
	if got, want := srv.Total(), int64(b.N*benchSeries); got != want {
		b.Fatalf("billed %d, counted %d", got, want)
	}
	b.ReportMetric(float64(b.N*benchSeries)/b.Elapsed().Seconds(), "points/s")
}

func libraryCollection(start, end time.Time) *metricdata.ResourceMetrics {
	pts := make([]metricdata.DataPoint[int64], benchSeries)
	for i := range pts {
		pts[i] = metricdata.DataPoint[int64]{
			Attributes: attribute.NewSet(attribute.String("tenant.id", "t"+strconv.Itoa(i)), attribute.String("device.id", "d1")),
			StartTime:  start, Time: end, Value: 1,
		}
	}
	return &metricdata.ResourceMetrics{
		Resource: resource.NewSchemaless(attribute.String("service.instance.id", "bench")),
		ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{{Name: "api_calls",
			Data: metricdata.Sum[int64]{DataPoints: pts, Temporality: metricdata.DeltaTemporality, IsMonotonic: true}}}}},
	}
}

func collectorCollection(start, end time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.instance.id", "bench")
	sum := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	sum.SetName("api_calls")
	s := sum.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	for i := range benchSeries {
		dp := s.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("tenant.id", "t"+strconv.Itoa(i))
		dp.Attributes().PutStr("device.id", "d1")
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(end))
		dp.SetIntValue(1)
	}
	return md
}
