// Package searchspace holds architectures and search spaces as data.
//
// An Arch is a stage-based MnasNet/EfficientNet network: a stem convolution,
// an ordered list of stages (each one block type repeated), a 1x1 head
// convolution, global average pooling, dropout and a dense classifier. It
// round-trips losslessly through the official automl block strings
// ("r2_k3_s1_e1_i24_o24_c1") and through a versioned JSON form, validates
// itself with errors that name the stage, the field, the value and what is
// allowed, and counts its parameters and multiply-adds exactly as the
// official code does.
//
// A Space is a backbone plus per-stage choices (block type, kernel, expansion
// ratio, repeats and optionally the squeeze-excite ratio). It turns a list of
// decisions (one option index per choice) into an Arch and back, samples
// uniformly and mutates one decision, always from a caller-supplied
// *rand.Rand so that every run is reproducible.
//
// Load resolves the architecture references the commands take (a built-in
// name, a JSON file, an exported trial), and Arch.FitTo adapts an
// architecture to a dataset's input (channels, classes, size; stem stride 1
// for images up to SmallImageMax pixels).
//
// The package knows nothing of training or storage.
package searchspace
