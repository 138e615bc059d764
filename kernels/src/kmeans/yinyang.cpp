// Yinyang k-means (Ding et al. 2015), exact: the k centroids are split once into
// t = max(1, k/10) groups (k-means of the initial centroids, fp64, 5 Lloyd steps from
// the centroids at indices floor(g·k/t)); per row an upper bound u_i and t group lower
// bounds lb_ig <= min_{j in g, j != a_i} δ(x_i, c_j) (fp32, rounded down).
// Global filter: min_g lb_ig proves every other centroid worse -> keep the label.
// Group filter: lb_ig proves the whole group worse than the current best -> skip it.
// Local filter: inside a surviving group, lb_ig(before this iteration's decrement) - p_j
// is a lower bound for centroid j alone; survivors get exact canonical distances.
#include <algorithm>
#include <cmath>

#include "kmeans/bounds.hpp"

namespace personakit::detail {
namespace accel {
namespace {

// Groups of centroids: grp[j], and each group's members ascending.
void group_centroids(const std::vector<float>& c, std::size_t k, std::size_t d, std::size_t t,
                     std::vector<std::int32_t>& grp, std::vector<std::vector<std::int32_t>>& members) {
  std::vector<double> g(t * d);
  for (std::size_t q = 0; q < t; ++q) {
    const std::size_t j = q * k / t;
    for (std::size_t f = 0; f < d; ++f) g[q * d + f] = c[j * d + f];
  }
  grp.assign(k, 0);
  for (int iter = 0; iter < 5; ++iter) {
    for (std::size_t j = 0; j < k; ++j) {
      double best = kInf;
      std::int32_t arg = 0;
      for (std::size_t q = 0; q < t; ++q) {
        double s = 0;
        for (std::size_t f = 0; f < d; ++f) {
          const double v = static_cast<double>(c[j * d + f]) - g[q * d + f];
          s += v * v;
        }
        if (s < best) {
          best = s;
          arg = static_cast<std::int32_t>(q);
        }
      }
      grp[j] = arg;
    }
    std::vector<double> sum(t * d, 0.0);
    std::vector<std::size_t> cnt(t, 0);
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t q = static_cast<std::size_t>(grp[j]);
      ++cnt[q];
      for (std::size_t f = 0; f < d; ++f) sum[q * d + f] += c[j * d + f];
    }
    for (std::size_t q = 0; q < t; ++q)
      if (cnt[q])
        for (std::size_t f = 0; f < d; ++f) g[q * d + f] = sum[q * d + f] / static_cast<double>(cnt[q]);
  }
  members.assign(t, {});
  for (std::size_t j = 0; j < k; ++j)
    members[static_cast<std::size_t>(grp[j])].push_back(static_cast<std::int32_t>(j));
}

class Yinyang final : public AlgoBase {
 public:
  explicit Yinyang(const std::vector<float>& c0) : c0_(c0) {}
  void prepare(const RunInput& in, std::size_t k) override {
    n_ = in.n;
    k_ = k;
    t_ = yinyang_groups(k);
    group_centroids(c0_, k, in.d, t_, grp_, members_);
    u_.assign(n_, kInf);
    lb_.assign(n_ * t_, 0.0f);
  }
  std::size_t state_bytes() const override { return accel_state_bytes(Algorithm::yinyang, n_, k_, 0); }
  void moved(const std::vector<double>& p) override {
    p_ = p;
    pending_ = true;
  }
  // Group bounds exclude the old label; after an outside relabel they all restart at 0.
  void reset_rows(const std::vector<std::size_t>& rows) override {
    for (const std::size_t i : rows) {
      u_[i] = kInf;
      std::fill(lb_.begin() + static_cast<std::ptrdiff_t>(i * t_),
                lb_.begin() + static_cast<std::ptrdiff_t>((i + 1) * t_), 0.0f);
    }
  }

