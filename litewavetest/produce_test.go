package litewavetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Keys used below and their partitions ((murmur2 & 0x7fffffff) % 3), see
// TestMurmur2KnownValues: "k1" 2, "k2" 1, "k3" 0, "k4" 2, "k6" 1, "k7" 0.

func TestProduceAccepted(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	a := recordValue("t1", "d1", "m", "cus_1", 5)
	b := recordValue("t1", "d2", "m", "cus_1", 7)
	before := time.Now()

	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
		kv(`"k1"`, a),
		kv(`"k2"`, b),
		kv(`"k3"`, recordValue("t1", "d1", "m", "cus_1", 1)),
		`{"key":"k6","value":`+recordValue("t1", "d1", "m", "cus_1", 2)+`,"partition":0}`, // beats k6's hash (1)
		`{"value":`+recordValue("t1", "d1", "m", "cus_1", 4)+`}`,                          // keyless: partition 0
	)))
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Equal(t, "application/vnd.kafka.v2+json", res.header.Get("Content-Type"))
	assert.JSONEq(t, `{"offsets":[
		{"partition":2,"offset":0,"error_code":null,"error":null},
		{"partition":1,"offset":0,"error_code":null,"error":null},
		{"partition":0,"offset":0,"error_code":null,"error":null},
		{"partition":0,"offset":1,"error_code":null,"error":null},
		{"partition":0,"offset":2,"error_code":null,"error":null}],
		"key_schema_id":null,"value_schema_id":null}`, res.body)

	// Offsets go on per partition.
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
		kv(`"k4"`, recordValue("t1", "d1", "m", "cus_1", 10)),
		kv(`"k7"`, recordValue("t1", "d2", "m", "cus_1", 20)),
	)))
	es := confluentEntries(t, res.body)
	require.Len(t, es, 2)
	assert.True(t, okAt(es[0], 2, 1), "%s", res.body)
	assert.True(t, okAt(es[1], 0, 3), "%s", res.body)

	recs := s.Records()
	require.Len(t, recs, 7)
	r := recs[0]
	assert.Equal(t, "usage-events", r.Topic)
	assert.Equal(t, `"k1"`, string(r.Key), "a string key keeps its quotes")
	assert.Equal(t, a, string(r.Value), "the exporter's value bytes are kept as sent")
	assert.EqualValues(t, 2, r.Partition)
	assert.EqualValues(t, 0, r.Offset)
	assert.False(t, r.Duplicate)
	assert.False(t, r.Received.Before(before))
	assert.Nil(t, recs[4].Key, "keyless record")
	assert.EqualValues(t, 0, recs[4].Partition)
	assert.EqualValues(t, 2, recs[4].Offset)

	// Returned records are copies.
	recs[0].Value[0], recs[0].Key[0] = 'X', 'X'
	assert.Equal(t, a, string(s.Records()[0].Value))
	assert.Equal(t, `"k1"`, string(s.Records()[0].Key))

	assert.Equal(t, map[Series]int64{{"t1", "d1", "m"}: 5 + 1 + 2 + 4 + 10, {"t1", "d2", "m"}: 7 + 20}, s.Totals())
	assert.EqualValues(t, 49, s.Total())
	assert.Empty(t, s.Events())
	st := s.Stats()
	assert.EqualValues(t, 2, st.Produces)
	assert.EqualValues(t, 2, st.Requests)
	assert.EqualValues(t, 7, st.RecordsAccepted)
	assert.Zero(t, st.Posts)
	assert.Zero(t, st.RecordErrors)
	assert.Zero(t, st.RecordDuplicates)
}

