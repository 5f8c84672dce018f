// Package outbox holds the usage that is owed to the billing backend and
// delivers it.
//
// Usage is kept per series (tenant, device, meter). A series owns at most two
// entries however long the backend is down: one frozen event, which has an
// idempotency id and immutable contents from the moment it is frozen, and one
// open accumulator that collects usage arriving while the event is pending.
// When the event is acknowledged the open amount is frozen into the next
// event. So at most one request per series is in flight, every retry repeats
// the same id and bytes, and memory is bounded by the number of series.
//
// When a Store is configured every change is written through it before the
// event it concerns is sent, in one transaction per batch of changes.
package outbox
