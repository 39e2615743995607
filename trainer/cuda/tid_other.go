//go:build (darwin || freebsd || netbsd) && !linux

package cuda

func gettidImpl() int { return 0 }
