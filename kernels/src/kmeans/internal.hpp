// Internal contract between the k-means front end (fit.cpp, lloyd.cpp, init.cpp,
// minibatch.cpp) and the exact accelerated variants (elkan.cpp, hamerly.cpp,
// yinyang.cpp, exponion.cpp). Not installed.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "personakit/assign.hpp"
#include "personakit/kmeans.hpp"

namespace personakit::detail {

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
};

struct RunOutput {
  std::vector<float> centroids;   // k×d
  std::vector<std::int32_t> labels;
  double inertia = 0;
  int iterations = 0;
  bool converged = false;
  std::uint64_t distance_evaluations = 0;
  std::size_t state_bytes = 0;
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

// Inertia = sum of w_i * dist_i in fp64, summed per chunk then in chunk order.
double inertia_from_dist(const float* dist, const float* weights, std::size_t n);

// Report progress; throws Error("cancelled") if the callback returns false.
void report_progress(const RunInput& in, int iteration, double inertia, double shift);

// Each algorithm: from initial centroids (k×d) to a converged run. They must call
// params->on_assignment(iteration, labels) after each assignment, and produce
// exactly run_lloyd's labels at every iteration.
RunOutput run_lloyd(const RunInput& in, std::vector<float> centroids);
RunOutput run_elkan(const RunInput& in, std::vector<float> centroids);
RunOutput run_hamerly(const RunInput& in, std::vector<float> centroids);
RunOutput run_yinyang(const RunInput& in, std::vector<float> centroids);
RunOutput run_exponion(const RunInput& in, std::vector<float> centroids);

}  // namespace personakit::detail
