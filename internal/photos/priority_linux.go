//go:build linux

package photos

import (
	"runtime"
	"syscall"
)

// lowPriority runs fn on an operating-system thread of its own at the
// lowest CPU priority (nice 19): the kernel gives it the processors the
// server's other threads leave free, so a photo being decoded waits for a
// street's fan-out rather than the other way round, which Go's scheduler
// alone cannot do (it has no goroutine priorities). The thread ends with
// fn: a priority, once lowered, cannot be raised back without privilege.
func lowPriority(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
		fn()
	}()
	<-done
}
