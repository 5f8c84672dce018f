package litewavetest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An Answer fault records the request as on success and answers 200 with
// the given body, empty included.
func TestFaultAnswerAfterRecord(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	big := strings.Repeat("x", 2<<20)
	s.Script(
		Fault{Target: "events", Answer: []byte(big)},
		Fault{Target: "events", Answer: []byte{}},
		Fault{Target: "produces", Answer: []byte("\xff\x00")},
	)

	res := mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k1", eventBody("m", 4, "cus_1")))
	assert.Equal(t, http.StatusOK, res.status)
	assert.Len(t, res.body, len(big))
	res = mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k2", eventBody("m", 5, "cus_1")))
	assert.Equal(t, http.StatusOK, res.status)
	assert.Empty(t, res.body)
	res = mustDo(t, c, produceReq(t, s.URL, "usage", produceBody(kv(`"k3"`, recordValue("t1", "d1", "m", "cus_1", 6)))))
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "\xff\x00", res.body)

	require.Len(t, s.Events(), 2, "the events were recorded")
	require.Len(t, s.Records(), 1, "the record was recorded")
	assert.EqualValues(t, 4+5+6, s.Total())
	assert.Equal(t, map[string]int64{"answer": 3}, s.Stats().FaultsByKind)
}
