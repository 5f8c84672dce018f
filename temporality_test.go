package litewavemetric_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// A reader configured for cumulative temporality hands the exporter running
// totals; the exporter bills the increases.
func TestCumulativeReaderIsBilledAsDeltas(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	exp := newExporter(t, srv)
	reader := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(sdkmetric.CumulativeTemporalitySelector))
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	c, _ := provider.Meter("m").Int64Counter("pages")
	f, _ := provider.Meter("m").Float64Counter("tokens")
	ctx := context.Background()
	for _, n := range []int64{5, 0, 3} {
		if n > 0 {
			c.Add(ctx, n, at("t1", "d1"))
			f.Add(ctx, float64(n)/2, at("t1", "d1"))
		}
		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(ctx, &rm))
		require.NoError(t, exp.Export(ctx, &rm))
	}
	var pages []int64
	for _, ev := range srv.Events() {
		if ev.Meter == "pages" {
			pages = append(pages, ev.TotalUsage)
		}
	}
	assert.Equal(t, []int64{5, 3}, pages, "running totals 5, 5, 8 bill as 5, nothing, 3")
	assert.Equal(t, int64(4), srv.Totals()[series("t1", "d1", "tokens")], "2.5, 2.5, 4.0 bill floor(4.0)")
}

// cumulative is a producer's view of one counter over time.
type cumulative struct {
	name  string
	attrs attribute.Set
}

func (c cumulative) rm(points ...metricdata.DataPoint[int64]) *metricdata.ResourceMetrics {
	for i := range points {
		points[i].Attributes = c.attrs
	}
	return sumMetric(c.name, metricdata.CumulativeTemporality, points...)
}

func point(start time.Time, v int64) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{StartTime: start, Time: time.Now(), Value: v}
}

// The Collector's cumulativetodelta rules, with the billing reading of the
// first point: a known start time means the counter began at zero then.
func TestCumulativeResetsAndStartTimes(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	exp := newExporter(t, srv)
	ctr := cumulative{name: "pages", attrs: attribute.NewSet(attribute.String("tenant.id", "t1"), attribute.String("device.id", "d1"))}
	t0 := time.Unix(1_700_000_000, 0)
	t1 := t0.Add(time.Hour)
	steps := []struct {
		what  string
		point metricdata.DataPoint[int64]
		bill  int64
	}{
		{"first point, known start: all new", point(t0, 10), 10},
		{"increase", point(t0, 14), 4},
		{"no change", point(t0, 14), 0},
		{"lower value: reset, counted from zero", point(t0, 3), 3},
		{"increase after reset", point(t0, 9), 6},
		{"new start time: a new stream", point(t1, 2), 2},
		{"increase on the new stream", point(t1, 5), 3},
	}
	var billed int64
	for _, s := range steps {
		require.NoError(t, exp.Export(context.Background(), ctr.rm(s.point)), s.what)
		billed += s.bill
		assert.Equal(t, billed, srv.Total(), s.what)
	}
}

func TestCumulativeWithUnknownStartIsABaseline(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	exp := newExporter(t, srv)
	ctr := cumulative{name: "pages", attrs: attribute.NewSet(attribute.String("tenant.id", "t1"), attribute.String("device.id", "d1"))}
	require.NoError(t, exp.Export(context.Background(), ctr.rm(point(time.Time{}, 1000))))
	assert.Zero(t, srv.Total(), "a counter of unknown start may hold usage billed before: only a baseline")
	require.NoError(t, exp.Export(context.Background(), ctr.rm(point(time.Time{}, 1004))))
	assert.Equal(t, int64(4), srv.Total())
}

// A stream not seen for longer than the staleness is forgotten: its next
// point is a new stream.
func TestCumulativeStateExpires(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	exp := newExporter(t, srv,
		litewavemetric.WithStaleness(time.Nanosecond))
	a := cumulative{name: "pages", attrs: attribute.NewSet(attribute.String("tenant.id", "t1"), attribute.String("device.id", "a"))}
	b := cumulative{name: "pages", attrs: attribute.NewSet(attribute.String("tenant.id", "t1"), attribute.String("device.id", "b"))}
	start := time.Unix(1_700_000_000, 0)
	require.NoError(t, exp.Export(context.Background(), a.rm(point(start, 10))))
	require.NoError(t, exp.Export(context.Background(), b.rm(point(start, 1)))) // sweeps a
	require.NoError(t, exp.Export(context.Background(), a.rm(point(start, 12))))
	assert.Equal(t, int64(10+1+12), srv.Total(), "a's state was expired, so 12 is a new stream's first point")
}

// Invalid cumulative values are rejected and reported, and do not poison
// the state: the next valid point bills from the last valid one.
func TestCumulativeRejectsInvalidValues(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	exp := newExporter(t, srv)
	attrs := attribute.NewSet(attribute.String("tenant.id", "t1"), attribute.String("device.id", "d1"))
	start := time.Unix(1_700_000_000, 0)
	rm := func(v float64) *metricdata.ResourceMetrics {
		return sumMetric("tokens", metricdata.CumulativeTemporality,
			metricdata.DataPoint[float64]{Attributes: attrs, StartTime: start, Value: v})
	}
	require.NoError(t, exp.Export(context.Background(), rm(5)))
	for _, bad := range []float64{math.NaN(), math.Inf(1), -3} {
		err := exp.Export(context.Background(), rm(bad))
		var ue *litewavemetric.UsageError
		require.ErrorAs(t, err, &ue, "%v", bad)
		assert.Equal(t, litewavemetric.BadValue, ue.Problem)
	}
	require.NoError(t, exp.Export(context.Background(), rm(7)))
	assert.Equal(t, int64(7), srv.Total())
}
