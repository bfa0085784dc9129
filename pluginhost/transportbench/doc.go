// Package transportbench measures what running a method as a plugin costs:
// the same method's step over real gRPC (a plugin process) and in-process,
// next to the host's backbone step, at the default configuration (refnet,
// batch 256, 2 views). It holds only benchmarks:
//
//	go test -run '^$' -bench . -benchtime 20x ./pluginhost/transportbench
//
// docs/plugins.md reports the numbers.
package transportbench
