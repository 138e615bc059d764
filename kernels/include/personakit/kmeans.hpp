// k-means: Lloyd, the exact accelerated variants, mini-batch, and initialisation.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "personakit/source.hpp"

namespace personakit {

// screened: Lloyd whose assignment pass screens every (row, centroid) pair with a bf16
// dot product and a rigorous error bound, then settles the rows it cannot decide with
// the exact kernel: Lloyd's labels, distances and inertia, bit for bit (docs/accelerated.md,
// "Screened Lloyd"). It needs AVX512_BF16 to pay off; elsewhere it runs Lloyd's passes.
enum class Algorithm { automatic, lloyd, elkan, hamerly, yinyang, exponion, minibatch, screened };
enum class Init { random, kmeanspp, kmeans_parallel, given };

const char* algorithm_name(Algorithm a);            // "auto", "lloyd", ...
Algorithm parse_algorithm(const std::string& s);    // throws Error
const char* init_name(Init i);                      // "random", "kmeans++", "kmeans||", "file"
Init parse_init(const std::string& s);              // throws Error ("file" is not parsed here)

// What a long fit reports; returned false from the callback cancels the fit
// (fit then throws Error("cancelled")).
struct Progress {
  int run = 0;              // 0-based index of the n_init run
  int iteration = 0;        // 1-based
  double inertia = 0;       // after this iteration's assignment
  double shift = 0;         // relative centroid shift (scikit-learn's tol measure)
  double seconds = 0;       // since fit() started
  std::uint64_t rows_done = 0;  // mini-batch: rows seen so far
};
using ProgressFn = std::function<bool(const Progress&)>;

struct KMeansParams {
  std::size_t k = 8;
  Algorithm algorithm = Algorithm::lloyd;
  Init init = Init::kmeanspp;
  const float* init_centroids = nullptr;  // k×d row-major, required when init == given
  int max_iter = 300;
  // Converged when sum_j ||c_new_j - c_old_j||^2 <= tol * (mean per-feature
  // variance of x) * ... exactly scikit-learn's rule: tol * mean(var(x, axis=0)),
  // or when an iteration changes no label ("strict convergence"). tol = 0 stops
  // only at max_iter or on strict convergence.
  double tol = 1e-4;
  int n_init = 1;           // runs with seeds derived from seed; best inertia kept
  std::uint64_t seed = 0;
  const float* weights = nullptr;  // n sample weights (>= 0), or nullptr for 1
  std::size_t memory_limit = 0;    // bytes for the algorithm's own state; 0 = unlimited
  // k-means|| (Bahmani et al.)
  double oversampling = 2.0;       // l = oversampling * k
  int parallel_rounds = 5;
  // mini-batch (Sculley 2010)
  std::size_t batch_size = 1024;
  int max_epochs = 100;
  std::uint64_t max_steps = 0;     // 0 = no limit beyond max_epochs
  int max_no_improvement = 10;
  double reassignment_ratio = 0.01;
  int refine = 0;                  // exact Lloyd passes after mini-batch
  // Mini-batch over an importance-weighted sample (lightweight coreset, Bachem et al.
  // 2018) instead of Sculley steps: M rows drawn once, with probability
  // 1/2 w_i / sum w + 1/2 w_i D_i^2 / sum w D^2 (D_i: distance to the initial centroids,
  // computed on a seeded uniform pool of min(n, 8 M) rows) and weight (n/pool) w_i / (M q_i);
  // then exact weighted Lloyd steps on those rows (max_steps caps them, 0 = max_iter;
  // tol as Lloyd's), then `refine` passes and the exact inertia over all rows.
  // 0 = off (Sculley). docs/algorithms.md, "Coreset mode".
  std::size_t coreset = 0;
  // Mini-batch: rows of a seeded uniform sample the initialisation runs on
  // (0 = scikit-learn's default, 3 × batch_size, at least 3k; n when larger than n).
  std::size_t init_size = 0;
  ProgressFn progress;             // may be empty
  // false: the exact accelerated variants (elkan, hamerly, yinyang, exponion) report
  // Progress::inertia as NaN instead of computing the n exact distances per iteration it
  // costs them (Lloyd's is free: it comes with the assignment). The CLI sets it false
  // under --quiet, where the callback only polls for cancellation.
  bool progress_inertia = true;
  // Test hook: called after each iteration's assignment with the labels of
  // all n rows (in-memory fits only). Accelerated variants must report Lloyd's labels.
  std::function<void(int iteration, const std::int32_t* labels)> on_assignment;
};

struct KMeansResult {
  std::vector<float> centroids;        // k×d row-major
  std::vector<std::int32_t> labels;    // n (empty for streamed fits unless asked)
  std::vector<std::int64_t> sizes;     // k
  double inertia = 0;                  // sum of (weighted) canonical squared distances, fp64
  int iterations = 0;
  bool converged = false;
  double seconds = 0;
  double init_seconds = 0;
  std::uint64_t distance_evaluations = 0;  // point–centroid distances computed (init included)
  std::uint64_t lloyd_equivalent = 0;      // n*k per iteration run (what Lloyd would compute)
  // screened: bf16 approximate distances of its screens (not in distance_evaluations,
  // which counts exact canonical distances only); 0 for every other algorithm.
  std::uint64_t screen_evaluations = 0;
  int best_run = 0;                        // which n_init run was kept
  std::uint64_t best_seed = 0;             // the seed of that run
  Algorithm algorithm = Algorithm::lloyd;  // the one actually run (auto resolved)
  std::size_t state_bytes = 0;             // memory used by the algorithm's bounds/state
};

// In-memory fit. x: n×d row-major fp32. Throws Error on bad parameters
// (k < 1, k > n, NaN in data, init_centroids missing, memory limit too small, ...).
// Results are bit-identical for any number of OpenMP threads.
KMeansResult fit(const float* x, std::size_t n, std::size_t d, const KMeansParams& p);
// Streamed fit: reads the source once per iteration (Lloyd; others where their
// state fits memory_limit). Same result as the in-memory fit, bit for bit.
KMeansResult fit(RowSource& src, const KMeansParams& p);

// Initial centroids only (k×d). distance_evaluations is added to *evals if given.
std::vector<float> init_centroids(const float* x, std::size_t n, std::size_t d, std::size_t k,
                                  Init method, std::uint64_t seed, const float* weights = nullptr,
                                  std::uint64_t* evals = nullptr);

// Bytes of state an algorithm needs for n rows, k centroids, d features (for --memory-limit).
std::size_t algorithm_state_bytes(Algorithm a, std::size_t n, std::size_t k, std::size_t d);
// The algorithm `auto` picks for this shape.
Algorithm choose_algorithm(std::size_t n, std::size_t k, std::size_t d);

}  // namespace personakit
