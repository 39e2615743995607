package cuda

import "syscall"

func gettidImpl() int { return syscall.Gettid() }
