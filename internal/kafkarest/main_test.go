package kafkarest

import (
	"encoding/json"
	"fmt"
	"github.com/aiorch/litewavemetric/internal/redact"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/aiorch/litewavemetric/internal/httpclient"
	"github.com/aiorch/litewavemetric/internal/usage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testTopic = "usage-events"

// proxy is a fake REST Proxy on 127.0.0.1. It checks that each request is a
// v2 JSON produce, keeps its body, and answers with what answer returns for
// the request (numbered from 0) of records records.
type proxy struct {
	t      *testing.T
	srv    *httptest.Server
	answer func(req, records int) (status int, header http.Header, body string)

	mu    sync.Mutex
	reqs  []request
	calls int
}

// request is a produce request as the proxy saw it.
type request struct {
	uri  string
	body []byte
	keys []json.RawMessage
	vals []json.RawMessage
}

func newProxy(t *testing.T, answer func(req, records int) (int, http.Header, string)) *proxy {
	p := &proxy{t: t, answer: answer}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		p.t.Errorf("reading request: %v", err)
		return
	}
	if r.Method != http.MethodPost || !strings.Contains(r.URL.Path, "/topics/") {
		p.t.Errorf("unexpected %s %s", r.Method, r.RequestURI)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if ct, acc := r.Header.Get("Content-Type"), r.Header.Get("Accept"); ct != "application/vnd.kafka.json.v2+json" || acc != "application/vnd.kafka.v2+json" {
		p.t.Errorf("Content-Type %q, Accept %q", ct, acc)
	}
	var parsed struct {
		Records []struct {
			Key   json.RawMessage `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"records"`
	}
	if err := json.Unmarshal(body, &parsed); err != nil {
		p.t.Errorf("body is not JSON: %v: %s", err, body)
	}
	req := request{uri: r.RequestURI, body: body}
	for _, rec := range parsed.Records {
		req.keys = append(req.keys, rec.Key)
		req.vals = append(req.vals, rec.Value)
	}
	p.mu.Lock()
	n := len(p.reqs)
	p.reqs = append(p.reqs, req)
	p.mu.Unlock()
	status, header, answer := p.answer(n, len(parsed.Records))
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

func (p *proxy) requests() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]request(nil), p.reqs...)
}

// calls counts every request, produce or not.
func (p *proxy) callCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// backend returns a Backend producing to topic through p.
func (p *proxy) backend(topic string, maxRecords, maxBytes int) *Backend {
	return New(newClient(p.transport()), p.srv.URL, topic, maxRecords, maxBytes)
}

// transport returns a transport of the test's own, closed when it ends.
func (p *proxy) transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	p.t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func newClient(rt http.RoundTripper) *httpclient.Client {
	return httpclient.New(nil, rt, redact.Secret{}, 10*time.Second, httpclient.Target{Setting: "LITEWAVE_KAFKA_REST_URL"})
}

// answerText answers every request with status and body.
func answerText(status int, body string) func(int, int) (int, http.Header, string) {
	return func(int, int) (int, http.Header, string) { return status, nil, body }
}

// confluentOK answers each record of request req with partition 0 and
// offset 100*req+i, as Confluent does on success.
func confluentOK(req, records int) (int, http.Header, string) {
	entries := make([]string, records)
	for i := range entries {
		entries[i] = fmt.Sprintf(`{"partition":0,"offset":%d,"error_code":null,"error":null}`, 100*req+i)
	}
	return http.StatusOK, nil, `{"offsets":[` + strings.Join(entries, ",") + `],"key_schema_id":null,"value_schema_id":null}`
}

var testStart = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano()

// testEvents returns n events of distinct ids, some with strings that need
// escaping, so that records differ in size.
func testEvents(n int) []usage.Event {
	evs := make([]usage.Event, n)
	for i := range evs {
		k := usage.Key{Tenant: "tenant-" + strconv.Itoa(i%3), Device: "dev\"" + strings.Repeat("ü", i%4), Meter: "api_calls"}
		evs[i] = usage.Event{
			ID:       usage.DeriveID("inst", usage.Session{1}, k, uint64(i)),
			Key:      k,
			Customer: "cus_" + strconv.Itoa(i),
			Units:    int64(i * 1000),
			Start:    testStart,
			End:      testStart + int64(i+1)*int64(1500*time.Millisecond),
		}
	}
	return evs
}

// unset marks outcomes Send did not write.
const unset usage.Result = 255

func newOutcomes(n int) []usage.Outcome {
	out := make([]usage.Outcome, n)
	for i := range out {
		out[i].Result = unset
	}
	return out
}
