//go:build !linux

package cuda

func gettidImpl() int { return 0 }
