package litewavemetric_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

func TestEnvironmentConfiguresAndOptionsWin(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("acme", "c1"), litewavetest.WithAPIKey("env-key"))
	t.Setenv(litewavemetric.EnvEndpoint, srv.URL)
	t.Setenv(litewavemetric.EnvAPIKey, "env-key")
	t.Setenv(litewavemetric.EnvTenantAttribute, "org")
	t.Setenv(litewavemetric.EnvTimeout, "1500")
	t.Setenv(litewavemetric.EnvConcurrency, "3")

	c, err := litewavemetric.NewClient()
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	acct, err := c.LookupCustomer(context.Background(), "acme")
	require.NoError(t, err, "endpoint and key from the environment")
	assert.Equal(t, "c1", acct.ID)

	c2, err := litewavemetric.NewClient(litewavemetric.WithAPIKey("option-key"))
	require.NoError(t, err)
	defer c2.CloseIdleConnections()
	_, err = c2.LookupCustomer(context.Background(), "acme")
	var he *litewavemetric.HTTPError
	require.ErrorAs(t, err, &he, "the explicit key beats the environment's")
	assert.Equal(t, http.StatusUnauthorized, he.StatusCode)
}

func TestInvalidConfigurationIsRefused(t *testing.T) {
	cases := map[string][]litewavemetric.Option{
		"scheme":          {litewavemetric.WithEndpoint("ftp://x")},
		"credentials":     {litewavemetric.WithEndpoint("http://user:pw@host")},
		"query":           {litewavemetric.WithEndpoint("http://host?x=1")},
		"timeout":         {litewavemetric.WithTimeout(0)},
		"concurrency":     {litewavemetric.WithConcurrency(0)},
		"series":          {litewavemetric.WithMaxSeries(0)},
		"tls with client": {litewavemetric.WithTLSConfig(&tls.Config{}), litewavemetric.WithHTTPClient(http.DefaultClient)},
		"empty meter id":  {litewavemetric.WithMeterID("pages", "")},
		"empty attribute": {litewavemetric.WithTenantAttribute("")},
		"retry order":     {litewavemetric.WithRetry(litewavemetric.RetryConfig{InitialInterval: time.Hour, MaxInterval: time.Second})},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := litewavemetric.New(context.Background(), opts...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "invalid configuration")
			assert.NotContains(t, err.Error(), "pw", "credentials are redacted")
		})
	}
	t.Setenv(litewavemetric.EnvTimeout, "soon")
	_, err := litewavemetric.NewClient()
	assert.ErrorContains(t, err, "LITEWAVE_TIMEOUT")
}

// The API key appears in no error, log line or formatted value.
func TestAPIKeyNeverPrinted(t *testing.T) {
	const key = "sk-live-0123456789"
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"), litewavetest.WithAPIKey(key))
	srv.Script(litewavetest.Fault{Target: litewavetest.Events, Status: 503}, litewavetest.Fault{Target: litewavetest.Events, Status: 400})
	p := newPipeline(t, srv, litewavemetric.WithAPIKey(key), litewavemetric.WithLogger(logger))
	p.counter("pages").Add(context.Background(), 1, at("t1", "d1"))
	exportErr := p.collect()
	flushErr := p.flush()
	require.Error(t, exportErr)
	require.Error(t, flushErr)
	require.Equal(t, int64(1), srv.Stats().Accepted+srv.Stats().Rejected+int64(len(p.exp.Parked())), "the key was sent")

	printed := []string{
		fmt.Sprintf("%v", p.exp), fmt.Sprintf("%+v", p.exp), fmt.Sprintf("%#v", p.exp),
		fmt.Sprintf("%v", p.exp.Client()), fmt.Sprintf("%+v", *p.exp.Client()),
		exportErr.Error(), flushErr.Error(), logs.String(),
	}
	for _, s := range printed {
		assert.NotContains(t, s, key)
	}
	assert.Contains(t, logs.String(), "rejected permanently", "the logger did receive the failures")
}
