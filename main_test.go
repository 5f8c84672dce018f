package litewavemetric_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.uber.org/goleak"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	goleak.VerifyTestMain(m)
}

// fastRetry keeps fault tests short: the policy's shape is what is tested.
var fastRetry = litewavemetric.WithRetry(litewavemetric.RetryConfig{
	InitialInterval: 5 * time.Millisecond,
	MaxInterval:     20 * time.Millisecond,
	MaxRetryAfter:   3 * time.Second,
})

// pipeline is an app's view: a MeterProvider whose ManualReader feeds the
// exporter on demand, so each collection is deterministic.
type pipeline struct {
	t        testing.TB
	exp      *litewavemetric.Exporter
	reader   *sdkmetric.ManualReader
	provider *sdkmetric.MeterProvider
	meter    metric.Meter
}

func newPipeline(t testing.TB, srv *litewavetest.Server, opts ...litewavemetric.Option) *pipeline {
	return newPipelineWith(t, srv, nil, opts...)
}

func newPipelineWith(t testing.TB, srv *litewavetest.Server, res *resource.Resource, opts ...litewavemetric.Option) *pipeline {
	t.Helper()
	all := append([]litewavemetric.Option{litewavemetric.WithEndpoint(srv.URL), fastRetry}, opts...)
	exp, err := litewavemetric.New(context.Background(), all...)
	require.NoError(t, err)
	reader := sdkmetric.NewManualReader(
		sdkmetric.WithTemporalitySelector(exp.Temporality),
		sdkmetric.WithAggregationSelector(exp.Aggregation),
		sdkmetric.WithCardinalityLimitSelector(exp.CardinalityLimit),
	)
	popts := []sdkmetric.Option{sdkmetric.WithReader(reader)}
	if res != nil {
		popts = append(popts, sdkmetric.WithResource(res))
	}
	provider := sdkmetric.NewMeterProvider(popts...)
	p := &pipeline{t: t, exp: exp, reader: reader, provider: provider, meter: provider.Meter("test")}
	t.Cleanup(func() {
		// Tests assert before this; a test that leaves the backend failing
		// should not wait long for it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = provider.Shutdown(ctx)
		_ = exp.Shutdown(ctx)
	})
	return p
}

// collect runs one collection and exports it, as a PeriodicReader would.
func (p *pipeline) collect() error {
	p.t.Helper()
	return p.exp.Export(context.Background(), collectOnly(p.t, p))
}

func (p *pipeline) flush() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.exp.ForceFlush(ctx)
}

func (p *pipeline) counter(name string) metric.Int64Counter {
	c, err := p.meter.Int64Counter(name)
	require.NoError(p.t, err)
	return c
}

func (p *pipeline) floatCounter(name string) metric.Float64Counter {
	c, err := p.meter.Float64Counter(name)
	require.NoError(p.t, err)
	return c
}

func at(tenant, device string, extra ...attribute.KeyValue) metric.AddOption {
	kv := append([]attribute.KeyValue{attribute.String("tenant.id", tenant), attribute.String("device.id", device)}, extra...)
	return metric.WithAttributes(kv...)
}

func series(tenant, device, meter string) litewavetest.Series {
	return litewavetest.Series{Tenant: tenant, Device: device, Meter: meter}
}

// customers registers tenants t0..t(n-1) as customers c0..c(n-1).
func customers(n int) []litewavetest.Option {
	opts := make([]litewavetest.Option, n)
	for i := range n {
		opts[i] = litewavetest.WithCustomer(tenantID(i), "cus-"+strconv.Itoa(i))
	}
	return opts
}

func tenantID(i int) string { return "tenant-" + strconv.Itoa(i) }

// newExporter is an exporter for srv, shut down when the test ends.
func newExporter(t testing.TB, srv *litewavetest.Server, opts ...litewavemetric.Option) *litewavemetric.Exporter {
	t.Helper()
	exp, err := litewavemetric.New(context.Background(), append([]litewavemetric.Option{litewavemetric.WithEndpoint(srv.URL), fastRetry}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = exp.Shutdown(ctx)
	})
	return exp
}

func newServer(t testing.TB, opts ...litewavetest.Option) *litewavetest.Server {
	srv := litewavetest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

// sumMetric is a collection holding one monotonic sum, as the SDK or a
// Producer hands it to the exporter.
func sumMetric[N int64 | float64](name string, temporality metricdata.Temporality, pts ...metricdata.DataPoint[N]) *metricdata.ResourceMetrics {
	return &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{{
		Name: name, Data: metricdata.Sum[N]{Temporality: temporality, IsMonotonic: true, DataPoints: pts},
	}}}}}
}

// usage is one delta collection of one unit for each of n tenants.
func usage(n int) *metricdata.ResourceMetrics {
	pts := make([]metricdata.DataPoint[int64], n)
	for i := range pts {
		pts[i] = metricdata.DataPoint[int64]{Value: 1, Attributes: attribute.NewSet(
			attribute.String("tenant.id", tenantID(i)), attribute.String("device.id", "d"))}
	}
	return sumMetric("pages", metricdata.DeltaTemporality, pts...)
}

// collectOnly runs a collection without exporting it.
func collectOnly(t testing.TB, p *pipeline) *metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, p.reader.Collect(context.Background(), &rm))
	return &rm
}
