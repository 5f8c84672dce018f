package litewavetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
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

// recordValue is a record value in the exporter's exact form
// (internal/usage.AppendRecord).
func recordValue(tenant, device, meter, customer string, usage int64) string {
	return fmt.Sprintf(`{"meter_id":%q,"customer_id":%q,"total_usage":%d,"tenant_id":%q,"device_id":%q,`+
		`"start_time":"2026-10-01T10:00:00Z","end_time":"2026-10-01T11:00:00Z"}`,
		meter, customer, usage, tenant, device)
}

// kv is a produce record with a raw JSON key (e.g. `"k1"`) and value.
func kv(key, value string) string { return `{"key":` + key + `,"value":` + value + `}` }

// produceBody wraps records, each a JSON object such as kv returns.
func produceBody(records ...string) string {
	return `{"records":[` + strings.Join(records, ",") + `]}`
}

func produceReq(t *testing.T, base, topic, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/topics/"+topic, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.kafka.json.v2+json")
	req.Header.Set("Accept", "application/vnd.kafka.v2+json")
	return req
}

// redpandaEntry is one offsets entry of a Redpanda answer; ErrorCode is 0
// when the key is absent.
type redpandaEntry struct {
	Partition int32 `json:"partition"`
	ErrorCode int   `json:"error_code"`
	Offset    int64 `json:"offset"`
}

// redpandaEntries decodes a Redpanda answer and checks that its entries
// carry only the keys pandaproxy writes.
func redpandaEntries(t *testing.T, body string) []redpandaEntry {
	t.Helper()
	var raw struct{ Offsets []map[string]json.RawMessage }
	var typed struct{ Offsets []redpandaEntry }
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	if err := json.Unmarshal([]byte(body), &typed); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	for i, e := range raw.Offsets {
		_, hasCode := e["error_code"]
		want := 2
		if hasCode {
			want = 3
		}
		if _, ok := e["partition"]; !ok || len(e) != want {
			t.Fatalf("entry %d of %s has keys other than partition, offset and error_code", i, body)
		}
		if _, ok := e["offset"]; !ok {
			t.Fatalf("entry %d of %s has no offset", i, body)
		}
		if hasCode && typed.Offsets[i].ErrorCode == 0 {
			t.Fatalf("entry %d of %s has error_code 0", i, body)
		}
	}
	return typed.Offsets
}

// byPartition sorts entries so a test can compare a shuffled answer.
func byPartition(es []redpandaEntry) []redpandaEntry {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b redpandaEntry) int { return int(a.Partition - b.Partition) })
	return es
}

// confluentEntry is one offsets entry of a REST Proxy answer.
type confluentEntry struct {
	Partition *int32  `json:"partition"`
	Offset    *int64  `json:"offset"`
	ErrorCode *int    `json:"error_code"`
	Error     *string `json:"error"`
}

// confluentEntries decodes a REST Proxy answer and checks that every entry
// and the schema ids are present, as Jackson writes nulls.
func confluentEntries(t *testing.T, body string) []confluentEntry {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	if string(raw["key_schema_id"]) != "null" || string(raw["value_schema_id"]) != "null" || len(raw) != 3 {
		t.Fatalf("answer %s: want offsets and null schema ids only", body)
	}
	var entries []map[string]json.RawMessage
	var typed []confluentEntry
	if err := json.Unmarshal(raw["offsets"], &entries); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	if err := json.Unmarshal(raw["offsets"], &typed); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	for i, e := range entries {
		for _, k := range []string{"partition", "offset", "error_code", "error"} {
			if _, ok := e[k]; !ok || len(e) != 4 {
				t.Fatalf("entry %d of %s: want exactly partition, offset, error_code and error", i, body)
			}
		}
		ok, failed := typed[i].Partition != nil && typed[i].Offset != nil, typed[i].ErrorCode != nil && typed[i].Error != nil
		if ok == failed {
			t.Fatalf("entry %d of %s is neither a success nor a failure", i, body)
		}
	}
	return typed
}

// okAt reports whether e is a success at partition p and offset o.
func okAt(e confluentEntry, p int32, o int64) bool {
	return e.ErrorCode == nil && e.Partition != nil && *e.Partition == p && e.Offset != nil && *e.Offset == o
}

// readWhileWriting reads every snapshot of s in a loop until the returned
// function is called, so that -race checks them against concurrent writes.
func readWhileWriting(s *Server) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			default:
			}
			_ = s.Events()
			_ = s.Records()
			_ = s.Requests()
			_ = s.Totals()
			_ = s.Stats()
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}
