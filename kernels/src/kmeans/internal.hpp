// Internal contract between the k-means front end (fit.cpp, lloyd.cpp, init.cpp,
// minibatch.cpp) and the exact accelerated variants (elkan.cpp, hamerly.cpp,
// yinyang.cpp, exponion.cpp). Not installed.
#pragma once
#include <sys/mman.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "personakit/assign.hpp"
#include "personakit/kmeans.hpp"

namespace personakit::detail {

// v.assign(count, value) for a large per-row array, first asking the kernel for
// transparent huge pages on its untouched allocation (THP "madvise" mode): the fill
// then takes one page fault per 2 MiB instead of one per 4 KiB. In this project's VM a
// 4 KiB fault costs ~10 us: 40 MB of labels took 0.11 s to fill, one pass's worth.
template <class T>
void assign_huge(std::vector<T>& v, std::size_t count, const T& value) {
  constexpr std::size_t kHuge = std::size_t(2) << 20;
  if (count * sizeof(T) >= kHuge && v.capacity() < count) {
    v.clear();
    v.shrink_to_fit();
    // One huge page of slack: the 2 MiB-aligned stretch then ends past the data, so
    // only the part before the first 2 MiB boundary stays on 4 KiB pages.
    const std::size_t slack = kHuge / sizeof(T);
    v.reserve(count + slack);  // allocated (mmap) but not yet touched
#ifdef MADV_HUGEPAGE
    const auto b = reinterpret_cast<std::uintptr_t>(v.data());
    const std::uintptr_t lo = (b + kHuge - 1) & ~(kHuge - 1);
    const std::uintptr_t hi = (b + (count + slack) * sizeof(T)) & ~(kHuge - 1);
    if (hi > lo) (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);  // a hint only
#endif
  }
  v.assign(count, value);
}

// Rows per update chunk. Fixed (never derived from the thread count) so that the
// fp64 partial sums, added in chunk order, are bit-identical for any thread count.
inline constexpr std::size_t kChunkRows = 4096;

// One in-memory run from given initial centroids.
struct RunInput {
  const float* x = nullptr;       // n×d row-major
  std::size_t n = 0, d = 0;
  const float* xnorm = nullptr;   // n canonical norms (row_norms), precomputed once per fit
  const float* weights = nullptr; // n or nullptr
  const KMeansParams* params = nullptr;
  double tol_abs = 0;             // tol * mean per-feature variance (scikit-learn's rule)
  int run = 0;                    // n_init run index (for progress)
  std::chrono::steady_clock::time_point t0;  // fit start (for progress seconds)
  // Added by the front end: mean per-feature variance of x (tol_abs = tol * this).
  // Progress::shift reports shift / variance_mean when it is > 0, the raw shift otherwise.
  double variance_mean = 0;
};

struct RunOutput {
  std::vector<float> centroids;   // k×d
  std::vector<std::int32_t> labels;
  double inertia = 0;
  int iterations = 0;
  bool converged = false;
  std::uint64_t distance_evaluations = 0;
  std::size_t state_bytes = 0;
  std::vector<std::int64_t> sizes; // k rows per cluster (optional: fit counts labels when empty)
  std::uint64_t lloyd_equivalent = 0;  // optional: 0 means n*k*iterations (mini-batch sets it)
  std::uint64_t screen_evaluations = 0;  // screened Lloyd: bf16 screen evaluations
};

// The Lloyd update step shared by every exact algorithm, so that all of them
// produce the same centroids from the same labels:
//   new_c[l] = (sum of w_i x_i over label l) / (sum of w_i), fp64 per-chunk partials
//   (kChunkRows), added in chunk order, rounded once to fp32.
// Empty clusters (weight 0) are re-seeded with the rows farthest from their
// current centroid (distance given by `dist`, descending, ties by lowest row index),
// one distinct row per empty cluster; those rows' labels and dist are updated.
// Returns the indices of the clusters that were re-seeded.
// Also writes sizes (counts, int64) and returns the squared shift sum via *shift.
std::vector<std::size_t> update_centroids(const float* x, std::size_t n, std::size_t d,
                                          const float* weights, std::int32_t* labels, float* dist,
                                          std::size_t k, const std::vector<float>& old_c,
                                          std::vector<float>& new_c, std::vector<std::int64_t>& sizes,
                                          double* shift);
// The same step with a workspace (totals + chunk partials, chunked.hpp) kept across
// iterations, so no per-call allocation or page faulting of the fp64 partials. The
// workspace must have been made for this k and d; results are the same bits.
class UpdateWorkspace;
std::vector<std::size_t> update_centroids(UpdateWorkspace& ws, const float* x, std::size_t n, std::size_t d,
                                          const float* weights, std::int32_t* labels, float* dist,
                                          std::size_t k, const std::vector<float>& old_c,
                                          std::vector<float>& new_c, std::vector<std::int64_t>* sizes,
                                          double* shift);

// Inertia = sum of w_i * dist_i in fp64, summed per chunk then in chunk order.
double inertia_from_dist(const float* dist, const float* weights, std::size_t n);

// Report progress; throws Error("cancelled") if the callback returns false.
void report_progress(const RunInput& in, int iteration, double inertia, double shift);

// Each algorithm: from initial centroids (k×d) to a converged run. They must call
// params->on_assignment(iteration, labels) after each assignment, and produce
// exactly run_lloyd's labels at every iteration.
// The accelerated variants stream the rows from src when it is given (one pass per
// iteration, in.x unused; labels and bounds stay in memory; run_bounded_streamed in
// hamerly.cpp): the same result as in memory, bit for bit.
RunOutput run_lloyd(const RunInput& in, std::vector<float> centroids);
// Screened Lloyd (lloyd.cpp, kmeans/screen.hpp): run_lloyd's result bit for bit, the
// assignment screened in bf16 where the ISA has a bf16 dot product.
RunOutput run_screened(const RunInput& in, std::vector<float> centroids);
RunOutput run_elkan(const RunInput& in, std::vector<float> centroids, RowSource* src = nullptr);
RunOutput run_hamerly(const RunInput& in, std::vector<float> centroids, RowSource* src = nullptr);
RunOutput run_yinyang(const RunInput& in, std::vector<float> centroids, RowSource* src = nullptr);
RunOutput run_exponion(const RunInput& in, std::vector<float> centroids, RowSource* src = nullptr);

// Added by the accelerated variants (defined in hamerly.cpp): bytes of bound state
// for n rows, k centroids (labels, per-row distances and norms, common to every exact
// algorithm, not included): elkan 4nk + 8n + 8k² + 16k; hamerly 12n + 16k;
// yinyang 6n·t + 8n + 24k + 4W(kd + t) (t = max(1, k/10) groups, W =
// yinyang_window(k, d) past centroid sets); exponion 12n + 12k(k-1) + 16k.
std::size_t accel_state_bytes(Algorithm a, std::size_t n, std::size_t k, std::size_t d);
// State of a streamed accelerated run (hamerly.cpp): labels (4n), the bounds
// (accel_state_bytes) and the update's chunk partials in flight (bounded by a quarter of
// memory_limit, 64 MiB when 0). The rows, their norms and distances are not kept.
std::size_t streamed_accel_state_bytes(Algorithm a, std::size_t n, std::size_t k, std::size_t d,
                                       std::size_t memory_limit);

// ---- Additions by the front end (fit.cpp, lloyd.cpp, init.cpp, minibatch.cpp) ----

// splitmix64 (Steele, Lea & Flood 2014): one step of the generator from state x,
// i.e. the finaliser applied to x + golden gamma. Used to derive seeds:
//   run r of n_init uses seed_r = splitmix64(seed + r).
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
// Counter-based uniform in [0, 1) with 53 random bits: a pure function of (key, i),
// so per-row random draws do not depend on which thread makes them.
inline double uniform01(std::uint64_t key, std::uint64_t i) {
  return static_cast<double>(splitmix64(key ^ splitmix64(i)) >> 11) * 0x1.0p-53;
}
// Sequential generator (splitmix64 stream) for the few draws made in order.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() { const std::uint64_t z = s_; s_ += 0x9E3779B97F4A7C15ull; return splitmix64(z); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  std::uint64_t below(std::uint64_t m) { return static_cast<std::uint64_t>(uniform() * static_cast<double>(m)) % m; }
 private:
  std::uint64_t s_;
};

