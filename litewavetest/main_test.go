package litewavetest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine (server handler, connection or
// client transport) survives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newTestServer starts a server closed at the end of the test.
func newTestServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// newClient returns a client with its own transport so the test can close
// its idle connections (goleak would flag their goroutines otherwise).
// keepAlive=false gives every request a fresh connection, which stops
// net/http from transparently retrying a request whose connection dropped.
func newClient(t *testing.T, keepAlive bool, timeout time.Duration) *http.Client {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 128}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		// Surface redirects instead of following them: the fake must never
		// answer one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type result struct {
	status int
	header http.Header
	body   string
}

// do sends req and reads the whole answer.
func do(c *http.Client, req *http.Request) (result, error) {
	resp, err := c.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

func mustDo(t *testing.T, c *http.Client, req *http.Request) result {
	t.Helper()
	res, err := do(c, req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return res
}

func eventBody(meter string, usage int64, customer string) string {
	return fmt.Sprintf(`{"meter_id":%q,"total_usage":%d,"customer_id":%q}`, meter, usage, customer)
}

// eventReq builds an event POST; empty tenant, device or key omit the header.
func eventReq(t *testing.T, base, tenant, device, key, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/events", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tenant != "" {
		req.Header.Set("x-tenant-id", tenant)
	}
	if device != "" {
		req.Header.Set("x-device-id", device)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return req
}

func lookupReq(t *testing.T, base, rawTenant string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/customer-accounts/tenant/"+rawTenant, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
