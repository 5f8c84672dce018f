package accounts

import (
	"context"
	"sync"
	"time"
)

// cache maps tenants to customer ids. Hits and misses ("no such account")
// live for separate lifetimes; failures are not cached. At most one lookup
// per tenant is in flight: concurrent callers wait for it.
type cache struct {
	hitTTL, missTTL time.Duration
	max             int

	mu      sync.Mutex
	entries map[string]entry
	calls   map[string]*call
	stats   Stats
}

type entry struct {
	customer string // empty for a miss
	expires  time.Time
}

type call struct {
	done     chan struct{}
	customer string
	err      error
}

// Stats counts customer lookups.
type Stats struct {
	Requests  int64 // lookups sent to the backend
	CacheHits int64 // answered from the cache
	NoAccount int64 // answers, fresh or cached, that the tenant has no account
	Failures  int64 // lookups that failed otherwise (network, status, bad answer)
}

func newCache(hit, miss time.Duration, max int) *cache {
	return &cache{hitTTL: hit, missTTL: miss, max: max, entries: map[string]entry{}, calls: map[string]*call{}}
}

// cached returns a live hit, without any network call.
func (c *cache) cached(tenant string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[tenant]
	if !ok || e.customer == "" || !time.Now().Before(e.expires) {
		return "", false
	}
	c.stats.CacheHits++
	return e.customer, true
}

// resolve returns the tenant's customer from the cache, or by calling fetch
// once for all concurrent callers. A live miss is answered with miss().
func (c *cache) resolve(ctx context.Context, tenant string, fetch func(context.Context) (string, error), miss func() error) (string, error) {
	c.mu.Lock()
	if e, ok := c.entries[tenant]; ok && time.Now().Before(e.expires) {
		if e.customer == "" {
			c.stats.NoAccount++
			c.mu.Unlock()
			return "", miss()
		}
		c.stats.CacheHits++
		c.mu.Unlock()
		return e.customer, nil
	}
	if cl, ok := c.calls[tenant]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
			return cl.customer, cl.err
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
	}
	cl := &call{done: make(chan struct{})}
	c.calls[tenant] = cl
	c.mu.Unlock()

	cl.customer, cl.err = fetch(ctx)
	c.mu.Lock()
	delete(c.calls, tenant)
	c.mu.Unlock()
	close(cl.done)
	return cl.customer, cl.err
}

// store records the outcome of a lookup: noAccount, a customer, or a
// failure (err != nil).
func (c *cache) store(tenant, customer string, noAccount bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Requests++
	ttl := c.hitTTL
	switch {
	case noAccount:
		c.stats.NoAccount++
		customer, ttl = "", c.missTTL
	case err != nil:
		c.stats.Failures++
		return
	}
	if len(c.entries) >= c.max {
		c.expire()
	}
	if len(c.entries) < c.max {
		c.entries[tenant] = entry{customer: customer, expires: time.Now().Add(ttl)}
	}
}

// expire drops dead entries; when none is dead it drops all, which costs
// a lookup per tenant, never usage. mu must be held.
func (c *cache) expire() {
	now := time.Now()
	for t, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, t)
		}
	}
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
}

func (c *cache) forget(tenant string) {
	c.mu.Lock()
	delete(c.entries, tenant)
	c.mu.Unlock()
}

func (c *cache) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
