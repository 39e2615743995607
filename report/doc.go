// Package report turns search records into things to look at and take away:
// Pareto plots of validation accuracy against training step time and
// parameters, search-progress plots (reward, best so far, hypervolume),
// family plots of a scaled model family against reference models, exports
// of trials as architecture files, the trials as CSV ([WriteTrialsCSV]), and
// a report folder (README.md with the setup and tables, the plots,
// best.json) ready to commit under results/.
//
// It reads store records only ([store.Search], [store.Trial], and
// [store.SearchTrials] for several searches at once), with their
// measurements in package measure's types, and knows nothing of how they
// were produced. Plots are drawn with gonum/plot; the
// output format (PNG or SVG) follows the file extension. Every plot's data
// is computed first ([Pareto], [Progress]) and exposed, and the figure draws
// exactly that data.
//
// Units: accuracy is shown in percent, step time in milliseconds, parameters
// in millions; records and exports keep the stored units (0-1, seconds,
// counts).
package report
