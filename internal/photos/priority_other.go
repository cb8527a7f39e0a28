//go:build !linux

package photos

// lowPriority runs fn: only Linux lowers one thread's priority.
func lowPriority(fn func()) { fn() }
