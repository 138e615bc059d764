// Pairwise distances between row-major matrices, written into a caller's block,
// and k nearest rows. fp32 and fp64.
#pragma once
#include <cstddef>
#include <cstdint>

namespace personakit {

enum class Metric { sqeuclidean, euclidean, cosine, inner_product, manhattan };
const char* metric_name(Metric m);

// out[i*ldo + j] = metric(x_i, y_j). x: n×d, y: m×d, both row-major; ldo >= m.
// sqeuclidean uses the canonical form (assign.hpp) for fp32; cosine distance is
// 1 - x·y/(|x||y|), 0 when either row is all zeros; inner_product is x·y (a similarity).
// Dispatched to active_isa(); OpenMP over row blocks of x.
void pairwise(Metric m, const float* x, std::size_t n, const float* y, std::size_t mrows,
              std::size_t d, float* out, std::size_t ldo);
void pairwise(Metric m, const double* x, std::size_t n, const double* y, std::size_t mrows,
              std::size_t d, double* out, std::size_t ldo);

// For each row of x, the kk nearest rows of y by squared Euclidean distance,
// ascending, ties by lowest index. idx/dist: n×kk. kk <= mrows.
void knn_rows(const float* x, std::size_t n, const float* y, std::size_t mrows, std::size_t d,
              std::size_t kk, std::int64_t* idx, float* dist);

namespace ref {
void pairwise(Metric m, const float* x, std::size_t n, const float* y, std::size_t mrows,
              std::size_t d, float* out, std::size_t ldo);
void pairwise(Metric m, const double* x, std::size_t n, const double* y, std::size_t mrows,
              std::size_t d, double* out, std::size_t ldo);
}  // namespace ref

}  // namespace personakit
