package scaling

import (
	"fmt"
	"sort"
	"strings"

	"github.com/effnas/effnas/searchspace"
)

// officialDef is one scaled family member of the official configs
// (google/automl efficientnetv2/effnetv2_configs.py): its base network and
// (width, depth, train size, eval size, dropout).
type officialDef struct {
	base         string
	width, depth float64
	train, eval  int
	dropout      float64
	description  string
}

// The V2 rows are efficientnetv2_params; the V1 rows efficientnetv1_params.
// The V1 configs train at "0.8" (80% of the evaluation size) without saying
// how that is rounded, so the V1 members carry no training size of their
// own (TrainImageSize 0: the evaluation size).
var officials = map[string]officialDef{
	"efficientnetv2-b0": {"efficientnetv2-b0", 1.0, 1.0, 192, 224, 0.2, "EfficientNetV2-B0 (78.7% top-1)"},
	"efficientnetv2-b1": {"efficientnetv2-b0", 1.0, 1.1, 192, 240, 0.2, "EfficientNetV2-B1 (79.8% top-1)"},
	"efficientnetv2-b2": {"efficientnetv2-b0", 1.1, 1.2, 208, 260, 0.3, "EfficientNetV2-B2 (80.5% top-1)"},
	"efficientnetv2-b3": {"efficientnetv2-b0", 1.2, 1.4, 240, 300, 0.3, "EfficientNetV2-B3 (82.1% top-1)"},
	"efficientnet-b0":   {"efficientnet-b0", 1.0, 1.0, 0, 224, 0.2, "EfficientNet-B0 (V1)"},
	"efficientnet-b1":   {"efficientnet-b0", 1.0, 1.1, 0, 240, 0.2, "EfficientNet-B1 (V1)"},
	"efficientnet-b2":   {"efficientnet-b0", 1.1, 1.2, 0, 260, 0.3, "EfficientNet-B2 (V1)"},
	"efficientnet-b3":   {"efficientnet-b0", 1.2, 1.4, 0, 300, 0.3, "EfficientNet-B3 (V1)"},
	"efficientnet-b4":   {"efficientnet-b0", 1.4, 1.8, 0, 380, 0.4, "EfficientNet-B4 (V1)"},
	"efficientnet-b5":   {"efficientnet-b0", 1.6, 2.2, 0, 456, 0.4, "EfficientNet-B5 (V1)"},
	"efficientnet-b6":   {"efficientnet-b0", 1.8, 2.6, 0, 528, 0.5, "EfficientNet-B6 (V1)"},
	"efficientnet-b7":   {"efficientnet-b0", 2.0, 3.1, 0, 600, 0.5, "EfficientNet-B7 (V1)"},
}

// OfficialNames lists the named family members, sorted.
func OfficialNames() []string {
	names := make([]string, 0, len(officials))
	for n := range officials {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// OfficialOptions returns the base network name and the official scaling
// options of a named family member.
func OfficialOptions(name string) (base string, o Options, err error) {
	key := strings.ToLower(name)
	d, ok := officials[key]
	if !ok {
		return "", Options{}, fmt.Errorf("scaling: unknown family member %q (known: %s)", name, strings.Join(OfficialNames(), ", "))
	}
	return d.base, Options{Name: key, Width: d.width, Depth: d.depth, ImageSize: d.eval,
		TrainImageSize: d.train, Dropout: d.dropout}, nil
}

// Official returns a named family member (efficientnetv2-b0..b3,
// efficientnet-b0..b7) as produced by Scale from its base reference network
// with the official coefficients.
func Official(name string) (searchspace.Arch, error) {
	base, o, err := OfficialOptions(name)
	if err != nil {
		return searchspace.Arch{}, err
	}
	a, err := searchspace.Reference(base)
	if err != nil {
		return searchspace.Arch{}, err
	}
	b, err := Scale(a, o)
	if err != nil {
		return searchspace.Arch{}, err
	}
	if o.TrainImageSize == 0 {
		b.TrainImageSize = 0
	}
	return b, nil
}
