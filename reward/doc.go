// Package reward scores sampled architectures for the training-aware search
// and compares them as multi-objective points (Pareto fronts, hypervolume).
//
// # Reward
//
// EfficientNetV2 (Tan & Le 2021, §3.3) searches with the reward
//
//	R = A · S^w · P^v,   w = -0.07, v = -0.05
//
// where A is the model accuracy, S the normalised training step time and P the
// parameter size. This package normalises both costs by reference values:
//
//	R = A · (S/S0)^w · (P/P0)^v
//
// where S0 and P0 are the step time and the trainable-parameter count of the
// search's backbone, with S and S0 measured on the same host and in the same
// unit (seconds or milliseconds). Within one search the references only scale
// every reward by the same constant, so the ranking is that of the paper; they
// keep R on the accuracy scale (the backbone itself scores exactly A).
//
// MnasNet (Tan et al. 2019, Eq. 2-3) maximises
//
//	ACC(m) · [LAT(m)/T]^w,   w = α if LAT(m) <= T, else β
//
// with a target T. α = β = -0.07 is the soft constraint: by the paper's rule
// that doubling latency should be worth +5% relative accuracy,
// β = ln(1/1.05)/ln 2 ≈ -0.07. α = 0, β = -1 is the hard constraint: no
// change under the target and a sharp penalty T/LAT above it. Here the
// MnasNet kinds apply the same exponents to the training step time and to the
// parameter count, each against its own target.
//
// All three are presets of one formula over the objectives i ∈ {step time,
// params}:
//
//	R = A · Π_i (x_i/T_i)^e_i,   e_i = α_i if x_i <= T_i, else β_i
//
// A [Settings] value holds, per objective, a [Term]: the reference or target
// T_i and the two exponents α_i (at or below the target) and β_i (above it).
// EfficientNetV2 is α = β = w for step time and α = β = v for params, so its
// reference plays no thresholding role. Settings are JSON-serialisable so that
// search records can store exactly how each reward was computed; use
// [Settings.Resolve] (or the presets [EfficientNetV2], [MnasNetSoft],
// [MnasNetHard], which return resolved settings) to store every exponent
// explicitly; [DecodeSettings] reads them back.
//
// [Settings.Score] takes the measurement an evaluator returned
// ([measure.Metrics]) as it is: A is its validation accuracy, S its median
// training step time and P its trainable parameters ([CheckMetrics] says
// what it refuses).
//
// # Step time relative to the baseline
//
// A search measures each trial's step time against its baseline, the two
// networks timed in alternating bursts (measure.Metrics.RelativeStepTime),
// because a step time measured alone is only as good as the machine was
// quiet at that moment. When a measurement has a relative step time, S/S0
// is that relative time: the absolute times, which follow the load of the
// machine, do not enter the reward, and the baseline's own relative time is
// 1. S0, the baseline's absolute step time, stays in Time.Ref for display
// and for measurements without a relative time. A target T that is not the
// baseline's time (MnasNet) compares S = relative time · Time.Base with T,
// Time.Base being the baseline's absolute step time.
//
// # Pareto fronts and hypervolume
//
// A [Point] is an ID and an objective vector; a [Directions] value gives the
// direction (Maximize or Minimize) of each objective and provides dominance
// ([Directions.Dominates]), the non-dominated front ([Directions.NonDominated]),
// NSGA-II style non-dominated sorting ([Directions.NonDominatedSort],
// [Directions.Ranks]), a 2-D
// front sorted for plotting ([Directions.Front2D]) and the exact hypervolume
// for 1, 2 and 3 objectives ([Directions.Hypervolume]). [SearchDirections]
// gives the search's own objectives (accuracy: maximise, step time and params:
// minimise) in the order of [SearchPoint].
package reward
