package litewavetest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScriptRecordsConfluent(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	v := func(u int64) string { return recordValue("t1", "d1", "m", "cus_1", u) }
	s.ScriptRecords(RecordFault{}, RecordFault{Code: 50003, Message: "Leader not available"}, RecordFault{Code: 50002})

	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
		kv(`"k1"`, v(1)), kv(`"k2"`, v(2)), kv(`"k3"`, v(3)), kv(`"k4"`, v(4)))))
	require.Equal(t, http.StatusOK, res.status)
	assert.JSONEq(t, `{"offsets":[
		{"partition":2,"offset":0,"error_code":null,"error":null},
		{"partition":null,"offset":null,"error_code":50003,"error":"Leader not available"},
		{"partition":null,"offset":null,"error_code":50002,"error":"injected record fault"},
		{"partition":2,"offset":1,"error_code":null,"error":null}],
		"key_schema_id":null,"value_schema_id":null}`, res.body)
	var keys []string
	for _, r := range s.Records() {
		keys = append(keys, string(r.Key))
	}
	assert.Equal(t, []string{`"k1"`, `"k4"`}, keys, "faulted records are not kept")
	assert.EqualValues(t, 5, s.Total())

	// The client resends the failed records with the same keys: they were
	// never kept, so they are accepted, not duplicates.
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(kv(`"k2"`, v(2)), kv(`"k3"`, v(3)))))
	for _, e := range confluentEntries(t, res.body) {
		assert.Nil(t, e.ErrorCode)
	}
	assert.EqualValues(t, 10, s.Total())
	st := s.Stats()
	assert.EqualValues(t, 4, st.RecordsAccepted)
	assert.Zero(t, st.RecordDuplicates)
	assert.EqualValues(t, 2, st.RecordErrors)
}

func TestRecordFaultFunc(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	v2 := recordValue("t1", "d1", "m", "cus_1", 2)
	var mu sync.Mutex
	var calls []string
	s.SetRecordFaultFunc(func(topic string, key, value []byte, n int) RecordFault {
		_ = s.Stats() // may call back into the server
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, fmt.Sprintf("%s %s %d %v", topic, key, n, string(value) == v2))
		if n%2 == 0 {
			return RecordFault{Code: 50003}
		}
		return RecordFault{}
	})
	s.ScriptRecords(RecordFault{Code: 50002}) // queued first: record 1 takes it without asking the func

	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
		kv(`"k1"`, recordValue("t1", "d1", "m", "cus_1", 1)), kv(`"k2"`, v2), kv(`"k3"`, recordValue("t1", "d1", "m", "cus_1", 3)))))
	es := confluentEntries(t, res.body)
	require.Len(t, es, 3)
	require.NotNil(t, es[0].ErrorCode)
	assert.Equal(t, 50002, *es[0].ErrorCode)
	require.NotNil(t, es[1].ErrorCode)
	assert.Equal(t, 50003, *es[1].ErrorCode)
	assert.Nil(t, es[2].ErrorCode)
	mu.Lock()
	assert.Equal(t, []string{`usage-events "k2" 2 true`, `usage-events "k3" 3 false`}, calls)
	mu.Unlock()
	assert.EqualValues(t, 3, s.Total())

	s.SetRecordFaultFunc(nil)
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(kv(`"k4"`, v2), kv(`"k5"`, v2))))
	for _, e := range confluentEntries(t, res.body) {
		assert.Nil(t, e.ErrorCode)
	}
	assert.EqualValues(t, 7, s.Total())
}

