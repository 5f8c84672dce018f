package litewavemetric_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
)

// TLS keeps Go's defaults, so a certificate nobody vouches for is refused;
// WithTLSConfig supplies the roots (or client certificates) to trust.
func TestTLSVerifiesCertificatesUnlessConfigured(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprint(w, `{"id":"c1"}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()

	c, err := litewavemetric.NewClient(litewavemetric.WithEndpoint(srv.URL))
	require.NoError(t, err)
	_, err = c.PostMeterUsage(context.Background(), "t1", "d1", "pages", 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
	c.Close()

	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c, err = litewavemetric.NewClient(litewavemetric.WithEndpoint(srv.URL), litewavemetric.WithTLSConfig(&tls.Config{RootCAs: roots}))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.PostMeterUsage(context.Background(), "t1", "d1", "pages", 1)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{`{"meter_id":"pages","total_usage":1,"customer_id":"c1"}`}, bodies)
}