// Mini-batch k-means (minibatch.cpp). Reads rows through src (in-memory fits pass a
// MatrixSource). xnorm may be null. Same RunOutput fields as the exact runs.
RunOutput run_minibatch(RowSource& src, const RunInput& in, std::vector<float> centroids);

// Streamed exact Lloyd (lloyd.cpp): one pass over src per iteration. Same
// iterations, centroids and inertia as run_lloyd on the same rows, bit for bit.
// keep_labels: fill RunOutput::labels (n int32) and use them to detect changes;
// otherwise a 64-bit additive hash of (row, label) per chunk detects changes.
RunOutput run_lloyd_streamed(RowSource& src, const RunInput& in, std::vector<float> centroids,
                             bool keep_labels, int max_iter);

// Initial centroids from a RowSource: k-means++/k-means||/random on a seeded sample of
// at most sample_rows rows (all rows when n <= sample_rows; then the same result as
// init_centroids on the in-memory matrix).
// p supplies k, init, weights (n, by global row) and the k-means|| settings.
std::vector<float> init_centroids_source(RowSource& src, const KMeansParams& p, std::uint64_t seed,
                                         std::size_t sample_rows, std::uint64_t* evals);
// Sorted seeded uniform sample of m distinct row indices out of n (Floyd's algorithm).
std::vector<std::uint64_t> sample_rows_sorted(std::size_t n, std::size_t m, std::uint64_t seed);
// init_centroids with the k-means|| settings of p (oversampling, parallel_rounds).
std::vector<float> init_for_fit(const float* x, std::size_t n, std::size_t d, const KMeansParams& p,
                                std::uint64_t seed, const float* weights, std::uint64_t* evals);

}  // namespace personakit::detail
