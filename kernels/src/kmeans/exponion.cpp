// Exponion (Newling & Fleuret 2016), exact: Hamerly's two bounds per row, and when
// they fail, a search of the ball around the row's own centroid instead of all k.
// Each iteration every centroid's neighbours are sorted by their inter-centre gap
// (k(k-1) pairs); a row with exact D(i, a) visits the neighbours in that order and
// stops at the first j whose gap - u_i proves it (and, the list being sorted, every
// later one) strictly worse than the best found so far. Newling & Fleuret select the
// ball with exponentially growing annuli to avoid a full sort; a full sort per
// iteration (k² log k) is negligible next to n·k here and visits fewer centroids.
// The new lower bound is min(second-smallest computed distance, stop gap - u_i).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "kmeans/bounds.hpp"

namespace personakit::detail {
namespace accel {
namespace {

class Exponion final : public AlgoBase {
 public:
  void prepare(const RunInput& in, std::size_t k) override {
    n_ = in.n;
    k_ = k;
    assign_huge(u_, n_, kInf);
    assign_huge(l_, n_, 0.0f);
  }
  std::size_t state_bytes() const override { return accel_state_bytes(Algorithm::exponion, n_, k_, 0); }
  void moved(const std::vector<double>& p) override {
    p_ = p;
    pending_ = true;
  }
  void reset_rows(const std::vector<std::size_t>& rows) override {
    for (const std::size_t i : rows) {
      u_[i] = kInf;
      l_[i] = 0.0f;
    }
  }

  void begin_pass(const Centres& C, bool first) override {
    const std::size_t k = k_, m1 = k - 1;
    first_ = first;
    // Sorted neighbour lists: nb_[a*(k-1) + r], gap_[...] ascending.
    std::vector<double> cc;
    centre_gaps(C, cc);
    nb_.resize(k * m1);
    gap_.resize(k * m1);
#pragma omp parallel for schedule(dynamic, 4)
    for (std::size_t a = 0; a < k; ++a) {
      std::int32_t* nb = nb_.data() + a * m1;
      std::size_t r = 0;
      for (std::size_t b = 0; b < k; ++b)
        if (b != a) nb[r++] = static_cast<std::int32_t>(b);
      const double* row = cc.data() + a * k;
      std::sort(nb, nb + m1, [row](std::int32_t x, std::int32_t y) {
        return row[x] < row[y] || (row[x] == row[y] && x < y);
      });
      for (std::size_t q = 0; q < m1; ++q) gap_[a * m1 + q] = row[nb[q]];
    }
    p1_ = 0;
    p2_ = 0;
    j1_ = k;
    shift_ = pending_ && !first;
    pending_ = false;
    if (shift_)
      for (std::size_t j = 0; j < k; ++j) {
        if (p_[j] > p1_) {
          p2_ = p1_;
          p1_ = p_[j];
          j1_ = j;
        } else if (p_[j] > p2_)
          p2_ = p_[j];
      }
  }

