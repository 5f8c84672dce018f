package litewavetest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfluentAuthStatus(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	v := recordValue("t1", "d1", "m", "cus_1", 1)

	s.ScriptRecords(RecordFault{}, RecordFault{Code: 40101, Message: "Authentication failed"})
	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(kv(`"k1"`, v), kv(`"k2"`, v))))
	assert.Equal(t, http.StatusUnauthorized, res.status)
	assert.JSONEq(t, `{"offsets":[
		{"partition":2,"offset":0,"error_code":null,"error":null},
		{"partition":null,"offset":null,"error_code":40101,"error":"Authentication failed"}],
		"key_schema_id":null,"value_schema_id":null}`, res.body, "the body is still the ProduceResponse")
	assert.Len(t, s.Records(), 1, "the other records were produced")

	s.ScriptRecords(RecordFault{Code: 40301, Message: "Not authorized to access topics: [usage-events]"})
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(kv(`"k3"`, v))))
	assert.Equal(t, http.StatusForbidden, res.status)
	assert.Equal(t, 40301, *confluentEntries(t, res.body)[0].ErrorCode)

	// The first authentication or authorization entry decides.
	s.ScriptRecords(RecordFault{Code: 50003}, RecordFault{Code: 40301}, RecordFault{Code: 40101})
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(kv(`"k4"`, v), kv(`"k5"`, v), kv(`"k6"`, v))))
	assert.Equal(t, http.StatusForbidden, res.status)

	// Other codes leave a partial failure at 200.
	s.ScriptRecords(RecordFault{Code: 50002})
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(kv(`"k7"`, v))))
	assert.Equal(t, http.StatusOK, res.status)
	assert.Len(t, s.Records(), 1)
	assert.EqualValues(t, 6, s.Stats().RecordErrors)

	// Redpanda has no such mapping: its answer is a 200.
	rp := newTestServer(t, WithCustomer("t1", "cus_1"), WithRedpandaAnswers())
	rp.ScriptRecords(RecordFault{Code: 40101})
	res = mustDo(t, c, produceReq(t, rp.URL, "usage-events", produceBody(kv(`"k1"`, v))))
	assert.Equal(t, http.StatusOK, res.status)
}

func TestRedpandaAnswerForm(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"), WithRedpandaAnswers())
	c := newClient(t, true, 5*time.Second)
	v := func(u int64) string { return recordValue("t1", "d1", "m", "cus_1", u) }

	// Partitions: k1 2, k2 1, k3 0, k4 2, k6 1.
	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
		kv(`"k1"`, v(1)), kv(`"k2"`, v(2)), kv(`"k3"`, v(3)), kv(`"k4"`, v(4)), kv(`"k6"`, v(5)))))
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Equal(t, "application/vnd.kafka.v2+json", res.header.Get("Content-Type"))
	assert.NotContains(t, res.body, "schema_id")
	es := redpandaEntries(t, res.body)
	assert.Equal(t, []redpandaEntry{{0, 0, 0}, {1, 0, 0}, {2, 0, 0}}, byPartition(es), "one entry per partition")

	// Base offsets: each batch's first offset. k5 2, k7 0, k8 1, k10 2.
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
		kv(`"k5"`, v(6)), kv(`"k7"`, v(7)), kv(`"k10"`, v(8)), kv(`"k8"`, v(9)))))
	assert.Equal(t, []redpandaEntry{{0, 0, 1}, {1, 0, 2}, {2, 0, 2}}, byPartition(redpandaEntries(t, res.body)))
	var offsets []string
	for _, r := range s.Records() {
		offsets = append(offsets, fmt.Sprintf("%s@%d/%d", r.Key, r.Partition, r.Offset))
	}
	assert.Equal(t, []string{`"k1"@2/0`, `"k2"@1/0`, `"k3"@0/0`, `"k4"@2/1`, `"k6"@1/1`,
		`"k5"@2/2`, `"k7"@0/1`, `"k10"@2/3`, `"k8"@1/2`}, offsets)
	assert.EqualValues(t, 45, s.Total())

	// Entries never come in request order (partition first touched first),
	// and the order varies.
	orders := make(map[string]bool)
	for i := range 40 {
		res := mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
			`{"value":`+v(0)+`,"partition":1}`,
			`{"value":`+v(0)+`,"partition":0}`,
			`{"value":`+v(0)+`,"partition":2}`,
		)))
		es := redpandaEntries(t, res.body)
		var order []int32
		for _, e := range es {
			order = append(order, e.Partition)
		}
		require.Len(t, order, 3, "request %d", i)
		assert.NotEqual(t, []int32{1, 0, 2}, order, "request %d answered in request order", i)
		orders[fmt.Sprint(order)] = true
	}
	assert.Greater(t, len(orders), 1, "the order is shuffled, not fixed")
}

