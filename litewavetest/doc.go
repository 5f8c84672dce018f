// Package litewavetest provides an in-process fake Litewave billing backend
// for tests and benchmarks.
//
// A [Server] listens on a real loopback socket (net/http/httptest underneath)
// and implements the two endpoints the exporter uses:
//
//	GET  /api/v1/customer-accounts/tenant/{tenant_id}  customer lookup
//	POST /api/v1/events                                 usage event
//
// It checks events more strictly than the documented API (headers present,
// an integer total_usage, the tenant's own customer id, a 64 KiB body cap),
// so that a test catches what a lenient backend would let through. It
// honours idempotency keys, which the documented API does not: a replay
// with the same body is acknowledged but not counted, and a reuse with a
// different body is a 422 conflict. It records everything it received so a
// test can assert exact totals per (tenant, device, meter) series with
// [Server.Totals].
//
// Faults (error statuses with Retry-After, dropped connections before the
// request is read or after the event was recorded, and stalls) are injected
// per request with a [FaultFunc] or queued in order with [Server.Script].
//
// Beware that net/http's Transport silently retries a request that failed on
// a reused keep-alive connection when the request is replayable, which
// includes every request carrying an Idempotency-Key header. A dropped
// connection may therefore be invisible to the client and show up as a
// duplicate instead; use a fresh connection when a test needs to observe the
// error itself.
//
// Always Close the server: it closes client connections and releases
// handlers blocked in an injected delay, so no goroutine outlives it.
package litewavetest
