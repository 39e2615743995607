package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/effnas/effnas/searchspace"
)

// loadArch resolves the ARCH argument every command takes: a built-in name
// or a JSON file (an architecture document, or any document with an "arch"
// field holding one, such as an exported trial).
func loadArch(ref string) (searchspace.Arch, error) {
	if ref == "" {
		return searchspace.Arch{}, usagef("missing ARCH: a built-in name (%s) or a JSON file", strings.Join(searchspace.ReferenceNames(), ", "))
	}
	if _, err := os.Stat(ref); err != nil {
		if strings.HasSuffix(ref, ".json") || strings.ContainsRune(ref, os.PathSeparator) {
			return searchspace.Arch{}, fmt.Errorf("%s: %w", ref, errors.Unwrap(err))
		}
		return searchspace.Reference(ref)
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		return searchspace.Arch{}, err
	}
	var envelope struct {
		Arch json.RawMessage `json:"arch"`
	}
	if json.Unmarshal(data, &envelope) == nil && len(envelope.Arch) > 0 {
		data = envelope.Arch
	}
	a, err := searchspace.DecodeArch(data)
	if err != nil {
		return searchspace.Arch{}, fmt.Errorf("%s: %w", ref, err)
	}
	return a, nil
}

// loadSpace reads a space file, or returns the default space when path is "".
func loadSpace(path string) (searchspace.Space, error) {
	if path == "" {
		return searchspace.DefaultSpace(), nil
	}
	return searchspace.LoadSpace(path)
}

// writeJSON prints v as indented JSON.
func writeJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

// writeOutput writes data to path, or to standard output when path is "" or "-".
func writeOutput(path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := stdout.Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
