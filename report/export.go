package report

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/effnas/effnas/measure"
	"github.com/effnas/effnas/reward"
	"github.com/effnas/effnas/searchspace"
	"github.com/effnas/effnas/store"
	"github.com/effnas/effnas/version"
)

// Names and versions of the export documents.
const (
	ExportFormat     = "effnas/export"
	ExportListFormat = "effnas/export-list"
	ExportVersion    = 1
)

// Export is one trial taken out of a database: the architecture (a
// searchspace architecture document, so that any command taking an ARCH
// accepts the file), what it measured, and where it came from.
type Export struct {
	Format    string           `json:"format"`
	Version   int              `json:"version"`
	Arch      searchspace.Arch `json:"arch"`
	Decisions []int            `json:"decisions,omitempty"`
	Status    store.Status     `json:"status"`
	Metrics   *measure.Metrics `json:"metrics,omitempty"`
	// Reward is absent when the trial has no finite reward.
	Reward     *float64   `json:"reward,omitempty"`
	Provenance Provenance `json:"provenance"`
}

// Provenance records where an exported trial came from.
type Provenance struct {
	Search     string `json:"search"`
	Trial      int    `json:"trial"`
	Database   string `json:"database,omitempty"`
	Seed       uint64 `json:"seed"`
	Controller string `json:"controller"`
	// HostFingerprint is measure.Host.Fingerprint of the machine the
	// search measured its step times on; step times are comparable only
	// between equal fingerprints.
	HostFingerprint string       `json:"host_fingerprint"`
	Host            measure.Host `json:"host"`
	// Reward is the search's reward settings document as the search
	// record keeps it (reward.DecodeSettings reads it).
	Reward json.RawMessage `json:"reward"`
	// Baseline is the backbone's measurement the reward refers to.
	Baseline *measure.Metrics `json:"baseline,omitempty"`
	// Synthetic is true when the search scored trials with the synthetic
	// evaluator (a formula of the architecture, not training): its
	// accuracies and step times are not measurements.
	Synthetic  bool      `json:"synthetic,omitempty"`
	ExportedAt time.Time `json:"exported_at"`
	// ExportedBy is the code version of the program that wrote the
	// export; the code that measured the trial is in its metrics' host.
	ExportedBy version.Code `json:"exported_by,omitzero"`
}

// ExportList is several exported trials, e.g. a Pareto front.
type ExportList struct {
	Format  string   `json:"format"`
	Version int      `json:"version"`
	Items   []Export `json:"items"`
}

// NewExport exports trial t of search s; database names the file it was
// read from ("" to leave it out).
func NewExport(s store.Search, t store.Trial, database string, now time.Time) Export {
	e := Export{Format: ExportFormat, Version: ExportVersion, Arch: t.Arch, Decisions: t.Decisions, Status: t.Status,
		Metrics: t.Metrics,
		Provenance: Provenance{Search: s.Name, Trial: t.ID, Database: database, Seed: s.Seed, Controller: s.Controller,
			HostFingerprint: s.Host.Fingerprint(), Host: s.Host, Reward: s.Reward, Baseline: s.Baseline,
			Synthetic: s.Synthetic() || t.Synthetic(), ExportedAt: now.UTC(), ExportedBy: version.Get()}}
	if t.Done() && !math.IsNaN(t.Reward) && !math.IsInf(t.Reward, 0) {
		r := t.Reward
		e.Reward = &r
	}
	return e
}

// Front3 returns the done trials on the (accuracy: max, step time: min,
// params: min) front, computed with reward.SearchDirections().NonDominated,
// in ID order. Trials with a non-finite measurement are left out.
func Front3(trials []store.Trial) []store.Trial {
	var pts []reward.Point
	byIndex := map[string]store.Trial{}
	for _, t := range trials {
		if o, ok := objectivesOf(t); ok {
			id := strconv.Itoa(len(pts))
			pts = append(pts, reward.Point{ID: id, Objectives: []float64{o.acc, o.step, o.params}})
			byIndex[id] = t
		}
	}
	if len(pts) == 0 {
		return nil
	}
	keep := reward.SearchDirections().NonDominated(pts)
	out := make([]store.Trial, len(keep))
	for i, p := range keep {
		out[i] = byIndex[p.ID]
	}
	slices.SortFunc(out, func(a, b store.Trial) int { return a.ID - b.ID })
	return out
}

// NewExportList exports the given trials.
func NewExportList(s store.Search, trials []store.Trial, database string, now time.Time) ExportList {
	l := ExportList{Format: ExportListFormat, Version: ExportVersion, Items: []Export{}}
	for _, t := range trials {
		l.Items = append(l.Items, NewExport(s, t, database, now))
	}
	return l
}

// Encode writes v as indented JSON with a final newline.
func Encode(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
