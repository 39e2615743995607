package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The team: the goroutines that share the work of a parallel call (GEMM
// chunks, and through Parallel the trainer's ops). The calling goroutine
// is worker 0; helpers 1.. are started once and reused.
//
// A call publishes its tasks in one shared slot; every worker claims task
// indices from one counter until none are left, so a worker that the OS
// descheduled (the host is shared) does not hold up the others. Helpers
// that have no work spin for a while (spinFor) before parking: the calls of
// a training step follow each other within microseconds, and waking a
// parked goroutine costs tens of microseconds on a virtual machine, more
// than many calls take. A parked helper is woken through a channel.
//
// One call owns the team at a time. A call made while the team is busy
// (from inside a task, or from another goroutine) runs its tasks on the
// calling goroutine alone. Callers split their work into tasks that depend
// on the problem only, never on the number of workers, so results are the
// same on any GOMAXPROCS.

// teamTask is the work of one parallel call: task(w, i) runs task i on
// worker w (w < the call's worker count).
type teamTask interface {
	task(w, i int)
}

// testIdleCaller makes the calling goroutine leave every task to the
// helpers (tests: the path where worker 0 claims nothing).
var testIdleCaller bool

// spinFor is how long an idle helper polls for the next call before it
// parks.
var spinFor = 200 * time.Microsecond

// Team state word: bit 63 set while a call accepts helpers, bit 62 set
// while its caller waits parked for the helpers, bits 57-61 the call's
// worker count, bits 32-56 its sequence number (mod 2^25), bits 0-31 the
// helpers working on it.
const (
	teamOpen    = uint64(1) << 63
	teamWaiter  = uint64(1) << 62
	teamNWShift = 57
	teamSeqMask = uint64(1)<<25 - 1
	teamActive  = uint64(1)<<32 - 1
)

// teamSeq is the sequence number of a state word.
func teamSeq(s uint64) uint64 { return s >> 32 & teamSeqMask }

// teamNW is the worker count of a state word.
func teamNW(s uint64) int { return int(s >> teamNWShift & 31) }

var team struct {
	busy  atomic.Bool   // a call owns the team
	state atomic.Uint64 // see teamOpen
	// The published call, valid while the state is open and until the
	// helpers that joined it have left.
	work  teamTask
	tasks int
	next  atomic.Int64
	seq   uint64
	done  chan struct{} // the last helper out wakes a parked caller

	helpers  atomic.Int32 // helpers started
	startMu  sync.Mutex
	sleeping [maxThreads]atomic.Bool // helper i parked
	wake     [maxThreads]chan struct{}
}

func init() {
	team.done = make(chan struct{}, 1)
	for i := range team.wake {
		team.wake[i] = make(chan struct{}, 1)
	}
}

// Threads is the number of workers a parallel call may use now:
// GOMAXPROCS, at most 31. Worker indices passed to tasks are below it.
func Threads() int { return min(runtime.GOMAXPROCS(0), maxThreads-1) }

// Parallel runs fn(worker, task) for every task in [0, tasks), on up to
// Threads() goroutines (the caller is worker 0), and returns when all have
// run. Tasks are claimed one at a time in index order. Inside a task, or
// while another goroutine's call runs, it runs every task on the calling
// goroutine as worker 0. Split the work by the problem, never by the
// worker count, and results do not depend on GOMAXPROCS.
func Parallel(tasks int, fn func(worker, task int)) {
	runTeam(tasks, Threads(), funcTask(fn))
}

type funcTask func(w, i int)

func (f funcTask) task(w, i int) { f(w, i) }

// callerSpin is how long a caller whose tasks are all claimed polls for
// the helpers still working before it parks (a helper descheduled by the
// OS may need the CPU the caller is spinning on).
const callerSpin = 50 * time.Microsecond

// runTeam runs t's tasks [0, tasks) on up to nw workers.
func runTeam(tasks, nw int, t teamTask) {
	if tasks <= 0 {
		return
	}
	nw = min(nw, tasks, maxThreads-1)
	if nw <= 1 || !team.busy.CompareAndSwap(false, true) {
		for i := 0; i < tasks; i++ {
			t.task(0, i)
		}
		return
	}
	ensureHelpers(nw - 1)
	team.work, team.tasks = t, tasks
	team.next.Store(0)
	team.seq = (team.seq + 1) & teamSeqMask
	team.state.Store(teamOpen | uint64(nw)<<teamNWShift | team.seq<<32)
	for h := 1; h < nw; h++ {
		if team.sleeping[h].CompareAndSwap(true, false) {
			team.wake[h] <- struct{}{}
		}
	}
	for !testIdleCaller {
		i := int(team.next.Add(1) - 1)
		if i >= tasks {
			break
		}
		t.task(0, i)
	}
	for n := 1; testIdleCaller && team.next.Load() < int64(tasks); n++ {
		if n%256 == 0 {
			osYield()
		}
	}
	// Close the call to new helpers, then wait for those inside it:
	// spinning a little, then parked.
	for {
		s := team.state.Load()
		if team.state.CompareAndSwap(s, s&^teamOpen) {
			break
		}
	}
	var t0 time.Time
	for n := 1; ; n++ {
		s := team.state.Load()
		if s&teamActive == 0 {
			break
		}
		if n%256 != 0 {
			continue
		}
		if n == 256 {
			t0 = time.Now()
		} else if time.Since(t0) > callerSpin {
			if team.state.CompareAndSwap(s, s|teamWaiter) {
				<-team.done
				break
			}
			continue
		}
		osYield()
	}
	team.work = nil
	team.busy.Store(false)
}

// ensureHelpers starts helper goroutines until n exist.
func ensureHelpers(n int) {
	if int(team.helpers.Load()) >= n {
		return
	}
	team.startMu.Lock()
	for h := int(team.helpers.Load()); h < n; h++ {
		go helper(h + 1)
		team.helpers.Store(int32(h + 1))
	}
	team.startMu.Unlock()
}

// wanted reports whether state s is an open call, other than call seen,
// that helper id works for.
func wanted(s uint64, id int, seen uint64) bool {
	return s&teamOpen != 0 && teamSeq(s) != seen && id < teamNW(s)
}

// helper is worker id's loop: join open calls, spin while idle (yielding
// the CPU to any other thread that wants it), park when idle longer than
// spinFor.
func helper(id int) {
	seen := teamSeqMask + 1 // sequence of the last call joined
	idleSince := time.Now()
	for spins := 1; ; spins++ {
		if s := team.state.Load(); wanted(s, id, seen) {
			if !team.state.CompareAndSwap(s, s+1) {
				continue
			}
			seen = teamSeq(s)
			t, tasks := team.work, team.tasks
			for {
				i := int(team.next.Add(1) - 1)
				if i >= tasks {
					break
				}
				t.task(id, i)
			}
			// Leave; the last one out wakes a parked caller.
			if s := team.state.Add(^uint64(0)); s&teamActive == 0 && s&teamWaiter != 0 {
				team.done <- struct{}{}
			}
			idleSince, spins = time.Now(), 0
			continue
		}
		if spins%256 != 0 {
			continue
		}
		if time.Since(idleSince) < spinFor {
			osYield()
			continue
		}
		// Park. A call published after the store below sees the flag and
		// sends a token; one published before it is seen here.
		team.sleeping[id].Store(true)
		if wanted(team.state.Load(), id, seen) && team.sleeping[id].CompareAndSwap(true, false) {
			idleSince, spins = time.Now(), 0
			continue
		}
		<-team.wake[id]
		idleSince, spins = time.Now(), 0
	}
}