func TestProduceEachKeyOnce(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	v1 := recordValue("t1", "d1", "m", "cus_1", 10)
	v2 := recordValue("t1", "d1", "m", "cus_1", 11)
	produce := func(topic string, records ...string) []confluentEntry {
		t.Helper()
		res := mustDo(t, c, produceReq(t, s.URL, topic, produceBody(records...)))
		require.Equal(t, http.StatusOK, res.status, res.body)
		return confluentEntries(t, res.body)
	}

	es := produce("usage-events", kv(`"k1"`, v1))
	assert.True(t, okAt(es[0], 2, 0))

	// Same key, same value: acknowledged with an offset, not counted.
	es = produce("usage-events", kv(`"k1"`, v1))
	assert.True(t, okAt(es[0], 2, 1), "a duplicate still gets an offset")

	// Same key, another value: a failed record, kept as a conflict.
	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(kv(`"k1"`, v2))))
	assert.Equal(t, http.StatusOK, res.status)
	assert.JSONEq(t, `{"offsets":[{"partition":null,"offset":null,"error_code":50002,
		"error":"key reused with a different value"}],"key_schema_id":null,"value_schema_id":null}`, res.body)

	// The proxy stores compacted JSON, so a pretty-printed replay is the same value.
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, []byte(v1), "", "  "))
	es = produce("usage-events", kv(` "k1" `, pretty.String()))
	assert.True(t, okAt(es[0], 2, 2))

	// Keys are JSON bytes: the number 1 and the string "1" differ.
	produce("usage-events", kv(`1`, v1), kv(`"1"`, v1))
	// Each topic has its own keys.
	produce("other-topic", kv(`"k1"`, v2))
	// Within one request, records are checked in order.
	es = produce("usage-events", kv(`"k9"`, v1), kv(`"k9"`, v1), kv(`"k9"`, v2))
	assert.Nil(t, es[0].ErrorCode)
	assert.Nil(t, es[1].ErrorCode)
	require.NotNil(t, es[2].ErrorCode)
	assert.Equal(t, 50002, *es[2].ErrorCode)
	assert.Equal(t, "key reused with a different value", *es[2].Error)

	assert.EqualValues(t, 10+10+10+11+10, s.Total())
	recs := s.Records()
	require.Len(t, recs, 8)
	var dups []bool
	for _, r := range recs {
		dups = append(dups, r.Duplicate)
	}
	assert.Equal(t, []bool{false, true, true, false, false, false, false, true}, dups)
	assert.Equal(t, v1, string(recs[2].Value), "kept compacted")
	assert.Equal(t, "other-topic", recs[5].Topic)

	conf := s.RecordConflicts()
	require.Len(t, conf, 2)
	assert.Equal(t, "usage-events", conf[0].Topic)
	assert.Equal(t, `"k1"`, string(conf[0].Key))
	assert.Equal(t, v2, string(conf[0].Value))
	assert.EqualValues(t, 2, conf[0].Partition)
	assert.EqualValues(t, -1, conf[0].Offset)
	assert.Equal(t, `"k9"`, string(conf[1].Key))

	st := s.Stats()
	assert.EqualValues(t, 5, st.RecordsAccepted)
	assert.EqualValues(t, 3, st.RecordDuplicates)
	assert.EqualValues(t, 2, st.RecordConflicts)
	assert.EqualValues(t, 2, st.RecordErrors)
	assert.Zero(t, st.Conflicts, "event conflicts are counted apart")
}

