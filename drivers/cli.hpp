// personakit CLI: one function per subcommand, callable in-process by the tests.
//
// Every run_* function validates its options, does the work, writes its
// human or JSON output to `out` and progress/errors to `err`, and returns the
// process exit code. It never throws and never exits:
//   0  success
//   1  data or runtime error (bad file, NaN in the data, k > distinct rows, I/O failure)
//   2  usage error (bad option value, missing required option, k < 1)
//   130 cancelled (SIGINT during a fit)
// An error is ONE line on `err`: "personakit: error: FILE: what is wrong".
#pragma once
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace personakit::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitData = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitCancelled = 130;

// An error in what the user asked for (exit code 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Options every subcommand shares (set by the global flags).
struct Common {
  bool json = false;   // one JSON object on stdout instead of the human summary
  bool quiet = false;  // no progress on stderr
  // Show progress only once an operation has run this long (seconds); tests set 0.
  double progress_after = 1.0;
};

struct GenerateOptions {
  Common common;
  std::size_t rows = 10000;
  std::size_t features = 16;
  std::size_t segments = 6;
  std::uint64_t seed = 42;
  std::string kind = "customers";  // customers | blobs
  double separation = 4.0;         // blobs: centre distance in units of the cluster spread
  std::string output;
};

struct FitOptions {
  Common common;
  std::string data;
  std::string dataset = "/features";
  long long k = 0;
  std::string output;
  std::string algorithm = "auto";
  std::string init = "kmeans++";  // kmeans++ | random | kmeans|| | FILE.h5
  int max_iter = 300;
  double tol = 1e-4;
  int n_init = 1;
  std::uint64_t seed = 0;
  std::string scale = "none";     // none | standard | robust
  std::string log1p;              // comma-separated column names or indices
  std::string weights;            // dataset in DATA holding n sample weights
  std::string memory_limit;       // "512M"; empty = unlimited
  std::size_t batch_size = 1024;
  int max_epochs = 100;
  std::uint64_t max_steps = 0;
  int max_no_improvement = 10;
  int refine = 0;
  std::size_t coreset = 0;
  bool stream = false;
};

struct PredictOptions {
  Common common;
  std::string data;
  std::string dataset;  // empty: the dataset the model was fitted on, else /features
  std::string model;
  std::string output;
  std::string memory_limit;
  bool stream = false;
};

struct InfoOptions {
  Common common;
  std::string file;
  std::string dataset;  // empty: /features, or /centroids for a model file
};

struct ScoreOptions {
  Common common;
  std::string data;
  std::string dataset = "/features";
  std::string labels;  // labels file (/labels)
  std::string model;   // or a model file (labels, centroids, transform)
  bool use_truth = false;
  std::string truth;   // empty with use_truth: /truth of DATA
  std::string metrics; // comma list; empty = all that apply
  std::size_t sample_size = 0;  // > 0: sampled silhouette of that many rows
  std::uint64_t seed = 0;
  bool skip_noise = false;      // labels < 0 excluded
  std::string memory_limit;     // "512M": stream the rows when they exceed it; empty = unlimited
  bool stream = false;          // stream the rows whatever their size
};

struct SweepOptions {
  Common common;
  std::string data;
  std::string dataset = "/features";
  std::string k_range = "2..10";  // "A..B" or "A..B:STEP" or "A,B,C"
  std::string algorithm = "auto";
  std::string silhouette = "sampled";  // exact | sampled | none
  std::size_t sample_size = 10000;
  int max_iter = 300;
  double tol = 1e-4;
  int n_init = 1;
  std::uint64_t seed = 0;
  std::string scale = "none";
  std::string log1p;
  std::string csv;
  std::string json_output;  // write the JSON report to this file too
};

int run_generate(const GenerateOptions& o, std::ostream& out, std::ostream& err);
int run_fit(const FitOptions& o, std::ostream& out, std::ostream& err);
int run_predict(const PredictOptions& o, std::ostream& out, std::ostream& err);
int run_info(const InfoOptions& o, std::ostream& out, std::ostream& err);
int run_score(const ScoreOptions& o, std::ostream& out, std::ostream& err);
int run_sweep(const SweepOptions& o, std::ostream& out, std::ostream& err);

// The whole command line: builds the CLI11 app, parses argv, applies the global
// options (--threads, --isa) and runs the chosen subcommand. Used by main() and by
// the tests (argv[0] is ignored).
int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);
// Same, with an extra hook to register more subcommands (e.g. `bench`) before parsing.
using ExtraCommands = void (*)(CLI::App& app);
int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
            ExtraCommands extra);

// ---- helpers shared by the subcommands (exposed for the tests) ----
// "512M", "2G", "1048576", "64KiB" -> bytes (binary multiples). Throws UsageError.
std::size_t parse_memory(const std::string& s);
// "2..20", "2..20:2", "3,5,8" -> ascending list of K. Throws UsageError.
std::vector<std::size_t> parse_k_range(const std::string& s);
// Elbow of an inertia curve (ks ascending, same length as inertia; >= 3 points, else
// returns 0): the K of the largest second difference (slope drop), and the kneedle K.
std::size_t elbow_second_difference(const std::vector<std::size_t>& ks, const std::vector<double>& inertia);
std::size_t elbow_kneedle(const std::vector<std::size_t>& ks, const std::vector<double>& inertia);
// Write `text` to `path` atomically (temporary name in the same directory, then rename).
// Throws personakit::Error naming the path on failure; never leaves the temporary behind.
void write_file_atomic(const std::string& path, const std::string& text);
// Fails early (UsageError-free, personakit::Error) when `path` cannot be created:
// its directory is missing or not writable, or the path is a directory.
void check_output_path(const std::string& path);

}  // namespace personakit::cli