func TestScriptRecordsRedpanda(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"), WithRedpandaAnswers())
	c := newClient(t, true, 5*time.Second)
	v := func(u int64) string { return recordValue("t1", "d1", "m", "cus_1", u) }
	// Partitions: k1 2, k2 1, k6 1, k3 0. The second record (k2) is faulted,
	// which fails partition 1's batch, k6 included.
	s.ScriptRecords(RecordFault{}, RecordFault{Code: kafkaUnknownTopicOrPartition})
	body := produceBody(kv(`"k1"`, v(1)), kv(`"k2"`, v(2)), kv(`"k6"`, v(6)), kv(`"k3"`, v(3)))

	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", body))
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, []redpandaEntry{{0, 0, 0}, {1, 3, -1}, {2, 0, 0}}, byPartition(redpandaEntries(t, res.body)))
	var keys []string
	for _, r := range s.Records() {
		keys = append(keys, string(r.Key))
	}
	assert.Equal(t, []string{`"k1"`, `"k3"`}, keys)
	assert.EqualValues(t, 4, s.Total())
	assert.EqualValues(t, 2, s.Stats().RecordErrors)

	// A Redpanda client cannot tell which records failed and resends the
	// whole request: the kept ones are duplicates, the rest are counted.
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", body))
	assert.Equal(t, []redpandaEntry{{0, 0, 1}, {1, 0, 0}, {2, 0, 1}}, byPartition(redpandaEntries(t, res.body)))
	assert.EqualValues(t, 12, s.Total())
	assert.EqualValues(t, 2, s.Stats().RecordDuplicates)
}

func TestWithTopicsMissingTopic(t *testing.T) {
	c := newClient(t, true, 5*time.Second)
	v := recordValue("t1", "d1", "m", "cus_1", 1)

	t.Run("confluent", func(t *testing.T) {
		s := newTestServer(t, WithCustomer("t1", "cus_1"), WithTopics("usage-events"))
		s.ScriptRecords(RecordFault{Code: 50002})
		res := mustDo(t, c, produceReq(t, s.URL, "usage-evnets", produceBody(kv(`"k1"`, v), kv(`"k2"`, v))))
		assert.Equal(t, http.StatusOK, res.status, "a real proxy answers 200")
		assert.JSONEq(t, `{"offsets":[
			{"partition":null,"offset":null,"error_code":50003,"error":"Topic usage-evnets not present in metadata after 60000 ms."},
			{"partition":null,"offset":null,"error_code":50003,"error":"Topic usage-evnets not present in metadata after 60000 ms."}],
			"key_schema_id":null,"value_schema_id":null}`, res.body)
		assert.Empty(t, s.Records())
		assert.EqualValues(t, 2, s.Stats().RecordErrors)

		// The named topic works, and the queued fault was left for it.
		res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(kv(`"k1"`, v), kv(`"k2"`, v))))
		es := confluentEntries(t, res.body)
		require.NotNil(t, es[0].ErrorCode)
		assert.Equal(t, 50002, *es[0].ErrorCode)
		assert.True(t, okAt(es[1], 1, 0))
	})
	t.Run("redpanda", func(t *testing.T) {
		s := newTestServer(t, WithCustomer("t1", "cus_1"), WithTopics("usage-events", "audit"), WithRedpandaAnswers())
		// Keyed records land on partition 0, as Redpanda assigns them when
		// the partition lookup fails; an explicit partition stays.
		res := mustDo(t, c, produceReq(t, s.URL, "nope", produceBody(
			kv(`"k1"`, v), kv(`"k2"`, v), `{"key":"k3","value":`+v+`,"partition":2}`)))
		assert.Equal(t, http.StatusOK, res.status)
		assert.Equal(t, []redpandaEntry{{0, 3, -1}, {2, 3, -1}}, byPartition(redpandaEntries(t, res.body)))
		assert.Empty(t, s.Records())

		res = mustDo(t, c, produceReq(t, s.URL, "audit", produceBody(kv(`"k1"`, v))))
		assert.Equal(t, []redpandaEntry{{2, 0, 0}}, redpandaEntries(t, res.body))
	})
}