func TestProduceInvalidRecords(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	good := recordValue("t1", "d1", "m", "cus_1", 3)
	value := func(fields string) string { return `{` + fields + `}` }
	const base = `"tenant_id":"t1","device_id":"d1","meter_id":"m","customer_id":"cus_1"`

	cases := []struct{ name, record, msg string }{
		{"missing tenant", kv(`"b1"`, value(`"device_id":"d1","meter_id":"m","customer_id":"cus_1","total_usage":1`)), "invalid usage record: tenant_id must be a non-empty string"},
		{"empty device", kv(`"b2"`, recordValue("t1", "", "m", "cus_1", 1)), "invalid usage record: device_id must be a non-empty string"},
		{"empty meter", kv(`"b3"`, recordValue("t1", "d1", "", "cus_1", 1)), "invalid usage record: meter_id must be a non-empty string"},
		{"numeric meter", kv(`"b4"`, value(`"tenant_id":"t1","device_id":"d1","meter_id":7,"customer_id":"cus_1","total_usage":1`)), "invalid usage record: json: cannot unmarshal number"},
		{"missing customer", kv(`"b5"`, value(`"tenant_id":"t1","device_id":"d1","meter_id":"m","total_usage":1`)), "invalid usage record: customer_id must be a string"},
		{"missing usage", kv(`"b6"`, value(base)), "invalid usage record: total_usage is required"},
		{"float usage", kv(`"b7"`, value(base+`,"total_usage":1.5`)), "invalid usage record: total_usage must be an integer"},
		{"string usage", kv(`"b8"`, value(base+`,"total_usage":"5"`)), "invalid usage record: total_usage must be an integer"},
		{"negative usage", kv(`"b9"`, recordValue("t1", "d1", "m", "cus_1", -1)), "invalid usage record: total_usage must not be negative"},
		{"not an object", kv(`"b10"`, `"hello"`), "invalid usage record: json: cannot unmarshal string"},
		{"null value", kv(`"b11"`, `null`), "invalid usage record: value is required"},
		{"no value", `{"key":"b12"}`, "invalid usage record: value is required"},
		{"wrong customer", kv(`"b13"`, recordValue("t1", "d1", "m", "cus_2", 1)), `customer_id "cus_2" does not match the customer of tenant "t1"`},
		{"unknown tenant", kv(`"b14"`, recordValue("t9", "d1", "m", "cus_1", 1)), `unknown tenant "t9"`},
		{"too large", kv(`"b15"`, recordValue("t1", "d1", strings.Repeat("m", 65<<10), "cus_1", 1)), "record value larger than 64 KiB"},
		{"partition out of range", `{"key":"b16","value":` + good + `,"partition":3}`, "Invalid partition given with record: 3 is not in the range [0...3)."},
		{"negative partition", `{"key":"b17","value":` + good + `,"partition":-1}`, "is not in the range"},
	}
	records := []string{kv(`"ok1"`, good)}
	for _, tc := range cases {
		records = append(records, tc.record)
	}
	records = append(records, kv(`"ok2"`, good))

	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(records...)))
	require.Equal(t, http.StatusOK, res.status, "per-record failures are a partial success")
	es := confluentEntries(t, res.body)
	require.Len(t, es, len(cases)+2)
	assert.Nil(t, es[0].ErrorCode)
	assert.Nil(t, es[len(es)-1].ErrorCode)
	for i, tc := range cases {
		e := es[i+1]
		if assert.NotNil(t, e.ErrorCode, tc.name) {
			assert.Equal(t, 50002, *e.ErrorCode, tc.name)
			assert.Contains(t, *e.Error, tc.msg, tc.name)
		}
	}
	recs := s.Records()
	require.Len(t, recs, 2, "failed records are not kept")
	assert.Equal(t, []string{`"ok1"`, `"ok2"`}, []string{string(recs[0].Key), string(recs[1].Key)})
	assert.EqualValues(t, 6, s.Total())
	st := s.Stats()
	assert.EqualValues(t, len(cases), st.RecordErrors)
	assert.EqualValues(t, 2, st.RecordsAccepted)
	assert.Zero(t, st.RecordConflicts)
	assert.Zero(t, st.Rejected, "the request itself was fine")

	// A failed record's key was never taken: a valid record may use it.
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(kv(`"b13"`, good))))
	assert.Nil(t, confluentEntries(t, res.body)[0].ErrorCode)
	assert.EqualValues(t, 9, s.Total())
}

