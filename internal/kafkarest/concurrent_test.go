package kafkarest

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// Sends in flight at once share the pools of request bodies and answers:
// each request carries its own records, byte for byte, and each record's
// answer is what its own request was answered. The answers are large
// enough to come without a Content-Length.
func TestConcurrentSendsKeepTheirOwnBytes(t *testing.T) {
	const senders, perSend = 8, 90
	p := newProxy(t, confluentOK)
	b := p.backend(testTopic, perSend, 1<<20)
	evs := testEvents(senders * perSend)
	outs := make([][]usage.Outcome, senders)
	var wg sync.WaitGroup
	for g := range senders {
		outs[g] = newOutcomes(perSend)
		wg.Go(func() { b.Send(t.Context(), evs[g*perSend:(g+1)*perSend], outs[g]) })
	}
	wg.Wait()

	reqs := p.requests()
	require.Len(t, reqs, senders)
	for g, out := range outs {
		for j, o := range out {
			ev := &evs[g*perSend+j]
			require.Equal(t, usage.Delivered, o.Result, "sender %d, record %d: %v", g, j, o.Err)
			var a struct{ Offset int }
			require.NoError(t, json.Unmarshal(o.Answer, &a), "%s", o.Answer)
			// confluentOK answers record i of request r with offset 100*r+i.
			r := reqs[a.Offset/100]
			i := a.Offset % 100
			require.Less(t, i, len(r.keys), "sender %d, record %d: %s", g, j, o.Answer)
			assert.Equal(t, `"`+ev.ID.String()+`"`, string(r.keys[i]), "sender %d, record %d", g, j)
			assert.Equal(t, string(usage.AppendRecord(nil, ev)), string(r.vals[i]), "sender %d, record %d", g, j)
		}
	}
}
