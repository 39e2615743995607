package searchspace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// Format names and versions of the JSON documents this package writes.
const (
	ArchFormat   = "effnas/arch"
	ArchVersion  = 1
	SpaceFormat  = "effnas/space"
	SpaceVersion = 1
)

// ErrFormat marks a document that is not of the expected format or version.
var ErrFormat = errors.New("unsupported document")

// archJSON is the versioned JSON form of an Arch. It carries both the
// official block strings (for people and other tools) and the stages as
// objects; on reading, either may be given, and when both are they must agree.
type archJSON struct {
	Format         string   `json:"format"`
	Version        int      `json:"version"`
	Name           string   `json:"name,omitempty"`
	InputChannels  int      `json:"input_channels"`
	ImageSize      int      `json:"image_size"`
	TrainImageSize int      `json:"train_image_size,omitempty"`
	NumClasses     int      `json:"num_classes"`
	Stem           Stem     `json:"stem"`
	Blocks         []string `json:"blocks,omitempty"`
	Stages         []Stage  `json:"stages,omitempty"`
	HeadChannels   int      `json:"head_channels"`
	Dropout        float64  `json:"dropout"`
	SurvivalProb   float64  `json:"survival_prob"`
}

// MarshalJSON writes the versioned form.
func (a Arch) MarshalJSON() ([]byte, error) {
	return json.Marshal(archJSON{
		Format: ArchFormat, Version: ArchVersion, Name: a.Name, InputChannels: a.InputChannels,
		ImageSize: a.ImageSize, TrainImageSize: a.TrainImageSize, NumClasses: a.NumClasses, Stem: a.Stem,
		Blocks: a.BlockStrings(), Stages: a.Stages, HeadChannels: a.HeadChannels, Dropout: a.Dropout,
		SurvivalProb: a.SurvivalProb,
	})
}

// UnmarshalJSON reads the versioned form strictly: unknown fields, a wrong
// format or a newer version are errors. It does not validate; DecodeArch does.
func (a *Arch) UnmarshalJSON(data []byte) error {
	var j archJSON
	if err := strictUnmarshal(data, &j); err != nil {
		return err
	}
	if j.Format != ArchFormat {
		return fmt.Errorf("%w: format = %q, want %q", ErrFormat, j.Format, ArchFormat)
	}
	if j.Version < 1 || j.Version > ArchVersion {
		return fmt.Errorf("%w: version = %d, this program reads versions 1 to %d", ErrFormat, j.Version, ArchVersion)
	}
	stages := j.Stages
	if len(j.Blocks) > 0 {
		fromBlocks, err := ParseBlockStrings(j.Blocks)
		if err != nil {
			return err
		}
		if len(stages) == 0 {
			stages = fromBlocks
		} else if !slices.Equal(stages, fromBlocks) {
			for i := range max(len(stages), len(fromBlocks)) {
				if i >= len(stages) || i >= len(fromBlocks) || stages[i] != fromBlocks[i] {
					return fmt.Errorf("stage %d: %w: \"blocks\" and \"stages\" disagree", i+1, ErrInvalid)
				}
			}
		}
	}
	*a = Arch{
		Name: j.Name, InputChannels: j.InputChannels, ImageSize: j.ImageSize, TrainImageSize: j.TrainImageSize,
		NumClasses: j.NumClasses, Stem: j.Stem, Stages: stages, HeadChannels: j.HeadChannels,
		Dropout: j.Dropout, SurvivalProb: j.SurvivalProb,
	}
	return nil
}

// strictUnmarshal decodes one JSON value, rejecting unknown fields and
// trailing data, and turns encoding/json's errors into ones that say where.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("invalid JSON: unexpected data after the document")
	}
	return nil
}

func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("invalid JSON: truncated document (%d bytes)", len(data))
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return fmt.Errorf("invalid JSON: field %q: got %s, want %s", typ.Field, typ.Value, typ.Type)
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

// DecodeArch reads and validates an architecture document.
func DecodeArch(data []byte) (Arch, error) {
	var a Arch
	if err := a.UnmarshalJSON(data); err != nil {
		return Arch{}, err
	}
	return a, a.Validate()
}

// LoadArch reads an architecture file; errors start with the file name.
func LoadArch(path string) (Arch, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Arch{}, err
	}
	a, err := DecodeArch(data)
	if err != nil {
		return Arch{}, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// EncodeArch writes an architecture as indented JSON with a final newline.
func EncodeArch(a Arch) ([]byte, error) {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
