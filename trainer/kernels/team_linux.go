package kernels

import "syscall"

// osYield offers the CPU to any other runnable thread (sched_yield): a
// worker polling for work must not keep a thread of this process, or of
// another, off a CPU they share on a loaded host.
func osYield() { syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
