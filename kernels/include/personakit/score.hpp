// Cluster-quality and agreement scores.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace personakit {

// ---- internal scores: x n×d row-major fp32, labels n int32 in [0, k) ----
// Rows whose label is negative (noise) are skipped when skip_negative is true,
// otherwise a negative label is an Error.
struct SilhouetteResult {
  double mean = 0;                      // mean silhouette over the scored rows
  std::vector<float> per_sample;        // filled when asked
  std::vector<double> per_cluster;      // mean per cluster
};
// Exact: all pairs, Euclidean (not squared) distances, blocked, O(n*k) memory.
// Conventions follow scikit-learn: s = 0 for a row in a singleton cluster;
// requires 2 <= number of clusters <= n-1, else Error.
SilhouetteResult silhouette(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                            bool per_sample = false, bool skip_negative = false);
// Sampled: the exact score of a seeded sample of `sample_size` rows (without replacement).
double silhouette_sampled(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                          std::size_t sample_size, std::uint64_t seed);
// Simplified (centroid-based): a = |x - c_own|, b = min over other centroids.
double silhouette_simplified(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                             const float* centroids, std::size_t k);
double davies_bouldin(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels);
double calinski_harabasz(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels);
double inertia(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
               const float* centroids, std::size_t k, const float* weights = nullptr);

// ---- external scores between two labellings of n items (any int32 values) ----
struct Contingency {
  std::vector<std::int32_t> row_labels, col_labels;  // distinct values, ascending
  std::vector<std::int64_t> counts;                  // rows × cols, row-major
};
Contingency contingency(const std::int32_t* a, const std::int32_t* b, std::size_t n);
double adjusted_rand(const std::int32_t* truth, const std::int32_t* pred, std::size_t n);
double normalized_mutual_info(const std::int32_t* truth, const std::int32_t* pred, std::size_t n);  // arithmetic mean
double adjusted_mutual_info(const std::int32_t* truth, const std::int32_t* pred, std::size_t n);    // arithmetic mean
struct HomogeneityCompleteness { double homogeneity = 0, completeness = 0, v_measure = 0; };
HomogeneityCompleteness homogeneity_completeness(const std::int32_t* truth, const std::int32_t* pred, std::size_t n);

}  // namespace personakit
