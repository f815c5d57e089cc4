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
// and later), X-RateLimit-* and Retry-After headers. Limits holds a plan's
// parsed limits and writes an allowed request's headers cheaply.
//
// # Stored format
//
// A counter "<key>.<window>" (window "2026-11-27" for a day, "2026-11" for
// a month) is kept in one of two kinds of entry of the store's bucket:
//
//   - batched, when the store implements QuotaEntries: the entry
//     "shard.<window>.<nn>", nn being the two hex digits of the FNV-1a
//     (32-bit) hash of <key> modulo 64, holds the counters of every key of
//     that shard and window as JSON, {"counts":{"<key>":<total>,...}}. A
//     flush writes each entry it changes once (compare-and-set, retried
//     when another node wrote first), so however many keys were used it
//     makes at most 64 writes per window: a flush of thousands of new keys
//     stays well within FlushInterval, which bounds what a crash loses.
//   - its own entry "<key>.<window>" holding the total in decimal: the
//     only kind with a plain QuotaStore (AddQuota and LoadQuota), the kind
//     nodes wrote before batching, and where counters go that would grow a
//     batched entry past 512 KiB (some 20,000 keys per entry).
//
// A counter is loaded from its batched entry, or, when it is not there,
// from its own entry, so counts stored before batching are still read. A
// node moves such a count into the batched entry at the counter's first
// flush (its own entry is left to expire); from then on only the batched
// entry counts. An older node still writing a counter's own entry after
// that (a cluster upgraded one node at a time) is seen by the others only
// for counters they have not yet flushed.
package ratelimit
