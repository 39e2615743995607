package trainer

// Gate is the machine gate of parallel searches (*search.Gate implements
// it): timing a network holds it exclusively, every other computation
// holds it shared, so that no other trial computes while a trial's step
// time is measured.
//
// The trainer holds it shared in short slices, one at a time and never
// nested: a training step with the preparation of its batch, a batch of
// BatchNorm re-estimation or of scoring, a graph built, a network
// initialised, the input statistics computed. An exclusive holder thus
// waits at most for the slices under way when it asks (Go's RWMutex lets
// no new shared holder in once a writer waits), and every slice waits
// while a timing runs. Progress callbacks run outside the slices.
type Gate interface {
	Lock()
	Unlock()
	RLock()
	RUnlock()
}

// shared runs fn as one slice of computation, holding g shared (nil: no
// gate).
func shared(g Gate, fn func() error) error {
	if g == nil {
		return fn()
	}
	g.RLock()
	defer g.RUnlock()
	return fn()
}
