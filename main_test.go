package litewavemetric_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
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

// pipeline is an app's view: a MeterProvider whose PeriodicReader feeds the
// exporter, as users build it. Its interval is long: each collection is one
// provider ForceFlush, so each is deterministic.
type pipeline struct {
	t        testing.TB
	exp      *litewavemetric.Exporter
	reader   *sdkmetric.PeriodicReader
	provider *sdkmetric.MeterProvider
	meter    metric.Meter
}

type pipelineOpts struct {
	res       *resource.Resource
	producers []sdkmetric.Producer
}

func newPipeline(t testing.TB, srv *litewavetest.Server, opts ...litewavemetric.Option) *pipeline {
	return newPipelineWith(t, srv, pipelineOpts{}, opts...)
}

func newPipelineWith(t testing.TB, srv *litewavetest.Server, po pipelineOpts, opts ...litewavemetric.Option) *pipeline {
	t.Helper()
	all := append([]litewavemetric.Option{litewavemetric.WithEndpoint(srv.URL), fastRetry}, opts...)
	exp, err := litewavemetric.New(context.Background(), all...)
	require.NoError(t, err)
	return pipelineOf(t, exp, po)
}

// pipelineOf is the pipeline around exp, an exporter made for the test.
func pipelineOf(t testing.TB, exp *litewavemetric.Exporter, po pipelineOpts) *pipeline {
	t.Helper()
	ropts := []sdkmetric.PeriodicReaderOption{sdkmetric.WithInterval(time.Hour)}
	for _, pr := range po.producers {
		ropts = append(ropts, sdkmetric.WithProducer(pr))
	}
	reader := litewavemetric.NewPeriodicReader(exp, ropts...)
	popts := []sdkmetric.Option{sdkmetric.WithReader(reader)}
	if po.res != nil {
		popts = append(popts, sdkmetric.WithResource(po.res))
	}
	provider := sdkmetric.NewMeterProvider(popts...)
	p := &pipeline{t: t, exp: exp, reader: reader, provider: provider, meter: provider.Meter("test")}
	t.Cleanup(func() {
		// Tests assert before this; a test that leaves the backend failing
		// should not wait long for it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = provider.Shutdown(ctx)
	})
	return p
}

// flush is a collection and a flush, through the provider, as users call
// them: it returns once everything is delivered.
func (p *pipeline) flush() error { return p.flushWithin(10 * time.Second) }

// flushWithin flushes with a deadline: for a backend that stays down.
func (p *pipeline) flushWithin(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.provider.ForceFlush(ctx)
}

// owedWait bounds a flush that is meant to end with usage still owed: long
// enough that the SDK's reader reaches the exporter before the deadline
// under -race on a loaded machine (at 100 ms it did not, once in 30 runs),
// so that the error says what is owed rather than only that time ran out.
const owedWait = time.Second

// shutdownWithin shuts the provider down with a deadline.
func (p *pipeline) shutdownWithin(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.provider.Shutdown(ctx)
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

// newExporter is an exporter for srv, shut down when the test ends, for
// tests of the exporter's own methods.
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

// outage makes srv answer every request with 503 while the returned switch
// is on, as it is at first.
func outage(srv *litewavetest.Server) *atomic.Bool {
	down := new(atomic.Bool)
	down.Store(true)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		if down.Load() {
			return litewavetest.Fault{Status: http.StatusServiceUnavailable}
		}
		return litewavetest.Fault{}
	})
	return down
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

// handled collects what reaches otel.Handle for the rest of the test.
type handled struct {
	mu   sync.Mutex
	errs []error
}

func handleErrors(t *testing.T) *handled {
	h := &handled{}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		h.mu.Lock()
		h.errs = append(h.errs, err)
		h.mu.Unlock()
	}))
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Print(err) })) })
	return h
}

func (h *handled) all() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.errs...)
}

// within fails the test if the result does not arrive in time: a deadline
// to detect a hang, not a sleep to synchronise.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still blocked after 10s", what)
		panic("unreachable")
	}
}

func sum[K comparable](m map[K]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

// mismatches lists the series whose totals differ, as [want, got]: a
// readable failure for large maps.
func mismatches[K comparable](want, got map[K]int64) map[K][2]int64 {
	out := map[K][2]int64{}
	for k, w := range want {
		if got[k] != w {
			out[k] = [2]int64{w, got[k]}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			out[k] = [2]int64{0, g}
		}
	}
	return out
}
