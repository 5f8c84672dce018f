package usage

import "encoding/hex"

// Limits on what enters the exporter. They are enforced where values enter
// (options, Export, lookup answers), so that everything stored can be read
// back and sent.
const (
	MaxMeterLength    = 255 // meter ids, as OpenTelemetry bounds instrument names
	MaxCustomerLength = 255 // customer ids from lookup answers
)

// Key identifies a series: what the backend bills as one line.
type Key struct {
	Tenant, Device, Meter string
}

// Event is one usage event: an amount of one series over a window, bound
// to a customer. Once it has been attempted it never changes, so every
// retry, and a replay after a restart, sends the same bytes under the same
// ID.
type Event struct {
	ID       ID
	Key      Key
	Customer string
	Units    int64
	// Start and End bound the window the usage was counted in, as Unix
	// nanoseconds.
	Start, End int64
}

// ID is an event's idempotency key: an RFC 9562 version 8 UUID (see IDs
// for how it is derived). No two events share one, whatever the instance
// ids.
type ID [16]byte

// Session is the random part of every ID an exporter derives in one run.
type Session [16]byte

// IsZero reports whether the id has not been derived yet.
func (id ID) IsZero() bool { return id == ID{} }

// String formats the id as a UUID.
func (id ID) String() string {
	var b [36]byte
	id.encode(b[:])
	return string(b[:])
}

// AppendText appends the UUID form of id to dst.
func (id ID) AppendText(dst []byte) []byte {
	var b [36]byte
	id.encode(b[:])
	return append(dst, b[:]...)
}

func (id ID) encode(b []byte) {
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:], id[10:])
}

// DeriveID computes the id of event number seq of series k, as
// NewIDs(instance, session).Derive does. It sets up a cipher each time:
// derive many ids with one IDs.
func DeriveID(instance string, session Session, k Key, seq uint64) ID {
	var id ID
	NewIDs(instance, session).Derive(&id, k, seq)
	return id
}
