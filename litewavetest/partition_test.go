package litewavetest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMurmur2KnownValues pins murmur2 to the Java client's: the first two
// are Kafka's own test vectors (UtilsTest.testMurmur2), the others were
// computed with Kafka's Utils.murmur2 run on a JVM. They cover every tail
// length and a hash with the high bit set, where the mask matters.
func TestMurmur2KnownValues(t *testing.T) {
	cases := []struct {
		key       string
		hash      int32
		partition int32
	}{
		{"21", -973932308, 0},
		{"foobar", -790332482, 0},
		{"abc", 479470107, 0},
		{`"k1"`, -544526082, 2}, // unmasked, 3750441214 % 3 would be 1
		{`"k10"`, -1470409827, 2},
		{`"0190a6c2-7b1e-7c3d-8e4f-5a6b7c8d9e0f"`, -743159811, 2}, // an event id key as the exporter writes it
		{"", 275646681, 0},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.hash, int32(murmur2([]byte(tc.key))), "murmur2(%s)", tc.key)
		assert.Equal(t, tc.partition, partitionOf([]byte(tc.key)), "partition of %s", tc.key)
	}
}

// Records without a partition land where the Java producer would put them.
func TestProducePartitionsByKey(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	var records []string
	for i := range 12 {
		records = append(records, kv(fmt.Sprintf(`"k%d"`, i+1), recordValue("t1", "d1", "m", "cus_1", 1)))
	}
	res := mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(records...)))
	require.Equal(t, http.StatusOK, res.status)

	want := []int32{2, 1, 0, 2, 2, 1, 0, 1, 1, 2, 0, 1} // k1..k12, from Kafka's Utils.murmur2
	var got []int32
	for i, e := range confluentEntries(t, res.body) {
		require.NotNil(t, e.Partition, "entry %d", i)
		got = append(got, *e.Partition)
	}
	assert.Equal(t, want, got)
	for i, r := range s.Records() {
		assert.Equal(t, want[i], r.Partition)
	}
}