  void assign_rows(const RunInput& in, std::size_t row0, const Centres& C, std::int32_t* labels,
                   AssignCounts& cnt) override {
    const std::size_t k = k_, d = in.d, n = in.n, m1 = k - 1;
    const bool first = first_, shift = shift_;
    const double p1 = p1_, p2 = p2_;
    const std::size_t j1 = j1_;
    double* U = u_.data() + row0;  // this range's bounds, by local row
    float* Lo = l_.data() + row0;
    const ExactDist ed;
    std::uint64_t ev = 0, changes = 0;
    const std::size_t B = kBlockRows, nblocks = (n + B - 1) / B;
#pragma omp parallel reduction(+ : ev, changes)
    {
      std::vector<float> buf(16), D1b(B), D2b(B);
      std::vector<std::int32_t> l1(B), l2(B);
      std::int32_t cand[16];
#pragma omp for schedule(dynamic, 1)
      for (std::size_t blk = 0; blk < nblocks; ++blk) {
        const std::size_t r0 = blk * B, r1 = std::min(n, r0 + B);
        if (first) {
          // No bounds yet: the tuned kernel's nearest and second nearest.
          assign_nearest2(in.x + r0 * d, r1 - r0, d, in.xnorm + r0, C.pc, l1.data(), D1b.data(), l2.data(),
                          D2b.data());
          ev += static_cast<std::uint64_t>(r1 - r0) * k;
          for (std::size_t i = r0; i < r1; ++i) {
            const double E = C.row_error(in.xnorm[i]);
            changes += (l1[i - r0] != labels[i]);
            labels[i] = l1[i - r0];
            U[i] = upper_from(D1b[i - r0], E);
            Lo[i] = k > 1 ? lo32(lower_from(D2b[i - r0], E)) : std::numeric_limits<float>::infinity();
          }
          continue;
        }
        for (std::size_t i = r0; i < r1; ++i) {
          const float* xi = in.x + i * d;
          const float xn = in.xnorm[i];
          const double E = C.row_error(xn);
          const std::int32_t a = labels[i];
          const std::size_t au = static_cast<std::size_t>(a);
          double u = U[i], l = Lo[i];
          if (shift) {
            u = add_up(u, p_[au]);
            l = sub_dn(l, au == j1 ? p2 : p1);
          }
          const double sa = m1 ? gap_[au * m1] : kInf;
          double z = std::max(l, sub_dn(sa, u));
          if (u < kInf && proves(z, u * u + 2 * E)) {
            U[i] = u;
            Lo[i] = lo32(l);
            continue;
          }
          const float Da = ed.one(xi, xn, C.pc, a);
          ++ev;
          u = upper_from(Da, E);
          z = std::max(l, sub_dn(sa, u));
          if (proves(z, static_cast<double>(Da) + E)) {
            U[i] = u;
            Lo[i] = lo32(l);
            continue;
          }
          // Ball search around c_a, nearest neighbours first, in batches of up to 16.
          const std::int32_t* nb = nb_.data() + au * m1;
          const double* gp = gap_.data() + au * m1;
          std::int32_t b = a;
          float D1 = Da, D2 = std::numeric_limits<float>::infinity();
          double rest = kInf;  // lower bound on δ for the neighbours not visited
          double thr = thr_of(static_cast<double>(D1) + E);
          std::size_t r = 0;
          bool stop = false;
          while (r < m1 && !stop) {
            std::size_t m = 0;
            while (m < 16 && r < m1) {
              const double zc = sub_dn(gp[r], u);  // δ(x, c_j) >= gap(a, j) - u
              if (zc > thr) {
                rest = zc;
                stop = true;
                break;
              }
              cand[m++] = nb[r++];
            }
            if (m == 0) break;
            ed.list(xi, xn, C.pc, cand, m, buf.data());
            ev += m;
            for (std::size_t q = 0; q < m; ++q) {
              const float Dj = buf[q];
              if (better(Dj, cand[q], D1, b)) {
                D2 = D1;
                D1 = Dj;
                b = cand[q];
              } else if (Dj < D2)
                D2 = Dj;
            }
            thr = thr_of(static_cast<double>(D1) + E);
          }
          changes += (b != a);
          labels[i] = b;
          U[i] = upper_from(D1, E);
          Lo[i] = lo32(std::min(lower_from(D2, E), rest));
        }
      }
    }
    cnt.evals += ev;
    cnt.changes += changes;
  }

 private:
  std::size_t n_ = 0, k_ = 0;
  std::vector<double> u_;
  std::vector<float> l_;
  std::vector<double> p_;
  std::vector<std::int32_t> nb_;
  std::vector<double> gap_;
  bool pending_ = false;
  // The pass in progress (begin_pass); read-only while rows are assigned.
  bool first_ = true, shift_ = false;
  double p1_ = 0, p2_ = 0;
  std::size_t j1_ = 0;
};

}  // namespace
}  // namespace accel

RunOutput run_exponion(const RunInput& in, std::vector<float> centroids, RowSource* src) {
  accel::Exponion e;
  return src ? accel::run_bounded_streamed(*src, in, std::move(centroids), e)
             : accel::run_bounded(in, std::move(centroids), e);
}

}  // namespace personakit::detail
