// Package outbox holds the usage that is owed to the billing backend and
// delivers it. It knows no protocol: it hands batches of events to a
// usage.Backend and binds them to customers through usage.Customers.
//
// Usage is kept per series (tenant, device, meter). A series owes at most
// two entries however long the backend is down: one frozen event, which has
// an idempotency id and immutable contents from the moment it is first
// attempted, and one open amount that collects usage arriving while the
// event is pending. When the event is acknowledged the open amount is
// frozen into the next event. So at most one event per series is in flight,
// every retry repeats the same id and bytes, and memory is bounded by the
// number of series. An event the backend rejects is set aside as the
// series' rejected usage, and later usage of the series goes on.
//
// When a Store is configured every change is written through it before the
// event it concerns is sent, in one transaction per batch of changes.
package outbox
