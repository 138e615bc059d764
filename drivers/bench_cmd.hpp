// `personakit bench`: reproducible benchmark suites, peers, comparisons (issue 7).
//
//   personakit bench run SUITE.json [--out DIR] [--quick] [--cache DIR] [--no-peers]
//   personakit bench compare A.json B.json [--json] [--floor F]
//   personakit bench roofline [--seconds S] [--json]
//
// The suite format, the result file and the verdict rule are documented in
// docs/benchmarks.md. Each run_* function is callable in-process (tests), writes
// its output to `out`, diagnostics to `err`, never throws, and returns the exit
// code (0 ok, 1 data/runtime error, 2 usage error).
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
}

// Registers the `bench` subcommand (run | compare | roofline) on the CLI app.
void add_bench_command(CLI::App& app);

namespace personakit::bench {

struct RunOptions {
  std::string suite;                       // SUITE.json
  std::string out_dir = "bench-results";   // one result JSON per run is written here
  std::string cache_dir;                   // generated data + initial centroids; empty: OUT/cache
  std::string peers_dir;                   // holds run_peer.py; empty: searched (see docs)
  std::string python = "/usr/bin/python3"; // interpreter for the peers
  bool quick = false;                      // the suite's "quick" scaling (rows, repetitions)
  bool no_peers = false;                   // skip every peer
  bool quiet = false;                      // no progress lines on err
  double roofline_seconds = 0.25;          // per probe (FMA peak, read bandwidth)
  std::string output_file;                 // out: the result file written
};
int run_bench(RunOptions& o, std::ostream& out, std::ostream& err);

struct CompareOptions {
  std::string a, b;        // baseline, candidate result files
  bool json = false;
  double floor = 0.02;     // relative difference always treated as noise
  bool fail_on_slower = false;  // exit 1 when some case is "slower"
};
int run_compare(const CompareOptions& o, std::ostream& out, std::ostream& err);

struct RooflineOptions {
  double seconds = 0.5;    // per probe
  bool json = false;
};
int run_roofline(const RooflineOptions& o, std::ostream& out, std::ostream& err);

// The noise-aware verdict of `bench compare` for one case (times in seconds).
// ratio = median_b / median_a. "no change" when |median_b - median_a| is within
// (max_a - min_a) + (max_b - min_b) or within floor * median_a; else "faster" / "slower".
struct Verdict {
  double ratio = 0;
  double threshold = 0;    // seconds
  std::string verdict;
};
Verdict compare_times(double med_a, double min_a, double max_a, double med_b, double min_b,
                      double max_b, double floor);

// Median / min / max of a sample (median of an even count: mean of the middle two).
struct Stats {
  double median = 0, min = 0, max = 0;
};
Stats stats_of(std::vector<double> v);

}  // namespace personakit::bench

// ---- internals shared by the drivers/bench_*.cpp files (exposed for the tests) ----
#include <nlohmann/json.hpp>

namespace personakit::bench {
using ojson = nlohmann::ordered_json;
// {"threads", "fma_gflops", "read_gbps", "source"}: this machine's measured limits.
ojson measure_roofline_json(int threads, double seconds_each);
// Times assign_nearest (fp32, norms precomputed) of x (n×d) against c (k×d) with
// `threads` threads: {"seconds","seconds_min","seconds_max","gflops","gbps",
// "arithmetic_intensity","bound","roofline_gflops","roofline_fraction"}.
ojson measure_assign_pass(const float* x, std::size_t n, std::size_t d, const float* c, std::size_t k,
                          int threads, const ojson& roofline);
// The suite's "checks" evaluated over the cases (speed-up targets, inertia agreement).
ojson evaluate_checks(const ojson& checks, const ojson& cases);
void print_checks(const ojson& checks, std::ostream& out);
void print_table(const ojson& doc, std::ostream& out);
// Applies the CLI's global --threads / --isa (run_cli applies them only after parsing,
// when subcommand callbacks have already run). False after printing a usage error.
bool apply_global_options(CLI::App& app);
}  // namespace personakit::bench
