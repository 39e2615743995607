package search

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteComparisons writes the controllers' outcomes as "nas compare"
// prints them: a Markdown table of the best reward and the mean reward of
// the last trials (mean ± standard deviation over the seeds) and each
// seed's best reward.
func WriteComparisons(w io.Writer, res []Comparison) error {
	if len(res) == 0 {
		return nil
	}
	fmt.Fprintf(w, "| controller | best reward | mean reward, last %d trials | best per seed |\n| --- | --- | --- | --- |\n", res[0].Tail)
	for _, c := range res {
		bm, bs := MeanStd(c.Best)
		lm, ls := MeanStd(c.LastMean)
		per := make([]string, len(c.Best))
		for i, b := range c.Best {
			per[i] = strconv.FormatFloat(b, 'f', 4, 64)
		}
		if _, err := fmt.Fprintf(w, "| %s | %.4f ± %.4f | %.4f ± %.4f | %s |\n", c.Controller, bm, bs, lm, ls, strings.Join(per, " ")); err != nil {
			return err
		}
	}
	return nil
}
