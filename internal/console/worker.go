package console

import (
	"fmt"
	"io"
	"time"

	"github.com/effnas/effnas/measure"
)

// Logf returns a printf for the log of a long-running process (a worker):
// each line on w after the time of day.
func Logf(w io.Writer) func(format string, a ...any) {
	return func(format string, a ...any) {
		fmt.Fprintf(w, time.Now().Format("15:04:05 ")+format+"\n", a...)
	}
}

// WorkerStarted is the line a worker logs as it starts: its name, the
// host it trains on (CPU, cores, kernel backend and GPU, the host kind
// that its step times are comparable within) and the queue it takes
// trials from (credentials left out).
func WorkerStarted(name string, h measure.Host, queue string) string {
	return fmt.Sprintf("worker %s (%s; host kind %s) takes trials from %s", name, h.Summary(), h.Fingerprint(), queue)
}