func TestProduceRequestErrors(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	good := produceBody(kv(`"k1"`, recordValue("t1", "d1", "m", "cus_1", 1)))
	huge := produceBody(kv(`"k1"`, `"`+strings.Repeat("x", 4<<20)+`"`))

	cases := []struct {
		name, contentType, body string
		status                  int
		msg                     string
	}{
		{"no content type", "", good, 415, "Unsupported Media Type"},
		{"plain json", "application/json", good, 415, "Unsupported Media Type"},
		{"binary format", "application/vnd.kafka.binary.v2+json", good, 415, "Unsupported Media Type"},
		{"malformed", kafkaJSONType, `{"records":[`, 400, "invalid JSON"},
		{"trailing garbage", kafkaJSONType, good + "x", 400, "invalid JSON"},
		{"empty body", kafkaJSONType, ``, 422, "empty"},
		{"null body", kafkaJSONType, `null`, 422, "records may not be empty"},
		{"no records", kafkaJSONType, `{}`, 422, "records may not be empty"},
		{"empty records", kafkaJSONType, `{"records":[]}`, 422, "records may not be empty"},
		{"records not a list", kafkaJSONType, `{"records":{}}`, 422, "cannot unmarshal"},
		{"partition not an int", kafkaJSONType, `{"records":[{"key":"k","value":{},"partition":"1"}]}`, 422, "cannot unmarshal"},
		{"body too large", kafkaJSONType, huge, 413, "larger than 4 MiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := produceReq(t, s.URL, "usage-events", tc.body)
			req.Header.Set("Content-Type", tc.contentType)
			res := mustDo(t, c, req)
			assert.Equal(t, tc.status, res.status)
			assert.Equal(t, "application/vnd.kafka.v2+json", res.header.Get("Content-Type"))
			var e struct {
				ErrorCode *int    `json:"error_code"`
				Message   *string `json:"message"`
			}
			require.NoError(t, json.Unmarshal([]byte(res.body), &e), res.body)
			require.NotNil(t, e.ErrorCode, res.body)
			require.NotNil(t, e.Message, res.body)
			assert.Equal(t, tc.status, *e.ErrorCode)
			assert.Contains(t, *e.Message, tc.msg)
		})
	}
	assert.Empty(t, s.Records())
	st := s.Stats()
	assert.EqualValues(t, len(cases), st.Produces)
	assert.EqualValues(t, len(cases), st.Rejected)
	assert.Zero(t, st.RecordErrors)

	// Media type parameters are allowed.
	req := produceReq(t, s.URL, "usage-events", good)
	req.Header.Set("Content-Type", "application/vnd.kafka.json.v2+json; charset=utf-8")
	assert.Equal(t, http.StatusOK, mustDo(t, c, req).status)
	assert.EqualValues(t, 1, s.Total())

	// Other methods and shapes of /topics are not the produce endpoint.
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/topics/usage-events"},
		{http.MethodPost, "/topics/"},
		{http.MethodPost, "/topics/usage-events/partitions"},
	} {
		req, err := http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader(good))
		require.NoError(t, err)
		req.Header.Set("Content-Type", kafkaJSONType)
		res := mustDo(t, c, req)
		assert.Equal(t, http.StatusNotFound, res.status, "%s %s", tc.method, tc.path)
		assert.JSONEq(t, `{"detail":"not found"}`, res.body)
	}
	assert.EqualValues(t, len(cases)+1, s.Stats().Produces)
}

func TestProduceAPIKey(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"), WithAPIKey("secret"))
	c := newClient(t, true, 5*time.Second)
	body := produceBody(kv(`"k1"`, recordValue("t1", "d1", "m", "cus_1", 5)))

	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", body))
	assert.Equal(t, http.StatusUnauthorized, res.status)
	assert.JSONEq(t, `{"error_code":401,"message":"missing or invalid x-api-key"}`, res.body)

	req := produceReq(t, s.URL, "usage-events", body)
	req.Header.Set("x-api-key", "wrong")
	assert.Equal(t, http.StatusUnauthorized, mustDo(t, c, req).status)
	assert.Empty(t, s.Records(), "unauthorized produces keep nothing")

	req = produceReq(t, s.URL, "usage-events", body)
	req.Header.Set("x-api-key", "secret")
	assert.Equal(t, http.StatusOK, mustDo(t, c, req).status)
	assert.Len(t, s.Records(), 1)
	assert.EqualValues(t, 5, s.Total())
	st := s.Stats()
	assert.EqualValues(t, 2, st.Unauthorized)
	assert.EqualValues(t, 3, st.Produces)
}

