package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/aiorch/litewavemetric/litewavetest"
)

// A Go program's SDK, exporting cumulative sums over OTLP/HTTP to the
// Collector, is billed what it counted: each collection bills its growth.
func TestGoClientBillsThroughTheCollector(t *testing.T) {
	srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
	defer srv.Close()
	addr := freeAddr(t)
	startCollector(t, collectorConfig(addr, srv.URL, ""))
	client := newGoClient(t, addr, "shop-1")

	counted := map[string]int64{}
	for round := range 5 {
		for _, tenant := range []string{"t1", "t2", "t3"} {
			n := int64(round*10 + len(tenant))
			client.add(tenant, n)
			counted[tenant] += n
		}
		require.NoError(t, client.flush(t))
	}
	require.Eventually(t, func() bool { return totalsByTenant(srv) == len(counted) && srv.Total() == sum(counted) }, 10*time.Second, 5*time.Millisecond)
	for tenant, n := range counted {
		require.Equal(t, n, srv.Totals()[litewavetest.Series{Tenant: tenant, Device: "d1", Meter: "api_calls"}], tenant)
	}
}

// A Collector restarted on its spool bills only the growth of a
// cumulative stream that went on counting while it was down: the stream's
// state came back from the spool, so the first point after the restart is
// neither billed whole nor taken as a mere baseline.
func TestCumulativeStreamAcrossACollectorRestart(t *testing.T) {
	srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
	defer srv.Close()
	addr, spool := freeAddr(t), t.TempDir()
	stop := startCollector(t, collectorConfig(addr, srv.URL, spool))
	client := newGoClient(t, addr, "shop-1")

	client.add("t1", 40)
	require.NoError(t, client.flush(t))
	require.Eventually(t, func() bool { return srv.Total() == 40 }, 10*time.Second, 5*time.Millisecond)
	stop()

	client.add("t1", 2)
	require.Error(t, client.flush(t), "no Collector listens: the export fails, the stream keeps its total")
	startCollector(t, collectorConfig(addr, srv.URL, spool))
	client.add("t1", 5)
	require.NoError(t, client.flush(t))

	require.Eventually(t, func() bool { return srv.Total() == 47 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, client.flush(t))
	require.Equal(t, int64(47), srv.Total(), "a repeated cumulative total bills nothing")
	require.Empty(t, srv.Conflicts())
}

func totalsByTenant(srv *litewavetest.Server) int { return len(srv.Totals()) }

func sum(m map[string]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

// The same over OTLP/gRPC.
func TestGoGRPCClientBillsThroughTheCollector(t *testing.T) {
	srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
	defer srv.Close()
	addr := freeAddr(t)
	startCollector(t, strings.Replace(collectorConfig(addr, srv.URL, ""), "      http:", "      grpc:", 1))
	exp, err := otlpmetricgrpc.New(t.Context(), otlpmetricgrpc.WithEndpoint(addr), otlpmetricgrpc.WithInsecure())
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.instance.id", "grpc-1"))),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	counter, err := mp.Meter("shop").Int64Counter("api_calls")
	require.NoError(t, err)
	for round := range 3 {
		counter.Add(t.Context(), int64(round+1), metric.WithAttributes(attribute.String("tenant.id", "g1"), attribute.String("device.id", "d1")))
		require.NoError(t, mp.ForceFlush(t.Context()))
	}
	require.NoError(t, mp.Shutdown(t.Context()))
	require.Eventually(t, func() bool { return srv.Total() == 6 }, 10*time.Second, 5*time.Millisecond)
}
