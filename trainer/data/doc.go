// Package data provides the datasets that sampled networks are trained and
// evaluated on: loaders, splits, resizing, normalisation, augmentation and a
// batch filler.
//
// # Conventions
//
// A Dataset holds N images as float32 in NHWC layout (image, row, column,
// channel; channels innermost), the layout of all trainer activations, with
// pixel values in [0, 1] (byte/255). Labels are ints in [0, NumClasses).
// Normalisation is applied when batches are filled, after augmentation, so
// the stored images stay in [0, 1] and augmentations (solarize, posterize,
// equalize...) can assume that range. Batches carry soft targets: rows of K
// float32 (one-hot, label-smoothed and/or mixed), each summing to 1.
//
// Every random choice comes from a caller-supplied *rand.Rand (math/rand/v2)
// or from a seed, so runs are reproducible. NewRand(seed, stream) and
// EpochRand(seed, epoch) build the PCG generators used throughout.
//
// # Formats
//
//   - IDX (MNIST, Fashion-MNIST): magic 00 00 08 <ndims>, ndims big-endian
//     uint32 sizes, then unsigned bytes. Images are idx3 (count, rows, cols),
//     labels idx1 (count). Files may be gzipped; gzip is detected from the
//     magic bytes 1f 8b, not the name. Files per split: train-images-idx3-ubyte
//     and train-labels-idx1-ubyte (train), t10k-images-idx3-ubyte and
//     t10k-labels-idx1-ubyte (test), each optionally with ".gz".
//   - CIFAR-10 binary: 3073-byte records (label byte, then the 32x32 red,
//     green and blue planes, row-major); data_batch_1.bin ... data_batch_5.bin
//     form the train split, test_batch.bin the test split. The files may sit
//     in a cifar-10-batches-bin sub-folder; batches.meta.txt, if present,
//     names the classes.
//   - Image folder: one sub-folder per class (sorted names give the labels),
//     holding PNG and JPEG files, converted to 1 (luma) or 3 (RGB) channels
//     and resized to one size. As a named dataset "folder:PATH", PATH/train
//     and PATH/test are the splits when present, else PATH is the train split.
//   - Synthetic: seeded procedural gratings whose orientation encodes the
//     class (see Synthetic), for tests and smoke runs.
//
// # Named datasets and lookup
//
// Load(name, split, opts) knows "fashion-mnist", "mnist", "cifar10",
// "folder:PATH" and "synthetic"; Register adds more. Splits are "train" and
// "test". File-based datasets are looked up in the explicit directory
// Options.Dir (the program's --data flag) when it is given, and only there:
// a directory without the dataset is an error naming it, never replaced by
// another copy. Without it, they are looked up, in order, in:
//
//  1. the directory in the environment variable EFFNAS_DATA,
//  2. for Fashion-MNIST only, /usr/share/datasets/fashion-mnist (Debian's
//     dataset-fashion-mnist package).
//
// In Options.Dir and EFFNAS_DATA the sub-folder named after the dataset
// (DIR/fashion-mnist, DIR/mnist, DIR/cifar10) is tried before DIR itself.
// When nothing is found the error lists the places tried and says how to
// get the data (for Fashion-MNIST: apt-get install dataset-fashion-mnist,
// or point --data or EFFNAS_DATA at a folder with the IDX files). Nothing is
// ever downloaded.
//
// # Splits
//
// The search never looks at the test split. Dataset.ValidationSplit holds out
// a seeded, class-stratified validation set from the training split;
// Dataset.SampleSubset draws a seeded stratified training subset of size n;
// Sampler.Shuffle with EpochRand(seed, epoch) gives each epoch's batch order.
// Normalisation statistics come from the training indices
// (Dataset.ChannelNorm).
//
// # Sizes
//
// ResizeBilinear resizes with half-pixel centers like TensorFlow's
// ResizeBilinear(half_pixel_centers=True) without antialiasing. A Batcher
// resizes each sample on the fly, or, with BatchConfig.Precompute, uses
// Dataset.Resized, which caches one resized copy per size: progressive
// learning changes the image size per stage and revisits few sizes.
//
// # Batches
//
// Batcher.Fill(x, y, idx, rng) fills caller-owned buffers x (B, S, S, C) and
// y (B, K) without allocating: resize, random crop with padding and optional
// horizontal flip, RandAugment (N ops at magnitude M on the official 0..30
// scale), normalisation, targets with label smoothing, then mixup of the
// batch. Sampler yields index batches: training drops the last partial batch
// (dropLast), evaluation visits every sample and gets a short final batch,
// which Fill pads with zero rows into a full-size buffer while returning the
// real count.
package data
