// Elkan (2003), exact: per row an upper bound u_i >= δ(x_i, c_{a_i}) and k lower
// bounds l_ij <= δ(x_i, c_j) (fp32, rounded down), plus the k×k inter-centre gaps.
// Centroid j is skipped when max(l_ij, ||c_a - c_j|| - u_i) proves it strictly worse
// than the current best (bounds.hpp); a row is skipped outright when
// s_a - u_i does, s_a = min_{j != a} ||c_a - c_j||. Surviving candidates get their
// exact canonical distance, compared with the lowest-index rule.
#include <algorithm>
#include <cmath>

#include "kmeans/bounds.hpp"

namespace personakit::detail {
namespace accel {
namespace {

// Upper fp32 rounding of a non-negative fp64 shift.
inline float up32(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) < v) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

// One row's lazy bound decrement and first filter, k lanes at a time:
//   L[j] <- L[j] - p_j rounded down (when shift), and the indices j with
//   !(L[j] > thr) && !(gap(a, j) > T2) appended to cand (gap(a, a) = +inf here).
// Float comparisons are conservative: thr and T2 were rounded up to fp32, the gaps down.
// fl(l - p) errs by <= 2^-24 (|l| + p); subtracting 2^-22 (|l| + p) (itself rounded,
// then the subtraction rounded) leaves a net downward move >= 2^-23 (|l| + p) - O(2^-46):
// a valid lower bound. The rule is the kernel table's elkan_filter (ref/, avx2/,
// avx512/kmeans_*.cpp), the same bits on every ISA.

class Elkan final : public AlgoBase {
 public:
  void prepare(const RunInput& in, std::size_t k) override {
    n_ = in.n; k_ = k;
    assign_huge(u_, n_, kInf);
    assign_huge(l_, n_ * k_, 0.0f);
    kt_ = &kmeans_kernel_table();  // elkan_filter, dispatched once per fit
  }
  std::size_t state_bytes() const override { return accel_state_bytes(Algorithm::elkan, n_, k_, 0); }
  void moved(const std::vector<double>& p) override {
    pf_.resize(p.size());
    for (std::size_t j = 0; j < p.size(); ++j) pf_[j] = up32(p[j]);
    p_ = p;
    pending_ = true;
  }
  // Per-centroid lower bounds stay valid whatever the label; only u is about the label.
  void reset_rows(const std::vector<std::size_t>& rows) override {
    for (const std::size_t i : rows) u_[i] = kInf;
  }

  void begin_pass(const Centres& C, bool first) override {
    const std::size_t k = k_;
    first_ = first;
    centre_gaps(C, cc_);
    s_.assign(k, kInf);
    ccf_.resize(k * k);
    for (std::size_t a = 0; a < k; ++a)
      for (std::size_t b = 0; b < k; ++b) {
        if (b != a) s_[a] = std::min(s_[a], cc_[a * k + b]);
        ccf_[a * k + b] = b == a ? std::numeric_limits<float>::infinity() : lo32(cc_[a * k + b]);
      }
    shift_ = pending_ && !first;
    pending_ = false;
  }

