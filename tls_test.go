package litewavemetric_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
)

// TLS keeps Go's defaults, so a certificate nobody vouches for is refused;
// WithTLSConfig supplies the roots (or client certificates) to trust.
func TestTLSVerifiesCertificatesUnlessConfigured(t *testing.T) {
	var bodies []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprint(w, `{"id":"c1"}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()

	c, err := litewavemetric.NewClient(litewavemetric.WithEndpoint(srv.URL))
	require.NoError(t, err)
	_, err = c.PostMeterUsage(context.Background(), "t1", "d1", "pages", 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
	c.CloseIdleConnections()

	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c, err = litewavemetric.NewClient(litewavemetric.WithEndpoint(srv.URL), litewavemetric.WithTLSConfig(&tls.Config{RootCAs: roots}))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	_, err = c.PostMeterUsage(context.Background(), "t1", "d1", "pages", 1)
	require.NoError(t, err)
	assert.Equal(t, []string{`{"meter_id":"pages","total_usage":1,"customer_id":"c1"}`}, bodies)
}

// A lookup answer that is garbage, or has no id, is a failed lookup: the
// usage stays owed until a good answer comes.
func TestBadLookupAnswersKeepUsageOwed(t *testing.T) {
	answers := []string{`<html>proxy error</html>`, `{"name":"acme"}`, `[]`, `{"id":"c1"}`}
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprint(w, answers[min(n, len(answers)-1)])
			n++
			return
		}
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), `"customer_id":"c1"`) {
			http.Error(w, "bad customer", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL), fastRetry,
		litewavemetric.WithCustomerCache(time.Minute, time.Millisecond), litewavemetric.WithConcurrency(1))
	require.NoError(t, err)
	defer exp.Shutdown(context.Background())
	require.Error(t, exp.Export(context.Background(), usage(1)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, exp.ForceFlush(ctx))
	st := exp.Stats()
	assert.Equal(t, int64(1), st.DeliveredUnits)
	assert.Equal(t, int64(2), st.Lookups.Failures, "garbage and no-id answers are failures")
	assert.Equal(t, int64(1), st.Lookups.Misses, "an empty list is a tenant without an account")
}
