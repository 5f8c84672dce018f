// Package usage holds what the layers of the exporter share: the series
// usage is billed to, the event that carries it, and the two seams of the
// delivery core, a Backend that takes events and a Customers lookup that
// binds them to a customer.
//
// Data flows one way, SDK -> mapping -> outbox -> backend; every layer
// imports this package and none imports a layer above it.
package usage
