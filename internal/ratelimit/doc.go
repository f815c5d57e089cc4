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
//     quota may therefore be exceeded by what the other nodes admitted that
//     this node has not yet learned of (while both are busy, about one
//     FlushInterval of their traffic); one node alone never exceeds it while
//     the store is reachable.
//     Counts survive restarts: the node flushes on shutdown and a counter
//     is loaded from the store on its first use. If the store is
//     unreachable, requests are served and counted locally (fail open)
//     unless QuotaOptions.FailClosed is set.
//
// Both return a Decision; WriteHeaders turns the decisions for a request
// into RateLimit-Policy/RateLimit (draft-ietf-httpapi-ratelimit-headers-07
// and later), X-RateLimit-* and Retry-After headers.
package ratelimit