  std::uint64_t assign(const RunInput& in, const Centres& C, std::int32_t* labels, bool first,
                       std::uint64_t* evals) override {
    const std::size_t k = k_, d = in.d, t = t_;
    const bool shift = pending_ && !first;
    pending_ = false;
    std::vector<double> maxp(t, 0.0);
    if (shift)
      for (std::size_t j = 0; j < k; ++j) {
        const std::size_t q = static_cast<std::size_t>(grp_[j]);
        maxp[q] = std::max(maxp[q], p_[j]);
      }
    const ExactDist ed;
    std::uint64_t ev = 0, changes = 0;
    const std::size_t B = kBlockRows, nblocks = (n_ + B - 1) / B;
#pragma omp parallel reduction(+ : ev, changes)
    {
      std::vector<float> buf(first ? B * k : k);
      std::vector<std::int32_t> cand(k);
      std::vector<double> prev(t), cur(t), nlb(t);
#pragma omp for schedule(dynamic, 1)
      for (std::size_t blk = 0; blk < nblocks; ++blk) {
        const std::size_t r0 = blk * B, r1 = std::min(n_, r0 + B);
        if (first) {
          // No bounds yet: all k distances with the tuned kernel.
          sqdist_rows(in.x + r0 * d, r1 - r0, d, in.xnorm + r0, C.pc, buf.data(), k);
          ev += static_cast<std::uint64_t>(r1 - r0) * k;
          for (std::size_t i = r0; i < r1; ++i) {
            const float* Di = buf.data() + (i - r0) * k;
            const double E = C.row_error(in.xnorm[i]);
            std::int32_t b = 0;
            for (std::size_t j = 1; j < k; ++j)
              if (Di[j] < Di[static_cast<std::size_t>(b)]) b = static_cast<std::int32_t>(j);
            std::fill(nlb.begin(), nlb.end(), kInf);
            for (std::size_t j = 0; j < k; ++j)
              if (j != static_cast<std::size_t>(b)) {
                double& v = nlb[static_cast<std::size_t>(grp_[j])];
                v = std::min(v, lower_from(Di[j], E));
              }
            float* LB = lb_.data() + i * t;
            for (std::size_t q = 0; q < t; ++q) LB[q] = lo32(nlb[q]);
            changes += (b != labels[i]);
            labels[i] = b;
            u_[i] = upper_from(Di[static_cast<std::size_t>(b)], E);
          }
          continue;
        }
        for (std::size_t i = r0; i < r1; ++i) {
          const float* xi = in.x + i * d;
          const float xn = in.xnorm[i];
          const double E = C.row_error(xn);
          float* LB = lb_.data() + i * t;
          const std::int32_t a = labels[i];
          const std::size_t au = static_cast<std::size_t>(a);
          double u = u_[i];
          double gmin = kInf;
          for (std::size_t q = 0; q < t; ++q) {
            prev[q] = LB[q];
            cur[q] = shift ? sub_dn(prev[q], maxp[q]) : prev[q];
            gmin = std::min(gmin, cur[q]);
          }
          if (shift) u = add_up(u, p_[au]);
          auto store = [&](double uu) {
            u_[i] = uu;
            for (std::size_t q = 0; q < t; ++q) LB[q] = lo32(cur[q]);
          };
          // Global filter with the loose bound, then with the exact D(i, a).
          if (u < kInf && gmin > thr_of(u * u + 2 * E)) {
            store(u);
            continue;
          }
          const float Da = ed.one(xi, xn, C.pc, a);
          ++ev;
          u = upper_from(Da, E);
          double thr = thr_of(static_cast<double>(Da) + E);
          if (gmin > thr) {
            store(u);
            continue;
          }
          std::int32_t b = a;
          float Db = Da;
          for (std::size_t q = 0; q < t; ++q) nlb[q] = cur[q];
          const double lowa = lower_from(Da, E);
          for (std::size_t q = 0; q < t; ++q) {
            if (cur[q] > thr) continue;  // group filter
            double v = kInf;
            std::size_t m = 0;
            for (const std::int32_t j : members_[q]) {
              if (j == a) {
                if (b != a) v = std::min(v, lowa);
                continue;
              }
              // Local filter: δ(x, c_j) >= lb_before - p_j (valid before the decrement).
              const double zl = shift ? sub_dn(prev[q], p_[static_cast<std::size_t>(j)]) : prev[q];
              if (zl > thr) {
                v = std::min(v, zl);
                continue;
              }
              cand[m++] = j;
            }
            if (m > 0) {
              ed.list(xi, xn, C.pc, cand.data(), m, buf.data());
              ev += m;
              for (std::size_t r = 0; r < m; ++r) {
                const std::int32_t j = cand[r];
                const float Dj = buf[r];
                if (better(Dj, j, Db, b)) {
                  // The replaced best becomes an "other" of its group.
                  const double lo = lower_from(Db, E);
                  const std::size_t gb = static_cast<std::size_t>(grp_[static_cast<std::size_t>(b)]);
                  if (gb == q)
                    v = std::min(v, lo);
                  else
                    nlb[gb] = std::min(nlb[gb], lo);
                  b = j;
                  Db = Dj;
                  thr = thr_of(static_cast<double>(Db) + E);
                } else {
                  v = std::min(v, lower_from(Dj, E));
                }
              }
            }
            nlb[q] = v;
          }
          for (std::size_t q = 0; q < t; ++q) LB[q] = lo32(nlb[q]);
          changes += (b != a);
          labels[i] = b;
          u_[i] = upper_from(Db, E);
        }
      }
    }
    *evals += ev;
    return changes;
  }

 private:
  std::vector<float> c0_;
  std::size_t n_ = 0, k_ = 0, t_ = 1;
  std::vector<std::int32_t> grp_;
  std::vector<std::vector<std::int32_t>> members_;
  std::vector<double> u_;
  std::vector<float> lb_;
  std::vector<double> p_;
  bool pending_ = false;
};

}  // namespace
}  // namespace accel

RunOutput run_yinyang(const RunInput& in, std::vector<float> centroids) {
  accel::Yinyang y(centroids);
  return accel::run_bounded(in, std::move(centroids), y);
}

}  // namespace personakit::detail
