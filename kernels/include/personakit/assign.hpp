// Fused nearest-centroid assignment and the canonical squared distance.
//
// Canonical arithmetic (every ISA path reproduces it bit for bit):
//   dot(x, c)   = fp32 fused multiply-adds in order j = 0..d-1, starting from 0
//   sqnorm(x)   = dot(x, x)
//   sqdist(x,c) = max(0, fma(-2, dot(x,c), sqnorm(x) + sqnorm(c)))   (fp32)
// The SIMD kernels broadcast one x element and multiply it with a vector of
// centroids (centroids stored transposed), so each lane accumulates over j in
// the same order as the scalar loop: labels and distances agree exactly with
// the scalar reference on any data, not only on integer-valued data.
// Ties: the lowest centroid index wins, in every path.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace personakit {

// Centroids re-laid out for the kernels: packed once per iteration, read many times.
// Layout: panels of P centroids (P = kPanel); within a panel, d rows of P floats
// (transposed), so a kernel loads a vector of centroids for one feature. The last
// panel is padded with zero coordinates and +inf norms (never selected).
class PackedCentroids {
 public:
  static constexpr std::size_t kPanel = 64;
  PackedCentroids() = default;
  PackedCentroids(const float* c, std::size_t k, std::size_t d) { pack(c, k, d); }
  // c: k×d row-major fp32. Computes the canonical norms. Throws Error if k or d is 0.
  void pack(const float* c, std::size_t k, std::size_t d);
  std::size_t k() const { return k_; }
  std::size_t d() const { return d_; }
  std::size_t panels() const { return (k_ + kPanel - 1) / kPanel; }
  // Panel p: d×kPanel floats, 64-byte aligned.
  const float* panel(std::size_t p) const { return data_.data() + pad_ + p * d_ * kPanel; }
  // Norms, padded to panels()*kPanel (padding = +inf).
  const float* norms() const { return norms_.data(); }
  // The original row-major centroids (k×d).
  const float* rows() const { return rows_.data(); }

 private:
  std::size_t k_ = 0, d_ = 0, pad_ = 0;
  std::vector<float> data_;   // over-allocated so panel(0) is 64-byte aligned (pad_ floats in)
  std::vector<float> norms_;
  std::vector<float> rows_;
};

// Canonical scalar helpers (identical bits to the kernels).
float dot_canonical(const float* x, const float* c, std::size_t d);
float sqnorm_canonical(const float* x, std::size_t d);
float sqdist_canonical(const float* x, float xnorm, const float* c, float cnorm, std::size_t d);
// out[i] = sqnorm(x_i) for n rows of x (n×d row-major). OpenMP over rows.
void row_norms(const float* x, std::size_t n, std::size_t d, float* out);

// Nearest centroid of each row. x: n×d row-major fp32 (any alignment);
// xnorm: n canonical norms or nullptr (then computed on the fly);
// labels: n int32 out; dist: n fp32 canonical squared distances out (may be nullptr).
// Dispatched to active_isa(); OpenMP over fixed row blocks; allocates nothing per row.
void assign_nearest(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                    const PackedCentroids& c, std::int32_t* labels, float* dist);

// Nearest and second nearest (label2 = -1 and dist2 = +inf when k == 1).
void assign_nearest2(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                     const PackedCentroids& c, std::int32_t* labels, float* dist,
                     std::int32_t* label2, float* dist2);

// Squared distances of rows to a subset of centroids: out[i*ldo + t] = sqdist(x_i, c_{idx[t]}).
// Used by the accelerated algorithms; same bits as assign_nearest's distances.
void sqdist_rows(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                 const PackedCentroids& c, float* out, std::size_t ldo);

// Centroid-update accumulation over one chunk of rows, in row order, fp64:
//   sums[l*d + j] += w_i * x_ij,  counts[l] += w_i   for l = labels[i] (w_i = 1 if weights null).
// Single-threaded by design: callers (Lloyd) split rows into fixed chunks, run chunks
// in parallel, and add chunk partials in chunk order, so results do not depend on threads.
void accumulate_sums(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                     const float* weights, double* sums, double* counts);

namespace ref {
// Scalar references: plain loops, canonical arithmetic, lowest index wins.
void assign_nearest(const float* x, std::size_t n, std::size_t d, const float* c, std::size_t k,
                    std::int32_t* labels, float* dist);
void assign_nearest2(const float* x, std::size_t n, std::size_t d, const float* c, std::size_t k,
                     std::int32_t* labels, float* dist, std::int32_t* label2, float* dist2);
}  // namespace ref

}  // namespace personakit
