package outbox

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// healthLog collects health reports.
type healthLog struct {
	mu      sync.Mutex
	reports []Health
}

func (l *healthLog) add(h Health) {
	l.mu.Lock()
	l.reports = append(l.reports, h)
	l.mu.Unlock()
}

func (l *healthLog) states() []HealthState {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []HealthState
	for _, h := range l.reports {
		out = append(out, h.State)
	}
	return out
}

// An outage is reported when it begins, once past the threshold, and when
// it ends: never once per failed attempt.
func TestOutageIsReportedOnChangesOnly(t *testing.T) {
	var mu sync.Mutex
	down, attempts := true, 0
	b := &fakeBackend{respond: func(usage.Event) usage.Outcome {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if down {
			return retryWith(errors.New("503"))
		}
		return usage.Outcome{Result: usage.Delivered}
	}}
	log := &healthLog{}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) {
		c.OnHealth = log.add
		c.Reports = ReportTimes{First: 100 * time.Millisecond, Every: time.Hour}
	})
	for i := range 20 {
		ingestInts(o, map[Key]int64{key("t1", string(rune('a'+i)), "m"): 1})
	}
	// Polls until the failures have gone on past the threshold.
	require.Eventually(t, func() bool { return len(log.states()) == 2 }, 10*time.Second, time.Millisecond)
	mu.Lock()
	assert.Greater(t, attempts, 40, "many failed attempts")
	down = false
	mu.Unlock()
	flush(t, o)
	assert.Equal(t, []HealthState{Began, Persists, Ended}, log.states())
	log.mu.Lock()
	defer log.mu.Unlock()
	assert.Equal(t, Outage, log.reports[0].Class)
	assert.Equal(t, int64(20), log.reports[1].Events, "the report counts the events failing")
	assert.ErrorContains(t, log.reports[1].Err, "503")
}

// A failure episode that begins again soon after one was reported is not
// reported again: flapping makes no stream of reports.
func TestFlappingIsRateLimited(t *testing.T) {
	var mu sync.Mutex
	n := 0
	b := &fakeBackend{respond: func(usage.Event) usage.Outcome {
		mu.Lock()
		defer mu.Unlock()
		if n++; n%2 == 1 {
			return retryWith(errors.New("reset"))
		}
		return usage.Outcome{Result: usage.Delivered}
	}}
	log := &healthLog{}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) {
		c.OnHealth = log.add
		c.Reports = ReportTimes{First: time.Hour, Every: time.Hour}
	})
	for range 10 {
		r, _ := ingestInts(o, map[Key]int64{k1: 1})
		wait(t, r)
		flush(t, o)
	}
	assert.Equal(t, []HealthState{Began, Ended}, log.states(), "ten episodes, one reported")
}

// A failure marked as a configuration problem is reported as one, apart
// from outages.
func TestConfigurationProblemsAreTheirOwnClass(t *testing.T) {
	customers := newCustomers(map[string]string{}) // no account: a configuration problem
	log := &healthLog{}
	o := newTestOutbox(t, &fakeBackend{}, customers, func(c *Config) { c.OnHealth = log.add })
	r, _ := ingestInts(o, map[Key]int64{k1: 1})
	wait(t, r)
	customers.set("t1", "c1", nil)
	flush(t, o)
	log.mu.Lock()
	defer log.mu.Unlock()
	require.Len(t, log.reports, 2)
	assert.Equal(t, Configuration, log.reports[0].Class)
	assert.True(t, usage.IsConfig(log.reports[0].Err))
	assert.Equal(t, Ended, log.reports[1].State)
}
