package litewavemetric

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// customerCache maps tenants to customer ids. Hits and misses ("no such
// account") live for separate lifetimes; failures are not cached. At most
// one lookup per tenant is in flight: concurrent callers wait for it.
type customerCache struct {
	hitTTL, missTTL time.Duration
	max             int

	mu      sync.Mutex
	entries map[string]cacheEntry
	calls   map[string]*lookupCall
	stats   LookupStats
}

type cacheEntry struct {
	customer string // empty for a miss
	expires  time.Time
}

type lookupCall struct {
	done     chan struct{}
	customer string
	err      error
}

// LookupStats counts customer lookups.
type LookupStats struct {
	Lookups  int64 // requests sent
	Hits     int64 // answered from the cache
	Misses   int64 // tenants without an account, from the network or the cache
	Failures int64 // lookups that failed (network, non-2xx, bad answer)
}

func newCustomerCache(hit, miss time.Duration, max int) *customerCache {
	return &customerCache{hitTTL: hit, missTTL: miss, max: max,
		entries: map[string]cacheEntry{}, calls: map[string]*lookupCall{}}
}

// cached returns a live hit, without any network call.
func (c *customerCache) cached(tenant string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[tenant]
	if !ok || e.customer == "" || !time.Now().Before(e.expires) {
		return "", false
	}
	c.stats.Hits++
	return e.customer, true
}

// resolve returns the tenant's customer from the cache, or by calling fetch
// once for all concurrent callers.
func (c *customerCache) resolve(ctx context.Context, tenant string, fetch func(context.Context) (string, error)) (string, error) {
	c.mu.Lock()
	if e, ok := c.entries[tenant]; ok && time.Now().Before(e.expires) {
		if e.customer == "" {
			c.stats.Misses++
			c.mu.Unlock()
			return "", fmt.Errorf("litewavemetric: tenant %s: %w (cached)", tenant, ErrNoCustomer)
		}
		c.stats.Hits++
		c.mu.Unlock()
		return e.customer, nil
	}
	if call, ok := c.calls[tenant]; ok {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.customer, call.err
		case <-ctx.Done():
			return "", fmt.Errorf("litewavemetric: customer lookup for tenant %s: %w", tenant, ctx.Err())
		}
	}
	call := &lookupCall{done: make(chan struct{})}
	c.calls[tenant] = call
	c.mu.Unlock()

	call.customer, call.err = fetch(ctx)
	c.store(tenant, call.customer, call.err)
	c.mu.Lock()
	delete(c.calls, tenant)
	c.mu.Unlock()
	close(call.done)
	return call.customer, call.err
}

// store records the outcome of a lookup made by the caller.
func (c *customerCache) store(tenant, customer string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Lookups++
	ttl := c.hitTTL
	switch {
	case errors.Is(err, ErrNoCustomer):
		c.stats.Misses++
		customer, ttl = "", c.missTTL
	case err != nil:
		c.stats.Failures++
		return
	}
	if len(c.entries) >= c.max {
		c.expire()
	}
	if len(c.entries) < c.max {
		c.entries[tenant] = cacheEntry{customer: customer, expires: time.Now().Add(ttl)}
	}
}

// expire drops dead entries; when none is dead it drops all, which costs
// a lookup per tenant, never usage. mu must be held.
func (c *customerCache) expire() {
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

func (c *customerCache) snapshot() LookupStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