  void assign_rows(const RunInput& in, std::size_t row0, const Centres& C, std::int32_t* labels,
                   AssignCounts& cnt) override {
    const std::size_t k = k_, d = in.d, n = in.n;
    const bool first = first_, shift = shift_;
    const double* s = s_.data();
    double* U = u_.data() + row0;      // this range's bounds, by local row
    float* Lb = l_.data() + row0 * k;
    const ExactDist ed;
    std::uint64_t ev = 0, changes = 0;
    const std::size_t B = kBlockRows, nblocks = (n + B - 1) / B;
#pragma omp parallel reduction(+ : ev, changes)
    {
      std::vector<float> buf(first ? B * k : k);
      std::vector<std::int32_t> cand(k + 16);
#pragma omp for schedule(dynamic, 1)
      for (std::size_t blk = 0; blk < nblocks; ++blk) {
        const std::size_t r0 = blk * B, r1 = std::min(n, r0 + B);
        if (first) {
          // No bounds yet: all k distances with the tuned kernel.
          sqdist_rows(in.x + r0 * d, r1 - r0, d, in.xnorm + r0, C.pc, buf.data(), k);
          ev += static_cast<std::uint64_t>(r1 - r0) * k;
          for (std::size_t i = r0; i < r1; ++i) {
            const float* Di = buf.data() + (i - r0) * k;
            const double E = C.row_error(in.xnorm[i]);
            float* L = Lb + i * k;
            std::int32_t b = 0;
            for (std::size_t j = 0; j < k; ++j) {
              L[j] = lo32(lower_from(Di[j], E));
              if (Di[j] < Di[static_cast<std::size_t>(b)]) b = static_cast<std::int32_t>(j);
            }
            changes += (b != labels[i]);
            labels[i] = b;
            U[i] = upper_from(Di[static_cast<std::size_t>(b)], E);
          }
          continue;
        }
        for (std::size_t i = r0; i < r1; ++i) {
          const float* xi = in.x + i * d;
          const float xn = in.xnorm[i];
          const double E = C.row_error(xn);
          float* L = Lb + i * k;
          const std::int32_t a = labels[i];
          const std::size_t au = static_cast<std::size_t>(a);
          double u = U[i];
          if (shift) u = add_up(u, p_[au]);
          double thr = thr_of(u * u + 2 * E);
          if (u < kInf && sub_dn(s[au], u) > thr) {
            // Every other centroid is out (s_a - u); only the lazy decrement remains.
            if (shift) filter_(L, au, thr, thr, true, cand.data());
            U[i] = u;
            continue;
          }
          // Candidates not provably worse than a under the loose bound.
          double T2 = add_up(u, thr);  // gap > T2  =>  gap - u > thr
          const std::size_t m = filter_(L, au, thr, T2, shift, cand.data());
          if (m == 0) { U[i] = u; continue; }
          // Tighten u with the exact D(i, a) and filter again.
          const float Da = ed.one(xi, xn, C.pc, a);
          ++ev;
          L[au] = lo32(lower_from(Da, E));
          u = upper_from(Da, E);
          thr = thr_of(static_cast<double>(Da) + E);
          T2 = add_up(u, thr);
          const double* cca = cc_.data() + au * k;
          std::size_t m2 = 0;
          for (std::size_t t = 0; t < m; ++t) {
            const std::size_t j = static_cast<std::size_t>(cand[t]);
            const bool keep = !(static_cast<double>(L[j]) > thr) && !(cca[j] > T2);
            cand[m2] = cand[t];
            m2 += keep;
          }
          std::int32_t b = a;
          float Db = Da;
          if (m2 > 0) {
            ed.list(xi, xn, C.pc, cand.data(), m2, buf.data());
            ev += m2;
            for (std::size_t t = 0; t < m2; ++t) {
              const std::int32_t j = cand[t];
              const float Dj = buf[t];
              L[static_cast<std::size_t>(j)] = lo32(lower_from(Dj, E));
              if (better(Dj, j, Db, b)) { b = j; Db = Dj; }
            }
          }
          changes += (b != a);
          labels[i] = b;
          U[i] = upper_from(Db, E);
        }
      }
    }
    cnt.evals += ev;
    cnt.changes += changes;
  }

 private:
  std::size_t filter_(float* L, std::size_t a, double thr, double T2, bool shift, std::int32_t* cand) const {
    const float thrf = up32(thr), T2f = up32(T2);
    const float* gap = ccf_.data() + a * k_;
    return kt_->elkan_filter(L, pf_.data(), gap, k_, thrf, T2f, shift, cand);
  }

  std::size_t n_ = 0, k_ = 0;
  const KmeansKernelTable* kt_ = nullptr;
  std::vector<double> u_;
  std::vector<float> l_;
  std::vector<double> p_, cc_;
  std::vector<float> pf_, ccf_;
  bool pending_ = false;
  // The pass in progress (begin_pass); read-only while rows are assigned.
  bool first_ = true, shift_ = false;
  std::vector<double> s_;
};

}  // namespace
}  // namespace accel

RunOutput run_elkan(const RunInput& in, std::vector<float> centroids, RowSource* src) {
  accel::Elkan e;
  return src ? accel::run_bounded_streamed(*src, in, std::move(centroids), e)
             : accel::run_bounded(in, std::move(centroids), e);
}

}  // namespace personakit::detail
