//go:build !race

package e2e_test

// raceEnabled reports whether the race detector is on; the soak and the
// concurrency tests scale their counts down under it to stay fast in CI.
const raceEnabled = false