// TestTotalsCombineEventsAndRecords: the same usage sent as events and as
// records yields the same totals, and both count towards Totals.
func TestTotalsCombineEventsAndRecords(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)

	// Events: a keyed event, its replay, a key-less event.
	for _, ev := range []struct {
		device, key string
		usage       int64
	}{{"d1", "e1", 3}, {"d1", "e1", 3}, {"d2", "", 4}} {
		res := mustDo(t, c, eventReq(t, s.URL, "t1", ev.device, ev.key, eventBody("m", ev.usage, "cus_1")))
		require.Equal(t, 2, res.status/100, res.body)
	}
	events := s.Totals()
	assert.Equal(t, map[Series]int64{{"t1", "d1", "m"}: 3, {"t1", "d2", "m"}: 4}, events)

	// Records: the same usage, replay included. Event and record keys are
	// separate spaces, so "e1" counts again here.
	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
		kv(`"e1"`, recordValue("t1", "d1", "m", "cus_1", 3)),
		kv(`"e1"`, recordValue("t1", "d1", "m", "cus_1", 3)),
		`{"value":`+recordValue("t1", "d2", "m", "cus_1", 4)+`}`,
	)))
	require.Equal(t, http.StatusOK, res.status)
	for series, v := range s.Totals() {
		assert.Equal(t, 2*events[series], v, "%v: records add what the events added", series)
	}
	assert.Len(t, s.Totals(), 2)
	assert.EqualValues(t, 14, s.Total())
}

// TestConcurrentProduces checks exact accounting and per-partition offsets
// under contention (run with -race).
func TestConcurrentProduces(t *testing.T) {
	const workers, perWorker, batch = 16, 20, 5
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 30*time.Second)

	stopReading := readWhileWriting(s)

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				var records []string
				for j := range batch {
					key := fmt.Sprintf(`"w%d-%d-%d"`, w, i, j)
					records = append(records, kv(key, recordValue("t1", "d1", "m", "cus_1", int64(j))))
				}
				req, err := http.NewRequest(http.MethodPost, s.URL+"/topics/usage-events",
					strings.NewReader(produceBody(records...)))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Content-Type", kafkaJSONType)
				res, err := do(c, req)
				if err != nil {
					errs <- err
					return
				}
				if res.status != http.StatusOK || strings.Contains(res.body, `"error_code":5`) {
					errs <- fmt.Errorf("status %d: %s", res.status, res.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	stopReading()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	assert.EqualValues(t, workers*perWorker*(0+1+2+3+4), s.Total())
	recs := s.Records()
	require.Len(t, recs, workers*perWorker*batch)
	// Every partition's offsets are 0..n-1, each once.
	seen := make(map[int32]map[int64]bool)
	for _, r := range recs {
		assert.Equal(t, partitionOf(r.Key), r.Partition)
		if seen[r.Partition] == nil {
			seen[r.Partition] = make(map[int64]bool)
		}
		assert.False(t, seen[r.Partition][r.Offset], "offset %d repeated on partition %d", r.Offset, r.Partition)
		seen[r.Partition][r.Offset] = true
	}
	for p, offs := range seen {
		for o := range int64(len(offs)) {
			assert.True(t, offs[o], "partition %d misses offset %d", p, o)
		}
	}
	assert.EqualValues(t, workers*perWorker*batch, s.Stats().RecordsAccepted)
}
