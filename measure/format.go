package measure

import "fmt"

// Commas formats a count (parameters, multiply-adds) with thousands
// separators, 7139704 as 7,139,704, as every table of effnas shows them.
func Commas(n int64) string {
	s := fmt.Sprint(n)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return sign + string(out)
}
