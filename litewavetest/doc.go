// Package litewavetest provides an in-process fake Litewave billing backend
// for tests and benchmarks.
//
// A [Server] listens on a real loopback socket (net/http/httptest underneath)
// and implements the endpoints the exporter uses:
//
//	GET  /api/v1/customer-accounts/tenant/{tenant_id}             customer lookup
//	GET  /metering/v1alpha1/customer-accounts/tenant/{tenant_id}  customer lookup (portal)
//	POST /api/v1/events                                            usage event
//	POST /topics/{topic}                                           Kafka REST Proxy v2 produce
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
// [Server.NewExporter] and [Server.NewClient] give an exporter and a
// litewavemetric.Client wired to the server alone, with
// litewavemetric.WithoutEnvironment: no LITEWAVE_* variable a shell
// exported (a real endpoint, portal, key or spool) reaches them.
// [Server.Exporter] is the same for a test, shut down when it ends.
//
// [NewHandler] returns one that does not listen, an http.Handler to serve on
// your own listener beside your own routes.
//
// Both lookups answer alike. The portal always wants an x-api-key: the
// [WithPortalAPIKey] key, else the [WithAPIKey] key, else any. With
// [WithAnyTenant] every tenant has a customer, "cus_<tenant>" unless
// registered.
//
// # Produce
//
// The produce endpoint takes the json embedded format (Content-Type
// application/vnd.kafka.json.v2+json, body
// {"records":[{"key":…,"value":…,"partition":…}]}), so a test needs no proxy.
// Request errors answer {"error_code":<status>,"message":…}: 415 for another
// Content-Type, 400 for malformed JSON, 422 for no records, 413 beyond 4 MiB,
// 401 for a bad API key. Each value must be a usage record, as the exporter
// writes it: string tenant_id, device_id, meter_id and customer_id (the
// tenant's), an integer total_usage >= 0, at most 64 KiB. Every topic has 3
// partitions; a record without one goes where the Java producer puts it,
// (murmur2(key) & 0x7fffffff) % 3, or to 0 without a key. Keys are compared
// as JSON bytes, once per topic: a replay with the same value is kept with
// an offset but not counted, a reuse with another value is a failed
// conflict. [Server.Records] and [Server.RecordConflicts] return them;
// Totals count accepted records alongside events.
//
// By default answers take Confluent's form: HTTP 200 with one offsets entry
// per record in request order, a failed record having null partition and
// offset, an error_code (50002 for an invalid record, a wrong customer, a
// conflict or an oversized value) and an error text; the status is 401 or
// 403 if an entry has 40101 or 40301. With [WithRedpandaAnswers] they take
// Redpanda's: one entry per partition batch, in shuffled order (never the
// request's), {"partition":p,"offset":<base offset>}, with a Kafka
// error_code (87 INVALID_RECORD, 10 MESSAGE_TOO_LARGE, 3
// UNKNOWN_TOPIC_OR_PARTITION) and offset -1 when any record of the batch
// failed, in which case none of them is kept. With [WithTopics] a produce to
// another topic fails every record as a real proxy does: 50003 "Topic <t> not
// present in metadata after 60000 ms.", or error_code 3.
//
// # Faults
//
// Request faults (error statuses with Retry-After, dropped connections before
// the request is read or after it was recorded, odd 200 answers to recorded
// requests, and stalls) are decided per request by a function given to
// [Server.SetFaultFunc] or queued in order with [Server.Script], for
// lookups, events and produces alike ([Fault.Target]). Record faults fail
// single records of a produce with a chosen code, queued with
// [Server.ScriptRecords] or decided by a function given to
// [Server.SetRecordFaultFunc].
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
