package trainer

import "fmt"

// ConvertModel reads the checkpoint at in (either format, LoadModel) and
// writes it to out as safetensors (SaveModel). It returns the line that
// says what was converted: the architecture, its parameters and BatchNorm
// layers.
func ConvertModel(in, out string) (string, error) {
	m, err := LoadModel(in)
	if err != nil {
		return "", err
	}
	if err := SaveModel(out, *m); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: %s, %d parameters, %d BatchNorm layers; wrote %s", in, m.Net.Arch.Name, m.Net.NumParams(), len(m.Net.BNs), out), nil
}
