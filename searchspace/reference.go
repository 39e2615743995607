package searchspace

import (
	"fmt"
	"sort"
	"strings"
)

// referenceDef is one row of the reference table, in the shape of the
// official configs (effnetv2_configs.py): block strings plus global params.
type referenceDef struct {
	blocks      []string
	stemStride  int
	head        int
	train, eval int
	dropout     float64
	survival    float64
	channels    int
	classes     int
	description string
}

// The block strings and global parameters are those of google/automl's
// efficientnetv2/effnetv2_configs.py and hparams.py (see the README's
// sources). The two bench networks are the project's CPU performance anchor.
var references = map[string]referenceDef{
	"efficientnetv2-b0": {
		blocks: []string{"r1_k3_s1_e1_i32_o16_c1", "r2_k3_s2_e4_i16_o32_c1", "r2_k3_s2_e4_i32_o48_c1",
			"r3_k3_s2_e4_i48_o96_se0.25", "r5_k3_s1_e6_i96_o112_se0.25", "r8_k3_s2_e6_i112_o192_se0.25"},
		stemStride: 2, head: 1280, train: 192, eval: 224, dropout: 0.2, survival: 0.8, channels: 3, classes: 1000,
		description: "EfficientNetV2-B0, the backbone of the default search space (78.7% ImageNet top-1)",
	},
	"efficientnetv2-s": {
		blocks: []string{"r2_k3_s1_e1_i24_o24_c1", "r4_k3_s2_e4_i24_o48_c1", "r4_k3_s2_e4_i48_o64_c1",
			"r6_k3_s2_e4_i64_o128_se0.25", "r9_k3_s1_e6_i128_o160_se0.25", "r15_k3_s2_e6_i160_o256_se0.25"},
		stemStride: 2, head: 1280, train: 300, eval: 384, dropout: 0.2, survival: 0.8, channels: 3, classes: 1000,
		description: "EfficientNetV2-S (83.9% ImageNet top-1)",
	},
	"efficientnetv2-m": {
		blocks: []string{"r3_k3_s1_e1_i24_o24_c1", "r5_k3_s2_e4_i24_o48_c1", "r5_k3_s2_e4_i48_o80_c1",
			"r7_k3_s2_e4_i80_o160_se0.25", "r14_k3_s1_e6_i160_o176_se0.25", "r18_k3_s2_e6_i176_o304_se0.25",
			"r5_k3_s1_e6_i304_o512_se0.25"},
		stemStride: 2, head: 1280, train: 384, eval: 480, dropout: 0.3, survival: 0.8, channels: 3, classes: 1000,
		description: "EfficientNetV2-M (85.2% ImageNet top-1)",
	},
	"efficientnetv2-l": {
		blocks: []string{"r4_k3_s1_e1_i32_o32_c1", "r7_k3_s2_e4_i32_o64_c1", "r7_k3_s2_e4_i64_o96_c1",
			"r10_k3_s2_e4_i96_o192_se0.25", "r19_k3_s1_e6_i192_o224_se0.25", "r25_k3_s2_e6_i224_o384_se0.25",
			"r7_k3_s1_e6_i384_o640_se0.25"},
		stemStride: 2, head: 1280, train: 384, eval: 480, dropout: 0.4, survival: 0.8, channels: 3, classes: 1000,
		description: "EfficientNetV2-L (85.7% ImageNet top-1)",
	},
	"efficientnetv2-xl": {
		blocks: []string{"r4_k3_s1_e1_i32_o32_c1", "r8_k3_s2_e4_i32_o64_c1", "r8_k3_s2_e4_i64_o96_c1",
			"r16_k3_s2_e4_i96_o192_se0.25", "r24_k3_s1_e6_i192_o256_se0.25", "r32_k3_s2_e6_i256_o512_se0.25",
			"r8_k3_s1_e6_i512_o640_se0.25"},
		stemStride: 2, head: 1280, train: 384, eval: 512, dropout: 0.4, survival: 0.8, channels: 3, classes: 1000,
		description: "EfficientNetV2-XL (ImageNet-21k pretraining only)",
	},
	"efficientnet-b0": {
		blocks: []string{"r1_k3_s1_e1_i32_o16_se0.25", "r2_k3_s2_e6_i16_o24_se0.25", "r2_k5_s2_e6_i24_o40_se0.25",
			"r3_k3_s2_e6_i40_o80_se0.25", "r3_k5_s1_e6_i80_o112_se0.25", "r4_k5_s2_e6_i112_o192_se0.25",
			"r1_k3_s1_e6_i192_o320_se0.25"},
		stemStride: 2, head: 1280, train: 224, eval: 224, dropout: 0.2, survival: 0.8, channels: 3, classes: 1000,
		description: "EfficientNet-B0 (V1, all MBConv)",
	},
	"bench-dw": {
		blocks: []string{"r1_k3_s1_e1_i16_o16_c1", "r2_k3_s2_e4_i16_o32_c1",
			"r2_k3_s2_e4_i32_o48_se0.25", "r2_k3_s1_e6_i48_o64_se0.25"},
		stemStride: 1, head: 256, train: 28, eval: 28, dropout: 0.2, survival: 1, channels: 1, classes: 10,
		description: "the small CPU performance anchor network (Fashion-MNIST sized)",
	},
	"bench-fused": {
		blocks: []string{"r1_k3_s1_e1_i16_o16_c1", "r2_k3_s2_e4_i16_o32_c1",
			"r2_k3_s2_e4_i32_o48_se0.25_c1", "r2_k3_s1_e6_i48_o64_se0.25_c1"},
		stemStride: 1, head: 256, train: 28, eval: 28, dropout: 0.2, survival: 1, channels: 1, classes: 10,
		description: "bench-dw with its MBConv stages fused",
	},
}

// ReferenceNames lists the built-in architectures, sorted.
func ReferenceNames() []string {
	names := make([]string, 0, len(references))
	for n := range references {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ReferenceDescription is a one-line description of a built-in architecture.
func ReferenceDescription(name string) string { return references[strings.ToLower(name)].description }

// Reference returns a built-in architecture by name.
func Reference(name string) (Arch, error) {
	def, ok := references[strings.ToLower(name)]
	if !ok {
		return Arch{}, fmt.Errorf("unknown architecture %q (built in: %s)", name, strings.Join(ReferenceNames(), ", "))
	}
	stages, err := ParseBlockStrings(def.blocks)
	if err != nil {
		return Arch{}, err
	}
	a := Arch{
		Name: strings.ToLower(name), InputChannels: def.channels, ImageSize: def.eval, TrainImageSize: def.train,
		NumClasses: def.classes, Stem: Stem{Channels: stages[0].In, Kernel: 3, Stride: def.stemStride},
		Stages: stages, HeadChannels: def.head, Dropout: def.dropout, SurvivalProb: def.survival,
	}
	if a.TrainImageSize == a.ImageSize {
		a.TrainImageSize = 0
	}
	return a, a.Validate()
}
