package search

import "fmt"

// SpaceTitle says which space SpaceOf(o) is, as "nas space" heads its
// table: the space "nas search --evaluator E" searches, and for the train
// evaluator on which dataset at which width and depth. It is "" for a
// space file (SpaceFile), shown as it is.
func (o ProxyOptions) SpaceTitle() string {
	if o.SpaceFile != "" {
		return ""
	}
	title := fmt.Sprintf("the space \"nas search --evaluator %s\" searches", o.Evaluator)
	if o.Evaluator == "train" {
		title += fmt.Sprintf(" on %s at width %g, depth %g", o.Dataset, o.Width, o.Depth)
	}
	return title
}
