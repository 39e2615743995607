// Package scaling turns an architecture into a scaled one: pure functions
// from a searchspace.Arch (and a few coefficients) to another Arch, with no
// training, storage or randomness.
//
// # Rounding (EfficientNetV2 code, google/automl efficientnetv2/effnetv2_model.py)
//
// RoundFilters is the official round_filters: with width 0 the filters are
// unchanged; otherwise f = filters*width and the result is
// max(minDepth or divisor, int(f + divisor/2) / divisor * divisor), divisor
// and min_depth 8 (hparams.py). The V2 code has no "do not round down by
// more than 10%" guard; EfficientNet V1 (tensorflow/tpu efficientnet) and
// MnasNet add divisor when the result is below 0.9*f. RoundFiltersGuarded is
// that variant and Options.Rounding selects it.
//
// RoundRepeats is the official round_repeats: ceil(depth*repeats), depth 0
// meaning unchanged. Both functions reproduce the official float64
// arithmetic bit for bit (so RoundRepeats(25, 2.2) is 56, as in Python, where
// 2.2*25 = 55.00000000000001).
//
// # Scaling one network (Scale)
//
// As in the official model builder, every stage's input and output filters
// are rounded with RoundFilters, the stem gets round_filters of the first
// stage's input filters, the head gets round_filters of the head width
// (1280 -> 1408 at width 1.1, 1536 at width 1.2), and the repeats
// RoundRepeats. Channels stay chained because the same function rounds a
// stage's output and the next stage's input. Zero options mean "unchanged".
// Scaling efficientnetv2-b0 with the official B1/B2/B3 coefficients
// (effnetv2_configs.py) gives exactly the official B1/B2/B3, whose
// count_params() (effnetv2_model_test.py) the tests pin; Official returns
// those family members by name.
//
// # Non-uniform depth (EfficientNetV2 §3.3, "adding more layers to later stages")
//
// With Options.LateStages (depth > 1) the number of extra blocks is the
// uniform rule's, E = sum(ceil(depth*r_i)) - sum(r_i), so the network has the
// same total number of blocks; the E blocks are apportioned to the stages in
// proportion to w_i = i*r_i (i the 1-based stage index, r_i the base
// repeats) by the largest-remainder method in exact integer arithmetic, ties
// going to the later stage. The uniform rule gives stages extra in
// proportion to r_i; the i factor tilts it linearly towards the later
// stages. Every stage keeps at least its base repeats. For depth <= 1 the
// uniform rule is used.
//
// # Compound scaling (EfficientNet V1 §3.3) and the V2 changes
//
// For a compound coefficient phi, depth = alpha^phi, width = beta^phi and the
// evaluation image size is base*gamma^phi rounded to the nearest multiple of
// 4 (ImageMultiple; every official EfficientNet/V2 evaluation size, 224, 240,
// 260, 300, 380, 456, 528, 600, 384, 480, 512, is a multiple of 4). The V1
// defaults are alpha 1.2, beta 1.1, gamma 1.15, chosen so that
// alpha*beta^2*gamma^2 ~ 2 (FLOPs about double per phi); their product is
// 1.92027, and Family rejects triples farther than Tolerance (default 0.1)
// from 2.
//
// EfficientNetV2 changes two things (§3.3): the evaluation image size is
// capped (480 on ImageNet, ImageNetMaxImageSize; ProposeMaxImageSize offers
// twice the native size for small data sets), and extra layers go
// preferentially to later stages (FamilyOptions.LateStages, the rule above).
// The training image size of a member is TrainRatio (default 0.8) times its
// evaluation size, rounded to the nearest multiple of 8 (TrainMultiple): the
// V2 configs train about 20% smaller, and this rule gives exactly the
// official 240->192, 260->208, 300->240 and 480->384 (the V1 configs in
// effnetv2_configs.py also say train isize 0.8, "80% of eval size").
// Member phi = 0 keeps the base's own sizes unless the cap applies.
//
// # Grid search (EfficientNet V1 §3.3 step 1)
//
// Candidates enumerates alpha, beta, gamma >= 1 on a grid of step 0.05 with
// |alpha*beta^2*gamma^2 - 2| within a tolerance; GridSearch hands each
// triple to a caller-supplied evaluation (the trainer) and keeps the best
// score, so the package itself stays pure.
//
// # Policies
//
// ScaleToSize is Scale with the training-size rule of a new evaluation
// size (the official 0.8 ratio, or the evaluation size for an architecture
// that trains at it); FamilyDefaultsFor gives a family's image cap and
// training ratio from its base (ImageNet's 480 and 0.8, or twice the native
// size and 1 for a base fitted to small images).
//
// Option errors are *fielderr.Error values (wrapping ErrBadOption) that
// name the field, the value and the allowed range.
package scaling
