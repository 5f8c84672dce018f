package litewavemetric_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// restPipeline bills srv's REST Proxy endpoint, looking customers up at
// srv's events API.
func restPipeline(t *testing.T, srv *litewavetest.Server, opts ...litewavemetric.Option) *pipeline {
	return newPipeline(t, srv, append([]litewavemetric.Option{litewavemetric.WithBackend(litewavemetric.BackendKafkaREST),
		litewavemetric.WithKafka(litewavemetric.KafkaConfig{RESTProxyURL: srv.URL})}, opts...)...)
}

// runProgram runs the test binary as a program configured by env alone:
// it counts a workload over series series, shuts its provider down, and
// reports what it counted and what Shutdown said.
func runProgram(t *testing.T, series int, env ...string) crashReport {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashCompleteEnv+"=1", crashSeriesEnv+"="+strconv.Itoa(series))
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	require.NoError(t, cmd.Run())
	var rep crashReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), "%s", out.String())
	return rep
}

// One compiled program bills the same workload through the events API, and
// through a REST Proxy with customers looked up at the portal, chosen by
// its environment alone: counted = billed, each key once, and no usage goes
// to the other path.
func TestOneProgramBillsThroughEitherBackend(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const key = "portal-key"
	configs := map[string]func(url string) []string{
		"events": func(url string) []string {
			return []string{"LITEWAVE_ENDPOINT" + "=" + url}
		},
		"kafka-rest, portal lookups": func(url string) []string {
			return []string{"LITEWAVE_BACKEND" + "=kafka-rest", "LITEWAVE_KAFKA_REST_URL" + "=" + url,
				"LITEWAVE_PORTAL_URL" + "=" + url, "LITEWAVE_API_KEY" + "=" + key,
				"LITEWAVE_ENDPOINT" + "=http://127.0.0.1:1"} // the events API must not be asked
		},
	}
	for name, env := range configs {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, append(customers(7), litewavetest.WithPortalAPIKey(key))...)
			rep := runProgram(t, 40, env(srv.URL)...)
			assert.Empty(t, rep.Shutdown, "Shutdown returned nil")
			assert.Empty(t, mismatches(rep.Counted, totalsByKey(srv)), "[counted, billed]")
			st := srv.Stats()
			assert.Zero(t, st.Duplicates+st.RecordDuplicates+st.Conflicts+st.RecordConflicts)
			if name == "events" {
				assert.Zero(t, st.Produces, "nothing went to the REST Proxy")
				assert.Positive(t, st.Posts)
				return
			}
			assert.Zero(t, st.Posts, "nothing went to the events API")
			assert.Positive(t, st.Produces)
			for _, r := range srv.Requests() {
				if r.Method == http.MethodGet {
					assert.True(t, strings.HasPrefix(r.Path, "/metering/v1alpha1/customer-accounts/tenant/"), r.Path)
					assert.Equal(t, key, r.Header.Get("x-api-key"))
				}
			}
		})
	}
}

// Records carry the event's key and everything a consumer needs, and a
// REST Proxy, which may be anyone's, never gets the API key.
func TestKafkaRESTRecordsAndNoKeyForTheProxy(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := restPipeline(t, srv, litewavemetric.WithAPIKey("secret-key"))
	p.counter("pages").Add(context.Background(), 9, at("t1", "d1"))
	require.NoError(t, p.flush())
	recs := srv.Records()
	require.Len(t, recs, 1)
	assert.Equal(t, "usage-events", recs[0].Topic)
	assert.Regexp(t, `^"[0-9a-f-]{36}"$`, string(recs[0].Key))
	var v map[string]any
	require.NoError(t, json.Unmarshal(recs[0].Value, &v))
	assert.Equal(t, map[string]any{"meter_id": "pages", "customer_id": "c1", "total_usage": 9.0, "tenant_id": "t1", "device_id": "d1",
		"start_time": v["start_time"], "end_time": v["end_time"]}, v)
	_, err := time.Parse(time.RFC3339Nano, v["end_time"].(string))
	require.NoError(t, err)
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPost {
			assert.Empty(t, r.Header.Get("x-api-key"), "the proxy never sees the key")
		} else {
			assert.Equal(t, "secret-key", r.Header.Get("x-api-key"), "Litewave's lookup does")
		}
	}
}

