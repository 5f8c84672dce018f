package outbox

import (
	"github.com/aiorch/litewavemetric/internal/usage"
)

// Customer lookups run off the delivery path: an event whose tenant's
// customer is not cached is set aside while its tenant is looked up, so
// that a slow or failing lookup holds no delivery worker and delays no
// other tenant. Lookups of one tenant are single-flight, and at most
// maxLookups run at once. A failed lookup is remembered for its backoff:
// until then the tenant's events fail at once, without a request, so a
// dead lookup path costs one request per tenant per backoff step.

// maxLookups bounds the lookups in flight, whatever the tenants.
const maxLookups = 8

// tenantLookup is the lookup state of one tenant whose customer is not
// cached.
type tenantLookup struct {
	waiting  []*Series // events set aside until the lookup in flight ends
	inFlight bool
	failures int   // in a row
	retryAt  int64 // monotonic: no lookup before, after a failure
	err      error // the last failure
}

// aside sets s's event, taken by a worker and sent as ev, aside until its
// tenant's customer is known, starting the lookup if none runs; if the
// tenant's last lookup failed within its backoff, the event fails at once
// with that error. Aside, it is owed but not in flight. mu must be held.
func (o *Outbox) aside(s *Series, ev *usage.Event) func() {
	t := o.lookups[s.tenant()]
	if t == nil {
		t = &tenantLookup{}
		o.lookups[s.tenant()] = t
	}
	if !t.inFlight && t.retryAt > o.mono() {
		return o.applyOutcome(s, ev, usage.Outcome{Result: usage.Retry, Err: t.err}, true)
	}
	t.waiting = append(t.waiting, s)
	o.stats.InFlight--
	if !t.inFlight {
		t.inFlight = true
		o.wg.Add(1)
		go o.lookUp(s.tenant())
	}
	return nil
}

// lookUp resolves tenant's customer and releases its waiting events.
func (o *Outbox) lookUp(tenant string) {
	defer o.wg.Done()
	var customer string
	var err error
	select {
	case o.lookupSlots <- struct{}{}:
		customer, err = o.cfg.Customers.Resolve(o.ctx, tenant)
		<-o.lookupSlots
	case <-o.ctx.Done():
		err = o.ctx.Err()
	}
	o.mu.Lock()
	reports := o.looked(tenant, customer, err)
	o.progressed()
	o.report(reports)
}

// looked applies the outcome of tenant's lookup to the events waiting for
// it. mu must be held.
func (o *Outbox) looked(tenant, customer string, err error) []func() {
	t := o.lookups[tenant]
	waiting := t.waiting
	t.waiting, t.inFlight = nil, false
	o.stats.InFlight += int64(len(waiting)) // bind and applyOutcome take them out again
	var reports []func()
	if err == nil {
		delete(o.lookups, tenant)
		for _, s := range waiting {
			ev := usage.Event{ID: s.event.id, Key: s.key(), Customer: customer}
			reports = append(reports, o.bind(s, &ev))
		}
		return reports
	}
	t.failures++
	t.err = err
	t.retryAt = o.mono() + int64(o.retryWait(t.failures, 0))
	for _, s := range waiting {
		ev := usage.Event{ID: s.event.id, Key: s.key(), Customer: s.event.customerName()}
		reports = append(reports, o.applyOutcome(s, &ev, usage.Outcome{Result: usage.Retry, Err: err}, true))
	}
	return reports
}

// retryLookupsNow lets the next event of each tenant whose lookup failed
// ask again at once: a Flush wants delivery now. It also forgets the
// failures of tenants no lookup runs for. mu must be held.
func (o *Outbox) retryLookupsNow() {
	for tenant, t := range o.lookups {
		if !t.inFlight {
			delete(o.lookups, tenant)
		}
	}
}
