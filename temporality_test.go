package litewavemetric_test

import (
	"context"
	"math"
	"sync"
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
	t.Parallel()
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

// producer is a bridge reporting one cumulative counter, as a Producer
// hands it to a billing reader.
type producer struct {
	mu    sync.Mutex
	name  string
	attrs attribute.Set
	point *metricdata.DataPoint[int64]
}

func newProducer(name, tenant, device string) *producer {
	return &producer{name: name, attrs: attribute.NewSet(attribute.String("tenant.id", tenant), attribute.String("device.id", device))}
}

func (p *producer) report(start time.Time, v int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.point = &metricdata.DataPoint[int64]{Attributes: p.attrs, StartTime: start, Time: time.Now(), Value: v}
}

func (p *producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.point == nil {
		return nil, nil
	}
	return []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{{Name: p.name, Data: metricdata.Sum[int64]{
		Temporality: metricdata.CumulativeTemporality, IsMonotonic: true, DataPoints: []metricdata.DataPoint[int64]{*p.point}}}}}}, nil
}

// The Collector's cumulativetodelta rules, with the billing reading of the
// first point: a start time known, and not before the exporter's start,
// means the counter began at zero then.
func TestCumulativeResetsAndStartTimes(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	prod := newProducer("pages", "t1", "d1")
	p := newPipelineWith(t, srv, pipelineOpts{producers: []sdkmetric.Producer{prod}})
	t0 := time.Now()
	t1 := t0.Add(time.Hour)
	steps := []struct {
		what  string
		start time.Time
		value int64
		bill  int64
	}{
		{"first point, started after the exporter: all new", t0, 10, 10},
		{"increase", t0, 14, 4},
		{"no change", t0, 14, 0},
		{"lower value: reset, counted from zero", t0, 3, 3},
		{"increase after reset", t0, 9, 6},
		{"new start time: a new stream", t1, 2, 2},
		{"increase on the new stream", t1, 5, 3},
	}
	var billed int64
	for _, s := range steps {
		prod.report(s.start, s.value)
		require.NoError(t, p.flush(), s.what)
		billed += s.bill
		assert.Equal(t, billed, srv.Total(), s.what)
	}
}

// A counter of unknown start, or one that started before the exporter did,
// may hold usage an earlier process billed: its first point is only a
// baseline, as with the Collector's initial_value "auto".
func TestCumulativeFirstPointOfAnOlderStreamIsABaseline(t *testing.T) {
	t.Parallel()
	for name, start := range map[string]time.Time{"unknown start": {}, "started an hour ago": time.Now().Add(-time.Hour)} {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
			prod := newProducer("pages", "t1", "d1")
			p := newPipelineWith(t, srv, pipelineOpts{producers: []sdkmetric.Producer{prod}})
			prod.report(start, 1000)
			require.NoError(t, p.flush())
			assert.Zero(t, srv.Total(), "only a baseline")
			prod.report(start, 1004)
			require.NoError(t, p.flush())
			assert.Equal(t, int64(4), srv.Total())
		})
	}
}

// With a spool, a cumulative stream's state survives a restart: the next
// process bills only its growth, never its whole value again. A stream
// that restarted while no exporter ran is billed from zero.
func TestCumulativeStreamAcrossRestartBillsOnlyGrowth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	started := time.Now().Add(-time.Hour)
	prod := newProducer("pages", "t1", "d1")
	run := func(reports ...int64) {
		p := newPipelineWith(t, srv, pipelineOpts{producers: []sdkmetric.Producer{prod}}, litewavemetric.WithSpoolDir(dir))
		for _, v := range reports {
			prod.report(started, v)
			require.NoError(t, p.flush())
		}
		require.NoError(t, p.shutdownWithin(5*time.Second))
	}
	run(1000, 1010)
	assert.Equal(t, int64(10), srv.Total(), "a baseline of 1000, then 10")
	run(1015, 1030)
	assert.Equal(t, int64(30), srv.Total(), "after the restart only the growth: 5, then 15")

	started = time.Now() // the producer restarted while no exporter ran
	run(7)
	assert.Equal(t, int64(37), srv.Total(), "a new stream is billed from zero")
}

// A stream not seen for longer than the staleness is forgotten: its next
// point is a stream's first point again.
func TestCumulativeStateExpires(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	exp := newExporter(t, srv, litewavemetric.WithStaleness(time.Nanosecond))
	a := attribute.NewSet(attribute.String("tenant.id", "t1"), attribute.String("device.id", "a"))
	b := attribute.NewSet(attribute.String("tenant.id", "t1"), attribute.String("device.id", "b"))
	start := time.Now()
	pt := func(attrs attribute.Set, v int64) *metricdata.ResourceMetrics {
		return sumMetric("pages", metricdata.CumulativeTemporality, metricdata.DataPoint[int64]{Attributes: attrs, StartTime: start, Value: v})
	}
	require.NoError(t, exp.Export(context.Background(), pt(a, 10)))
	require.NoError(t, exp.Export(context.Background(), pt(b, 1))) // sweeps a
	require.NoError(t, exp.Export(context.Background(), pt(a, 12)))
	assert.Equal(t, int64(10+1+12), srv.Total(), "a's state was expired, so 12 is a first point again")
}

// A stream seen in several collections, then forgotten, starts again from
// its next point: the state the series cache kept for it is not reused.
func TestCumulativeStateExpiresAfterRepeatedPoints(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	exp := newExporter(t, srv, litewavemetric.WithStaleness(time.Nanosecond))
	a := attribute.NewSet(attribute.String("tenant.id", "t1"), attribute.String("device.id", "a"))
	b := attribute.NewSet(attribute.String("tenant.id", "t1"), attribute.String("device.id", "b"))
	start := time.Now()
	pt := func(attrs attribute.Set, v int64) *metricdata.ResourceMetrics {
		return sumMetric("pages", metricdata.CumulativeTemporality, metricdata.DataPoint[int64]{Attributes: attrs, StartTime: start, Value: v})
	}
	for _, v := range []int64{10, 11} {
		require.NoError(t, exp.Export(context.Background(), pt(a, v)))
	}
	require.NoError(t, exp.Export(context.Background(), pt(b, 1))) // sweeps a
	require.NoError(t, exp.Export(context.Background(), pt(a, 15)))
	assert.Equal(t, int64(11+1+15), srv.Total(), "a's state was expired, so 15 is a first point again, not growth from 11")
}

// Invalid cumulative values are rejected and reported, and do not poison
// the state: the next valid point bills from the last valid one.
func TestCumulativeRejectsInvalidValues(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	exp := newExporter(t, srv)
	attrs := attribute.NewSet(attribute.String("tenant.id", "t1"), attribute.String("device.id", "d1"))
	start := time.Now()
	rm := func(v float64) *metricdata.ResourceMetrics {
		return sumMetric("tokens", metricdata.CumulativeTemporality,
			metricdata.DataPoint[float64]{Attributes: attrs, StartTime: start, Value: v})
	}
	require.NoError(t, exp.Export(context.Background(), rm(5)))
	for _, bad := range []float64{math.NaN(), math.Inf(1), -3} {
		err := exp.Export(context.Background(), rm(bad))
		var ue *litewavemetric.UsageError
		require.ErrorAs(t, err, &ue, "%v", bad)
		assert.Equal(t, "bad_value", ue.Problem)
	}
	require.NoError(t, exp.Export(context.Background(), rm(7)))
	assert.Equal(t, int64(7), srv.Total())
}
