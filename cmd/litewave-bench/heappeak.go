package main

import (
	"runtime/metrics"
	"time"
)

// The heap, read without stopping the world: its objects, live and not
// yet swept (HeapAlloc); what the last GC found live; and all allocated.
const (
	heapObjects = "/memory/classes/heap/objects:bytes"
	heapLive    = "/gc/heap/live:bytes"
	heapAllocs  = "/gc/heap/allocs:bytes"
)

// heapDuring is the heap during a measurement.
type heapDuring struct {
	peak      uint64 // the highest HeapAlloc sampled
	livePeak  uint64 // the most any GC found live
	allocated uint64 // bytes allocated
}

// sampleHeap samples the heap every interval until the returned function
// is called, which returns what it saw.
func sampleHeap(every time.Duration) (stop func() heapDuring) {
	quit, seen := make(chan struct{}), make(chan heapDuring)
	go func() {
		s := []metrics.Sample{{Name: heapObjects}, {Name: heapLive}, {Name: heapAllocs}}
		metrics.Read(s)
		var h heapDuring
		allocsBefore := s[2].Value.Uint64()
		read := func() {
			metrics.Read(s)
			h.peak = max(h.peak, s[0].Value.Uint64())
			h.livePeak = max(h.livePeak, s[1].Value.Uint64())
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			read()
			select {
			case <-t.C:
			case <-quit:
				read()
				h.allocated = s[2].Value.Uint64() - allocsBefore
				seen <- h
				return
			}
		}
	}()
	return func() heapDuring {
		close(quit)
		return <-seen
	}
}