func TestProduceRequestFaults(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	// Fresh connections, so that a drop reaches the client as an error.
	c := newClient(t, false, 5*time.Second)
	s.Script(
		Fault{Target: "events", Status: 500}, // waits for an event
		Fault{Target: "produces", Status: 503, RetryAfter: "1"},
		Fault{Target: "", Status: 504},
		Fault{Target: "produces", DropBeforeRead: true},
		Fault{Target: "produces", DropAfterRecord: true},
	)
	body := produceBody(kv(`"k1"`, recordValue("t1", "d1", "m", "cus_1", 3)), kv(`"k2"`, recordValue("t1", "d2", "m", "cus_1", 4)))

	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", body))
	assert.Equal(t, http.StatusServiceUnavailable, res.status)
	assert.Equal(t, "1", res.header.Get("Retry-After"))
	assert.JSONEq(t, `{"error_code":503,"message":"injected fault: Service Unavailable"}`, res.body)

	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", body))
	assert.Equal(t, http.StatusGatewayTimeout, res.status, "AnyRequest matches a produce")
	assert.Empty(t, s.Records(), "answered faults keep nothing")

	_, err := do(c, produceReq(t, s.URL, "usage-events", body))
	require.Error(t, err)
	assert.Empty(t, s.Records(), "dropped before read")

	_, err = do(c, produceReq(t, s.URL, "usage-events", body))
	require.Error(t, err, "the client never gets an answer")
	assert.Len(t, s.Records(), 2, "but the whole batch was kept")
	assert.EqualValues(t, 7, s.Total())

	// The resend is all duplicates and counts nothing more.
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", body))
	es := confluentEntries(t, res.body)
	assert.True(t, okAt(es[0], 2, 1))
	assert.True(t, okAt(es[1], 1, 1))
	assert.EqualValues(t, 7, s.Total())

	// The event fault is still queued.
	assert.Equal(t, 500, mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "", eventBody("m", 1, "cus_1"))).status)

	st := s.Stats()
	assert.EqualValues(t, 5, st.Produces)
	assert.EqualValues(t, 5, st.Faults)
	assert.Equal(t, map[string]int64{"status:503": 1, "status:504": 1, "status:500": 1,
		"drop-before-read": 1, "drop-after-record": 1}, st.FaultsByKind)
	assert.EqualValues(t, 2, st.RecordDuplicates)
}

func TestProduceDelay(t *testing.T) {
	exited := make(chan struct{}, 4)
	s := newTestServer(t, WithCustomer("t1", "cus_1"), withHandlerExit(func() { exited <- struct{}{} }))
	body := produceBody(kv(`"k1"`, recordValue("t1", "d1", "m", "cus_1", 3)))

	// A client that gives up during the delay: nothing is kept.
	s.Script(Fault{Target: "produces", Delay: time.Hour})
	_, err := do(newClient(t, false, 100*time.Millisecond), produceReq(t, s.URL, "usage-events", body))
	require.Error(t, err)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("delayed handler did not notice the client going away")
	}
	assert.Empty(t, s.Records())
	assert.EqualValues(t, 1, s.Stats().Aborted)

	// A short delay, then normal handling of the body read before it.
	s.Script(Fault{Target: "produces", Delay: time.Millisecond})
	res := mustDo(t, newClient(t, true, 5*time.Second), produceReq(t, s.URL, "usage-events", body))
	assert.True(t, okAt(confluentEntries(t, res.body)[0], 2, 0), res.body)
	assert.EqualValues(t, 3, s.Total())
}

func TestFaultFuncNumbersProducesApart(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	s.SetFaultFunc(func(r *http.Request, n int) Fault {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, n))
		mu.Unlock()
		return Fault{Target: "produces", Status: http.StatusBadGateway}
	})
	c := newClient(t, true, 5*time.Second)
	body := produceBody(kv(`"k1"`, recordValue("t1", "d1", "m", "cus_1", 3)))

	assert.Equal(t, 502, mustDo(t, c, produceReq(t, s.URL, "usage-events", body)).status)
	assert.Equal(t, 201, mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "", eventBody("m", 1, "cus_1"))).status,
		"a Produces fault does not apply to an event")
	assert.Equal(t, 502, mustDo(t, c, produceReq(t, s.URL, "usage-events", body)).status)
	mu.Lock()
	assert.Equal(t, []string{"POST /topics/usage-events 1", "POST /api/v1/events 1", "POST /topics/usage-events 2"}, seen)
	mu.Unlock()
}
