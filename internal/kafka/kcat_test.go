package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

// An independent client (librdkafka's kcat) reads back what the backend
// produced: each key once, the key the quoted id, and the totals per
// series from the values equal to what was sent.
func TestKcatReadsBackWhatWasProduced(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed (Debian package kcat; .ci/run installs it)")
	}
	c := newCluster(t, kfake.NumBrokers(3), kfake.SeedTopics(6, topic))
	b := newBackend(t, Config{Brokers: c.ListenAddrs()})
	evs := events(300, 30)
	requireDelivered(t, send(t, b, evs))

	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, kcat, "-C", "-b", strings.Join(c.ListenAddrs(), ","), "-t", topic, "-e", "-q", "-f", `%k\t%s\n`)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "kcat: %s", stderr.String())

	ids := map[string]bool{}
	for i := range evs {
		ids[`"`+evs[i].ID.String()+`"`] = true
	}
	seen := map[string]bool{}
	sent, read := map[string]int64{}, map[string]int64{}
	for i := range evs {
		sent[evs[i].Key.Tenant] += evs[i].Units
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	require.Len(t, lines, len(evs), "stderr: %s", stderr.String())
	for _, line := range lines {
		k, v, ok := strings.Cut(line, "\t")
		require.True(t, ok, "line %q", line)
		require.True(t, ids[k], "key %s is not a quoted id sent", k)
		require.False(t, seen[k], "key %s read twice", k)
		seen[k] = true
		var val struct {
			Tenant string `json:"tenant_id"`
			Total  int64  `json:"total_usage"`
		}
		require.NoError(t, json.Unmarshal([]byte(v), &val), "value %q", v)
		read[val.Tenant] += val.Total
	}
	assert.Equal(t, sent, read)
}
