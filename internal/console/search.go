package console

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/effnas/effnas/controller"
	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/report"
	"github.com/effnas/effnas/search"
	"github.com/effnas/effnas/store"
	"github.com/schollz/progressbar/v3"
)

// Search shows a running search on w (standard error): on a terminal a
// bar of the trials, described with the best trial and the training steps
// of the running ones; otherwise (a log) one line per finished trial.
type Search struct {
	w       io.Writer
	quiet   bool
	bar     *progressbar.ProgressBar
	mu      sync.Mutex
	running map[int]search.Progress
	best    string
	shown   time.Time
}

// NewSearch returns the progress of a search of total trials on w; quiet
// shows nothing but what Printf prints.
func NewSearch(w io.Writer, quiet bool, total int) *Search {
	p := &Search{w: w, quiet: quiet, running: map[int]search.Progress{}}
	if !quiet && isTerminal(w) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("measuring the baseline"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(100*time.Millisecond))
	}
	return p
}

// Hooks returns the search hooks that show the search s.
func (p *Search) Hooks(s search.Settings) search.Hooks {
	h := search.Hooks{
		Start: func(st search.Start) {
			if st.Resumed {
				p.Printf("resuming search %q: %d of %d trials done\n", st.Name, st.Done, st.Total)
			}
			if st.Idle > 0 {
				flag, how := "--window", fmt.Sprintf("proposes at most %d trials ahead of the observed ones", st.Window.Size)
				if s.Controller == controller.NameRL {
					flag, how = "--rl-minibatch", fmt.Sprintf("proposes in rounds of %d trials", st.Window.Size)
				}
				p.Printf("note: --parallel %d, but the %s controller %s (%s, fixed when the search was created): %d workers stay idle; "+
					"a search created with a larger %s can use them\n", st.Parallel, s.Controller, how, flag, st.Idle, flag)
			}
		},
		Note: func(msg string) { p.Printf("%s\n", msg) },
		Baseline: func(m measure.Metrics) {
			p.Printf("baseline (the space's backbone): step %.1f ms, %.2f M params\n", m.StepTime.Median*1e3, float64(m.Params)/1e6)
		},
		Trial: func(t store.Trial, done, total int, best *store.Trial) {
			p.mu.Lock()
			defer p.mu.Unlock()
			delete(p.running, t.ID)
			if best != nil && best.Metrics != nil {
				p.best = fmt.Sprintf("best #%d %.4f (%.2f%%, %.1f ms)", best.ID, best.Reward, 100*best.Metrics.Accuracy, best.Metrics.StepTime.Median*1e3)
			}
			switch {
			case p.bar != nil:
				p.describe()
				p.bar.Set(done)
			case !p.quiet:
				fmt.Fprintln(p.w, report.TrialLine(time.Now(), t, done, total, best))
			}
		},
	}
	if p.bar != nil {
		h.Progress = func(pr search.Progress) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.running[pr.TrialID] = pr
			if time.Since(p.shown) > 200*time.Millisecond {
				p.describe()
			}
		}
	}
	return h
}

// describe sets the bar's text: the best trial and what the running
// trials do. p.mu is held.
func (p *Search) describe() {
	parts := []string{}
	if p.best != "" {
		parts = append(parts, p.best)
	}
	for _, id := range slices.Sorted(maps.Keys(p.running)) {
		r := p.running[id]
		what := fmt.Sprintf("#%d %s", id, r.Phase)
		if id == 0 {
			what = "baseline " + r.Phase
		}
		if r.Steps > 0 && r.Phase == "train" {
			what += fmt.Sprintf(" %d/%d", r.Step, r.Steps)
		}
		parts = append(parts, what)
	}
	p.bar.Describe(strings.Join(parts, " | "))
	p.shown = time.Now()
}

// Printf writes a line above the bar.
func (p *Search) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintf(p.w, format, args...)
}

// Done ends the bar.
func (p *Search) Done() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
