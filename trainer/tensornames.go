package trainer

import (
	"fmt"
	"strconv"
	"strings"
)

// TensorNames returns the external names of the network's parameters (in
// Net.Params order) and BatchNorm layers (in Net.BNs order; add
// ".running_mean" and ".running_var"), the names of checkpoints and parity
// dumps.
//
// Files that leave the trainer (safetensors checkpoints, `nas dump`) name
// every tensor after the module that holds it in the PyTorch model of
// bench/effnas_torch.py, so a file's names are that model's state_dict
// keys. Blocks are numbered 0, 1, ... over the whole network (after
// repeats); a block holds some of the units expand, dw, se, project (MBConv
// and Fused-MBConv with expansion) or se, fused (Fused-MBConv with
// expansion 1). Values keep the trainer's layouts; the PyTorch loader
// transposes them:
//
//	name                               shape (ours)      PyTorch
//	stem.conv.weight                   (k, k, cin, c)    Conv2d (c, cin, k, k)
//	stem.bn.weight / .bias             (c)               BatchNorm2d gamma / beta
//	stem.bn.running_mean / .running_var (c), float64     BatchNorm2d buffers
//	blocks.N.expand.conv.weight        (k, k, in, mid)   1x1 (MBConv) or kxk (Fused), stride s (Fused)
//	blocks.N.expand.bn.*               (mid)
//	blocks.N.dw.conv.weight            (k, k, mid)       depthwise Conv2d (mid, 1, k, k)
//	blocks.N.dw.bn.*                   (mid)
//	blocks.N.se.reduce.weight / .bias  (mid, s) / (s)    Linear (s, mid)
//	blocks.N.se.expand.weight / .bias  (s, mid) / (mid)  Linear (mid, s)
//	blocks.N.project.conv.weight       (1, 1, mid, out)  Conv2d (out, mid, 1, 1)
//	blocks.N.project.bn.*              (out)
//	blocks.N.fused.conv.weight         (k, k, in, out)   Fused-MBConv with expansion 1
//	blocks.N.fused.bn.*                (out)
//	head.conv.weight                   (1, 1, last, h)
//	head.bn.*                          (h)
//	head.dense.weight / .bias          (h, classes) / (classes)  Linear (classes, h)
//
// where ".bn.*" is weight, bias, running_mean and running_var. Optimizer
// state is "opt.<parameter name>.<slot>": RMSProp ms (mean square) and mom
// (momentum), Adam m and v, SGD mom. The names are part of the file format:
// changing one breaks every saved checkpoint.
func (n *Net) TensorNames() (params, bns []string, err error) {
	blocks := map[string]int{}
	for i, b := range n.Arch.Blocks() {
		blocks[blockPrefix(b)] = i
	}
	for _, p := range n.Params {
		e, err := externalName(p.Name, blocks)
		if err != nil {
			return nil, nil, err
		}
		params = append(params, e)
	}
	for _, b := range n.BNNames {
		e, err := externalName(b, blocks)
		if err != nil {
			return nil, nil, err
		}
		bns = append(bns, e)
	}
	return params, bns, nil
}

// externalName maps a builder name ("s2.b1.expand.bn.gamma") to its
// external name ("blocks.3.expand.bn.weight").
func externalName(name string, blocks map[string]int) (string, error) {
	parts := strings.Split(name, ".")
	var out []string
	block := -1
	if len(parts) >= 3 {
		if i, ok := blocks[parts[0]+"."+parts[1]]; ok {
			block = i
		}
	}
	switch {
	case block >= 0:
		out = append(out, "blocks", strconv.Itoa(block))
		unit := parts[2]
		if unit == "conv" {
			unit = "fused"
		}
		out = append(out, unit)
		rest := parts[3:]
		if len(rest) == 1 && rest[0] == "w" && unit != "se" {
			rest = []string{"conv", "w"} // expand.w -> expand.conv.weight
		}
		out = append(out, rest...)
	case parts[0] == "classifier":
		out = append([]string{"head", "dense"}, parts[1:]...)
	case parts[0] == "stem" || parts[0] == "head":
		out = parts
	default:
		return "", fmt.Errorf("trainer: no external name for %q", name)
	}
	switch last := &out[len(out)-1]; *last {
	case "w", "gamma":
		*last = "weight"
	case "b", "beta":
		*last = "bias"
	}
	return strings.Join(out, "."), nil
}