func TestRedpandaBatchFailure(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"), WithRedpandaAnswers())
	c := newClient(t, true, 5*time.Second)
	v := func(u int64) string { return recordValue("t1", "d1", "m", "cus_1", u) }

	// k2 and k6 share partition 1, where k6's value is invalid: the whole
	// batch fails, k2 included. Partitions 0 and 2 succeed.
	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
		kv(`"k1"`, v(1)), kv(`"k2"`, v(2)), kv(`"k6"`, recordValue("t1", "d1", "m", "cus_1", -1)), kv(`"k3"`, v(3)),
		kv(`"k4"`, recordValue("t1", "d1", strings.Repeat("m", 65<<10), "cus_1", 1)), // too large: fails partition 2
	)))
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, []redpandaEntry{{0, 0, 0}, {1, 87, -1}, {2, 10, -1}}, byPartition(redpandaEntries(t, res.body)))
	recs := s.Records()
	require.Len(t, recs, 1)
	assert.Equal(t, `"k3"`, string(recs[0].Key))
	assert.EqualValues(t, 3, s.Total())
	assert.EqualValues(t, 4, s.Stats().RecordErrors, "every record of a failed batch")

	// A conflict and a wrong customer fail their batch too; a duplicate does not.
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
		kv(`"k3"`, v(3)), // duplicate, partition 0
		kv(`"k7"`, v(7)), // partition 0
		kv(`"k1"`, v(1)), // partition 2
		kv(`"k10"`, recordValue("t1", "d1", "m", "cus_2", 1)), // wrong customer, partition 2
		kv(`"k2"`, v(2)), // partition 1
	)))
	assert.Equal(t, []redpandaEntry{{0, 0, 1}, {1, 0, 0}, {2, 87, -1}}, byPartition(redpandaEntries(t, res.body)))
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
		kv(`"k3"`, v(99)), kv(`"k11"`, v(11)), // conflict fails partition 0, k11 with it
	)))
	assert.Equal(t, []redpandaEntry{{0, 87, -1}}, redpandaEntries(t, res.body))
	conf := s.RecordConflicts()
	require.Len(t, conf, 1)
	assert.Equal(t, `"k3"`, string(conf[0].Key))
	assert.EqualValues(t, 3+7+2, s.Total())

	// A record checked against one in a batch that then failed is checked
	// again: k12 on partition 0 goes with the invalid record, so the k12 on
	// partition 1 is the first of its key and is counted.
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
		`{"key":"k12","value":`+v(5)+`,"partition":0}`,
		`{"key":"k12","value":`+v(5)+`,"partition":1}`,
		`{"key":"k13","value":`+v(6)+`,"partition":2}`,
		`{"key":"k13","value":`+v(7)+`,"partition":0}`, // conflict: fails partition 0
	)))
	assert.Equal(t, []redpandaEntry{{0, 87, -1}, {1, 0, 1}, {2, 0, 0}}, byPartition(redpandaEntries(t, res.body)))
	var last []string
	for _, r := range s.Records()[len(s.Records())-2:] {
		last = append(last, fmt.Sprintf("%s@%d dup=%v", r.Key, r.Partition, r.Duplicate))
	}
	assert.Equal(t, []string{`"k12"@1 dup=false`, `"k13"@2 dup=false`}, last)
	assert.EqualValues(t, 3+7+2+5+6, s.Total())
}
