// Package httpclient is the HTTP plumbing the HTTP backends and the
// customer lookup share: a client that follows no redirect, sends the API
// key and caps what it reads, and the classification of its failures into
// outages, configuration problems and rejections.
package httpclient
