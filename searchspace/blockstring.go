package searchspace

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBlockString marks a malformed official block string.
var ErrBlockString = errors.New("malformed block string")

// EncodeBlockString writes a stage as an official automl block string, keys
// in the official order: r k s e i o [se] [c1]. MBConv stages omit c (c0 is
// the default), stages without squeeze-excite omit se.
func EncodeBlockString(s Stage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "r%d_k%d_s%d_e%d_i%d_o%d", s.Repeats, s.Kernel, s.Stride, s.Expand, s.In, s.Out)
	if s.SE > 0 {
		b.WriteString("_se")
		b.WriteString(strconv.FormatFloat(s.SE, 'g', -1, 64))
	}
	if s.Block == FusedMBConv {
		b.WriteString("_c1")
	}
	return b.String()
}

// ParseBlockString decodes an official automl block string such as
// "r6_k3_s2_e4_i64_o128_se0.25" or "r2_k3_s1_e1_i24_o24_c1". Keys: r repeats,
// k kernel, s stride (one digit, or MnasNet's two equal digits "s22"), e
// expansion ratio, i input filters, o output filters, se squeeze-excite ratio,
// c conv type (0 MBConv, 1 Fused-MBConv). Keys r, k, s, e, i and o are
// required; each key may appear once. The encoder's informational "f" key and
// MnasNet's "noskip" flag are rejected because they have no meaning here.
// The stage is decoded, not validated: call Validate on the architecture.
func ParseBlockString(str string) (Stage, error) {
	var s Stage
	fail := func(format string, args ...any) (Stage, error) {
		return Stage{}, fmt.Errorf("%w %q: %s", ErrBlockString, str, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(str) == "" {
		return fail("empty")
	}
	seen := map[string]bool{}
	for _, tok := range strings.Split(str, "_") {
		key, val := splitToken(tok)
		if key == "" || val == "" {
			return fail("token %q is not a key followed by a value (keys r k s e i o se c)", tok)
		}
		if seen[key] {
			return fail("key %q appears twice", key)
		}
		seen[key] = true
		if key == "se" {
			f, err := strconv.ParseFloat(val, 64)
			if err != nil || f < 0 || f > 1 {
				return fail("se: value %q is not a ratio in [0, 1]", val)
			}
			s.SE = f
			continue
		}
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return fail("%s: value %q is not a non-negative integer", key, val)
		}
		switch key {
		case "r":
			s.Repeats = n
		case "k":
			s.Kernel = n
		case "s":
			// MnasNet writes strides as two digits (s22 = 2x2); accept equal pairs.
			if len(val) == 2 && val[0] == val[1] {
				n = int(val[0] - '0')
			} else if len(val) != 1 {
				return fail("s: value %q is not a one-digit stride (or two equal digits)", val)
			}
			s.Stride = n
		case "e":
			s.Expand = n
		case "i":
			s.In = n
		case "o":
			s.Out = n
		case "c":
			if n > 1 {
				return fail("c: value %d is not a conv type (0 MBConv, 1 Fused-MBConv)", n)
			}
			s.Block = BlockType(n)
		default:
			return fail("unknown key %q (allowed: r k s e i o se c)", key)
		}
	}
	for _, k := range []string{"r", "k", "s", "e", "i", "o"} {
		if !seen[k] {
			return fail("missing key %q", k)
		}
	}
	return s, nil
}

// splitToken splits "se0.25" into ("se", "0.25") and "r2" into ("r", "2").
func splitToken(tok string) (string, string) {
	i := 0
	for i < len(tok) && tok[i] >= 'a' && tok[i] <= 'z' {
		i++
	}
	return tok[:i], tok[i:]
}

// BlockStrings encodes every stage of an architecture.
func (a Arch) BlockStrings() []string {
	out := make([]string, len(a.Stages))
	for i, s := range a.Stages {
		out[i] = EncodeBlockString(s)
	}
	return out
}

// ParseBlockStrings decodes a list of block strings into stages; errors name
// the stage (1-based, as in the tables of the papers).
func ParseBlockStrings(strs []string) ([]Stage, error) {
	out := make([]Stage, len(strs))
	for i, str := range strs {
		s, err := ParseBlockString(str)
		if err != nil {
			return nil, fmt.Errorf("stage %d: %w", i+1, err)
		}
		out[i] = s
	}
	return out, nil
}
