package searchspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Load resolves an architecture reference as the commands take it: a
// built-in name (ReferenceNames) or a JSON file holding an architecture
// document, or any document with an "arch" field holding one (an exported
// trial, a family member). A path that does not exist is an error when it
// looks like a file (ends in .json or has a directory), else a name.
func Load(ref string) (Arch, error) {
	if ref == "" {
		return Arch{}, fmt.Errorf("missing architecture: a built-in name (%s) or a JSON file", strings.Join(ReferenceNames(), ", "))
	}
	if _, err := os.Stat(ref); err != nil {
		if strings.HasSuffix(ref, ".json") || strings.ContainsRune(ref, os.PathSeparator) {
			return Arch{}, fmt.Errorf("%s: %w", ref, errors.Unwrap(err))
		}
		return Reference(ref)
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		return Arch{}, err
	}
	var envelope struct {
		Arch json.RawMessage `json:"arch"`
	}
	if json.Unmarshal(data, &envelope) == nil && len(envelope.Arch) > 0 {
		data = envelope.Arch
	}
	a, err := DecodeArch(data)
	if err != nil {
		return Arch{}, fmt.Errorf("%s: %w", ref, err)
	}
	return a, nil
}