// A large collection goes out in batches, not a request per event.
func TestKafkaRESTSendsBatches(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(10)...)
	p := restPipeline(t, srv, litewavemetric.WithKafka(litewavemetric.KafkaConfig{RESTMaxRecords: 250, RESTMaxBytes: 1 << 20}))
	c := p.counter("pages")
	c.Add(context.Background(), 1, at(tenantID(0), "warm")) // binds the customers
	for i := range 10 {
		c.Add(context.Background(), 1, at(tenantID(i), "warm"))
	}
	require.NoError(t, p.flush())
	before := srv.Stats().Produces
	for i := range 2000 {
		c.Add(context.Background(), 1, at(tenantID(i%10), "d"+strconv.Itoa(i)))
	}
	require.NoError(t, p.flush())
	requests := srv.Stats().Produces - before
	assert.LessOrEqual(t, requests, int64(2000/250+4), "2000 records in %d requests", requests)
	assert.GreaterOrEqual(t, requests, int64(2000/250))
	assert.Equal(t, int64(2011), srv.Total())
	t.Logf("2000 records in %d produce requests (at most 250 each)", requests)
}

// A record the proxy calls not retriable is rejected for its series only,
// reported by the flush, and blocks no other record or series; retriable
// record errors are retried with the same keys and bytes.
func TestKafkaRESTRecordErrors(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(3)...)
	var n atomic.Int64
	srv.SetRecordFaultFunc(func(_ string, _, value []byte, _ int) litewavetest.RecordFault {
		switch {
		case bytes.Contains(value, []byte(`"tenant_id":"tenant-0"`)) && bytes.Contains(value, []byte(`"total_usage":5`)):
			return litewavetest.RecordFault{Code: 50002, Message: "Record too large"}
		case n.Add(1)%3 == 0:
			return litewavetest.RecordFault{Code: 50003, Message: "NOT_LEADER_FOR_PARTITION"}
		}
		return litewavetest.RecordFault{}
	})
	p := restPipeline(t, srv)
	c := p.counter("pages")
	c.Add(context.Background(), 5, at(tenantID(0), "d"))
	for i := 1; i < 3; i++ {
		c.Add(context.Background(), int64(i), at(tenantID(i), "d"))
	}
	err := p.flush()
	var re *litewavemetric.RejectedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, tenantID(0), re.Tenant)
	assert.Contains(t, re.Error(), "50002")
	assert.Equal(t, int64(1+2), srv.Total(), "the other series went through the retriable errors")
	c.Add(context.Background(), 7, at(tenantID(0), "d"))
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, p.flush(), &ue)
	assert.Equal(t, int64(5), ue.RejectedUnits)
	assert.Equal(t, int64(1+2+7), srv.Total(), "later usage of the rejected series is delivered")
	assert.Empty(t, srv.RecordConflicts(), "no key with two values")
	assert.Positive(t, srv.Stats().RecordErrors)
}

// A topic that does not exist is a configuration problem, not an outage:
// the usage stays owed and the report says which variable to fix.
func TestKafkaRESTMissingTopicIsConfiguration(t *testing.T) {
	for _, redpanda := range []bool{false, true} {
		t.Run(map[bool]string{false: "confluent", true: "redpanda"}[redpanda], func(t *testing.T) {
			reports := handleErrors(t)
			opts := append(customers(1), litewavetest.WithTopics("billing"))
			if redpanda {
				opts = append(opts, litewavetest.WithRedpandaAnswers())
			}
			srv := newServer(t, opts...)
			requireMissingTopicReported(t, restPipeline(t, srv), reports, 300*time.Millisecond)
		})
	}
}

// Killed with SIGKILL while the proxy is down, a process loses nothing it
// exported through the REST Proxy: the next process on the spool delivers
// it once, each key once.
func TestKafkaRESTCrashWithProxyDownBillsOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	spool := t.TempDir()
	dead := deadEndpoint(t)
	srv := newServer(t, customers(7)...)
	cmd, rep := startCrashChild(t, srv.URL, spool, 40,
		"LITEWAVE_BACKEND"+"=kafka-rest", "LITEWAVE_KAFKA_REST_URL"+"="+dead)
	kill(t, cmd)
	exp := recoverFromSpool(t, srv, spool, litewavemetric.WithBackend(litewavemetric.BackendKafkaREST), litewavemetric.WithKafka(litewavemetric.KafkaConfig{RESTProxyURL: srv.URL}))
	assert.Empty(t, mismatches(rep.Counted, totalsByKey(srv)), "[counted, billed]")
	assert.Empty(t, srv.RecordConflicts())
	assert.Zero(t, srv.Stats().Posts)
	t.Logf("killed child counted %d units in %d series; the next process produced %d records",
		sum(rep.Counted), len(rep.Counted), exp.Stats().DeliveredEvents)
}
