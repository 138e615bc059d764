// Pairwise distances and k nearest rows.
//  fp32: sqeuclidean / euclidean / inner_product / cosine go through the assignment
//        micro-kernel (y packed like centroids; canonical dots and norms), so
//        sqeuclidean is bit-identical to sqdist_canonical. manhattan: plain loop.
//  fp64: Eigen GEMM (Map over the caller's buffers, blocks of x rows) for the
//        dot-based metrics; plain loop for manhattan. Decision and numbers:
//        docs/kernels/assign.md.
#define EIGEN_DONT_PARALLELIZE  // we parallelise over row blocks ourselves
#include <Eigen/Core>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "kernel_table.hpp"
#include "personakit/assign.hpp"
#include "personakit/distance.hpp"
#include "personakit/error.hpp"

namespace personakit {

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::sqeuclidean: return "sqeuclidean";
    case Metric::euclidean: return "euclidean";
    case Metric::cosine: return "cosine";
    case Metric::inner_product: return "inner_product";
    case Metric::manhattan: return "manhattan";
  }
  return "unknown";
}

namespace {

// ---- the reference: one pair at a time, fp64 sums (fp32 sqeuclidean: canonical) ----
template <class T>
T metric_value(Metric m, const T* a, const T* b, std::size_t d) {
  if constexpr (std::is_same_v<T, float>) {
    if (m == Metric::sqeuclidean || m == Metric::euclidean) {
      const float v = sqdist_canonical(a, sqnorm_canonical(a, d), b, sqnorm_canonical(b, d), d);
      return m == Metric::euclidean ? std::sqrt(v) : v;
    }
  }
  double dot = 0, na = 0, nb = 0, l1 = 0, l2 = 0;
  for (std::size_t j = 0; j < d; ++j) {
    dot += double(a[j]) * b[j]; na += double(a[j]) * a[j]; nb += double(b[j]) * b[j];
    l1 += std::fabs(double(a[j]) - b[j]); l2 += (double(a[j]) - b[j]) * (double(a[j]) - b[j]);
  }
  switch (m) {
    case Metric::sqeuclidean: return T(l2);
    case Metric::euclidean: return T(std::sqrt(l2));
    case Metric::cosine: return (na == 0 || nb == 0) ? T(0) : T(1 - dot / std::sqrt(na * nb));
    case Metric::inner_product: return T(dot);
    case Metric::manhattan: return T(l1);
  }
  return T(0);
}

template <class T>
void check_args(const T* x, std::size_t n, const T* y, std::size_t my, std::size_t d, T* out, std::size_t ldo) {
  if (d == 0) throw Error("pairwise: d must be at least 1");
  if (ldo < my) throw Error("pairwise: ldo must be at least the number of y rows");
  if ((n && (!x || !out)) || (my && !y)) throw Error("pairwise: null buffer");
}

template <class T>
void pairwise_ref(Metric m, const T* x, std::size_t n, const T* y, std::size_t my, std::size_t d, T* out,
                  std::size_t ldo) {
  check_args(x, n, y, my, d, out, ldo);
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
  for (std::ptrdiff_t i = 0; i < std::ptrdiff_t(n); ++i)
    for (std::size_t j = 0; j < my; ++j) out[i * ldo + j] = metric_value(m, x + i * d, y + j * d, d);
}

constexpr std::size_t kRowBlock = 256;

template <class Fn>
void over_row_blocks(std::size_t n, std::size_t block, Fn&& f) {
  const auto nb = static_cast<std::ptrdiff_t>((n + block - 1) / block);
#pragma omp parallel for schedule(static) if (nb > 1 && !omp_in_parallel())
  for (std::ptrdiff_t b = 0; b < nb; ++b) {
    const std::size_t i0 = std::size_t(b) * block;
    f(i0, std::min(n, i0 + block));
  }
}

// Rows of y transposed into panels once; all dot-based fp32 metrics use the kernels.
void pairwise_f32(Metric m, const float* x, std::size_t n, const float* y, std::size_t my, std::size_t d,
                  float* out, std::size_t ldo) {
  if (n == 0 || my == 0) return;
  if (m == Metric::manhattan) {
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
    for (std::ptrdiff_t i = 0; i < std::ptrdiff_t(n); ++i)
      for (std::size_t j = 0; j < my; ++j) out[i * ldo + j] = metric_value(m, x + i * d, y + j * d, d);
    return;
  }
  const auto& kt = detail::kernel_table();
  const PackedCentroids py(y, my, d);
  const std::size_t np = py.panels();
  std::vector<double> inv_y;
  if (m == Metric::cosine) {
    inv_y.resize(my);
    for (std::size_t j = 0; j < my; ++j) {
      const float yn = py.norms()[j];
      inv_y[j] = yn > 0 ? 1.0 / std::sqrt(double(yn)) : 0.0;
    }
  }
  over_row_blocks(n, kRowBlock, [&](std::size_t i0, std::size_t i1) {
    const float* xb = x + i0 * d;
    float* ob = out + i0 * ldo;
    const std::size_t nb = i1 - i0;
    if (m == Metric::sqeuclidean || m == Metric::euclidean) {
      kt.sqdist_panels(xb, nb, d, nullptr, py, 0, np, ob, ldo);
      if (m == Metric::euclidean)
        for (std::size_t i = 0; i < nb; ++i)
          for (std::size_t j = 0; j < my; ++j) ob[i * ldo + j] = std::sqrt(ob[i * ldo + j]);
      return;
    }
    kt.dot_panels(xb, nb, d, py, 0, np, ob, ldo);
    if (m == Metric::cosine) {
      float xn[kRowBlock];
      kt.row_norms(xb, nb, d, xn);
      for (std::size_t i = 0; i < nb; ++i) {
        // 1 - dot·(1/|x|)·(1/|y|) in fp64: a few fp64 roundings on top of the fp32
        // dot and norms, far inside the fp32 error bound; 0 when either row is zero.
        const double ix = xn[i] > 0 ? 1.0 / std::sqrt(double(xn[i])) : 0.0;
        float* o = ob + i * ldo;
        for (std::size_t j = 0; j < my; ++j) {
          const double s = ix * inv_y[j];
          o[j] = s == 0 ? 0.0f : float(1.0 - double(o[j]) * s);
        }
      }
    }
  });
}

using RowMajorD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapD = Eigen::Map<const RowMajorD>;
using MapOutD = Eigen::Map<RowMajorD, 0, Eigen::OuterStride<>>;

void pairwise_f64(Metric m, const double* x, std::size_t n, const double* y, std::size_t my, std::size_t d,
                  double* out, std::size_t ldo) {
  if (n == 0 || my == 0) return;
  if (m == Metric::manhattan) {
    pairwise_ref(m, x, n, y, my, d, out, ldo);
    return;
  }
  const MapD Y(y, Eigen::Index(my), Eigen::Index(d));
  const Eigen::VectorXd yn = Y.rowwise().squaredNorm();
  Eigen::VectorXd inv_y(yn.size());
  for (Eigen::Index j = 0; j < yn.size(); ++j) inv_y[j] = yn[j] > 0 ? 1.0 / std::sqrt(yn[j]) : 0.0;
  over_row_blocks(n, kRowBlock, [&](std::size_t i0, std::size_t i1) {
    const Eigen::Index nb = Eigen::Index(i1 - i0);
    const MapD X(x + i0 * d, nb, Eigen::Index(d));
    MapOutD O(out + i0 * ldo, nb, Eigen::Index(my), Eigen::OuterStride<>(Eigen::Index(ldo)));
    O.noalias() = X * Y.transpose();
    if (m == Metric::inner_product) return;
    const Eigen::VectorXd xn = X.rowwise().squaredNorm();
    for (Eigen::Index i = 0; i < nb; ++i) {
      const double ix = xn[i] > 0 ? 1.0 / std::sqrt(xn[i]) : 0.0;
      for (Eigen::Index j = 0; j < Eigen::Index(my); ++j) {
        const double dot = O(i, j);
        double v;
        if (m == Metric::cosine) {
          const double s = ix * inv_y[j];
          v = s == 0 ? 0.0 : 1.0 - dot * s;
        } else {
          v = std::max(0.0, xn[i] + yn[j] - 2.0 * dot);
          if (m == Metric::euclidean) v = std::sqrt(v);
        }
        O(i, j) = v;
      }
    }
  });
}

}  // namespace

