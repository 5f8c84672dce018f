package spool

import (
	"testing"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

// BenchmarkCommit measures what a spooled Export adds before its first
// send (one collection of 20 000 new events in one synced transaction)
// and what an acknowledgement round costs (deleting 500 of them).
func BenchmarkCommit(b *testing.B) {
	const n = 20_000
	b.Run("collection-20000", func(b *testing.B) {
		sp, _, err := Open(b.TempDir(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer sp.Close()
		seq := uint64(0)
		for range b.N {
			ch := &outbox.Change{PutEvents: make([]outbox.EventRecord, n)}
			for i := range ch.PutEvents {
				seq++
				ch.PutEvents[i] = event(seq, i)
			}
			if err := sp.Commit(ch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("acks-500", func(b *testing.B) {
		sp, _, err := Open(b.TempDir(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer sp.Close()
		ch := &outbox.Change{PutEvents: make([]outbox.EventRecord, n)}
		for i := range ch.PutEvents {
			ch.PutEvents[i] = event(uint64(i+1), i)
		}
		if err := sp.Commit(ch); err != nil {
			b.Fatal(err)
		}
		next := uint64(1)
		b.ResetTimer()
		for range b.N {
			del := &outbox.Change{}
			for range 500 {
				del.DeleteEvents = append(del.DeleteEvents, next)
				next++
				if next > n {
					next = 1
				}
			}
			if err := sp.Commit(del); err != nil {
				b.Fatal(err)
			}
		}
	})
}
