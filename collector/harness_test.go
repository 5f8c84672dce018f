package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The Collector's telemetry and gRPC keep process-wide workers.
		goleak.IgnoreAnyFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreTopFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
	)
}

// collectorConfig is config.yaml's shape for a test: OTLP/HTTP on addr,
// billing server, with its spool in spool ("" for none), and the
// exporter's further settings, indented as its keys.
func collectorConfig(addr, server, spool string, exporterKeys ...string) string {
	cfg := fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: %s
exporters:
  litewave:
    endpoint: %s
    retry:
      initial_interval: 10ms
      max_interval: 100ms
`, addr, server)
	if spool != "" {
		cfg += fmt.Sprintf("    spool_dir: %s\n", spool)
	}
	for _, k := range exporterKeys {
		cfg += k
	}
	return cfg + `
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [litewave]
`
}

// startCollector runs the distribution in the test, configured by yaml,
// until stop is called (or the test ends).
func startCollector(t *testing.T, yaml string) (stop func()) {
	t.Helper()
	set := settings()
	set.DisableGracefulShutdown = true
	set.ConfigProviderSettings.ResolverSettings.URIs = []string{"yaml:" + yaml}
	col, err := otelcol.NewCollector(set)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- col.Run(context.Background()) }()
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
			return col.GetState() == otelcol.StateRunning
		}
	}, 20*time.Second, 5*time.Millisecond)
	require.Equal(t, otelcol.StateRunning, col.GetState(), "the Collector did not start")
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		col.Shutdown()
		require.NoError(t, <-done)
	}
	t.Cleanup(stop)
	return stop
}

// freeAddr is a loopback address with a port free now.
// runCollector starts the built distribution bin on config, a process of
// its own that a test can SIGKILL, once it listens on addr.
func runCollector(t *testing.T, bin, config, addr string) *exec.Cmd {
	cmd := exec.Command(bin, "--config", config)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool { return listening(addr) }, 30*time.Second, 10*time.Millisecond, "the Collector did not listen")
	return cmd
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// goClient is a Go program's OpenTelemetry SDK exporting cumulative sums
// over OTLP/HTTP to addr, the SDK's default temporality. Its exports fail
// at once while no Collector listens: a cumulative stream loses nothing by
// it, the next export carries the total.
type goClient struct {
	mp      *sdkmetric.MeterProvider
	counter metric.Int64Counter
}

func newGoClient(t *testing.T, addr, instance string) *goClient {
	t.Helper()
	exp, err := otlpmetrichttp.New(t.Context(), otlpmetrichttp.WithEndpoint(addr), otlpmetrichttp.WithInsecure(),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}))
	require.NoError(t, err)
	res := resource.NewSchemaless(attribute.String("service.name", "shop"), attribute.String("service.instance.id", instance))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	counter, err := mp.Meter("shop").Int64Counter("api_calls")
	require.NoError(t, err)
	return &goClient{mp: mp, counter: counter}
}

func (c *goClient) add(tenant string, n int64) {
	c.counter.Add(context.Background(), n, metric.WithAttributes(attribute.String("tenant.id", tenant), attribute.String("device.id", "d1")))
}

// flush is one collection, exported.
func (c *goClient) flush(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return c.mp.ForceFlush(ctx)
}

// listening reports whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.Dial("tcp", addr)
	if err == nil {
		_ = c.Close()
	}
	return err == nil
}
