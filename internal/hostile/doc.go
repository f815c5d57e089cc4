// Package hostile is mote's hostile-guest and bad-input suite. It has no
// code of its own, only tests: each starts a real node in-process
// (internal/node/nodetest) and attacks it over real HTTP, through the
// gateway and the admin API, the way a malicious guest, client or admin
// caller would.
//
// The guests are in testdata/, each with its C or WAT source and the
// command that rebuilds it (testdata/build.sh). A hostile guest's test
// checks four things: the documented status code, a line in the service's
// logs that explains it, that the node's memory stays bounded (the Go heap
// and the process's RSS, sampled during the attack), and that a
// well-behaved neighbour keeps answering (its median latency before and
// during the attack is in the test's log, under a generous bound).
//
// docs/security.md is the threat model these tests check.
package hostile