void pairwise(Metric m, const float* x, std::size_t n, const float* y, std::size_t my, std::size_t d,
              float* out, std::size_t ldo) {
  check_args(x, n, y, my, d, out, ldo);
  pairwise_f32(m, x, n, y, my, d, out, ldo);
}
void pairwise(Metric m, const double* x, std::size_t n, const double* y, std::size_t my, std::size_t d,
              double* out, std::size_t ldo) {
  check_args(x, n, y, my, d, out, ldo);
  pairwise_f64(m, x, n, y, my, d, out, ldo);
}

// k nearest rows of y: canonical squared distances from the kernels, a block of
// x rows against 1024 columns of y at a time, each row's kk best kept sorted by
// (distance, index); scanning y in index order with a strict < makes ties go to
// the lowest index.
void knn_rows(const float* x, std::size_t n, const float* y, std::size_t my, std::size_t d, std::size_t kk,
              std::int64_t* idx, float* dist) {
  if (d == 0) throw Error("knn_rows: d must be at least 1");
  if (kk == 0 || kk > my)
    throw Error("knn_rows: kk = " + std::to_string(kk) + " must be between 1 and the number of y rows (" +
                std::to_string(my) + ")");
  if (n == 0) return;
  const auto& kt = detail::kernel_table();
  const PackedCentroids py(y, my, d);
  constexpr std::size_t kRows = 64, kPanels = 16, kCols = kPanels * PackedCentroids::kPanel;
  const std::size_t np = py.panels();
  over_row_blocks(n, kRows, [&](std::size_t i0, std::size_t i1) {
    const std::size_t nb = i1 - i0;
    std::vector<float> buf(kRows * kCols), xn(kRows);
    kt.row_norms(x + i0 * d, nb, d, xn.data());
    std::vector<std::size_t> fill(nb, 0);
    const float inf = std::numeric_limits<float>::infinity();
    for (std::size_t i = 0; i < nb; ++i)
      for (std::size_t t = 0; t < kk; ++t) { dist[(i0 + i) * kk + t] = inf; idx[(i0 + i) * kk + t] = -1; }
    for (std::size_t p0 = 0; p0 < np; p0 += kPanels) {
      const std::size_t p1 = std::min(np, p0 + kPanels);
      kt.sqdist_panels(x + i0 * d, nb, d, xn.data(), py, p0, p1, buf.data(), kCols);
      const std::size_t c0 = p0 * PackedCentroids::kPanel, c1 = std::min(my, p1 * PackedCentroids::kPanel);
      for (std::size_t i = 0; i < nb; ++i) {
        float* dr = dist + (i0 + i) * kk;
        std::int64_t* ir = idx + (i0 + i) * kk;
        std::size_t& f = fill[i];
        const float* br = buf.data() + i * kCols;
        for (std::size_t t = c0; t < c1; ++t) {
          const float v = br[t - c0];
          if (f == kk && !(v < dr[kk - 1])) continue;
          std::size_t pos = (f < kk) ? f++ : kk - 1;
          while (pos > 0 && v < dr[pos - 1]) {  // strict: equal distances keep index order
            dr[pos] = dr[pos - 1];
            ir[pos] = ir[pos - 1];
            --pos;
          }
          dr[pos] = v;
          ir[pos] = std::int64_t(t);
        }
      }
    }
  });
}

namespace ref {
void pairwise(Metric m, const float* x, std::size_t n, const float* y, std::size_t my, std::size_t d, float* out,
              std::size_t ldo) {
  pairwise_ref(m, x, n, y, my, d, out, ldo);
}
void pairwise(Metric m, const double* x, std::size_t n, const double* y, std::size_t my, std::size_t d,
              double* out, std::size_t ldo) {
  pairwise_ref(m, x, n, y, my, d, out, ldo);
}
}  // namespace ref

}  // namespace personakit
