package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/otelcol"
)

// The config.yaml users run is one the distribution accepts: OTLP over
// HTTP and gRPC into the litewave exporter, with nothing in between.
func TestShippedConfigIsValid(t *testing.T) {
	set := settings()
	set.ConfigProviderSettings.ResolverSettings.URIs = []string{"file:config.yaml"}
	col, err := otelcol.NewCollector(set)
	require.NoError(t, err)
	require.NoError(t, col.DryRun(t.Context()))
}
