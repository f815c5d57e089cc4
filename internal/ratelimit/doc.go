// Package ratelimit enforces the gateway's two tiers of limits on an API key:
//
//   - Spike arrest (Limiter): a token bucket per key, refilled at a Rate and
//     holding up to a burst. Buckets live in this node's memory only, so a
//     rate limit is per node: a cluster of n nodes behind a fair load
//     balancer admits up to n times the rate. Nothing is persisted; a restart
//     starts every bucket full.
//   - Quotas (Quotas): a calendar counter per key and UTC day or month,
//     persisted in a QuotaStore. Each node enforces locally against the last
//     total it knows and pushes its own usage asynchronously (Run flushes
//     every FlushInterval), taking back the cluster-wide total in return. A
//     quota may therefore be exceeded by what other nodes admit within one
//     flush interval; it is never exceeded by one node on its own.
//
// Both return a Decision; WriteHeaders turns the decisions for a request
// into RateLimit-Policy/RateLimit (draft-ietf-httpapi-ratelimit-headers-07
// and later), X-RateLimit-* and Retry-After headers.
package ratelimit
