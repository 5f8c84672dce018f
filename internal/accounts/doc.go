// Package accounts looks up the customer account a tenant is billed to, at
// the events API or at the portal (the same answer under another path),
// and caches the answers.
package accounts
