// Hamerly (2010), exact: one upper bound u_i >= δ(x_i, c_{a_i}) and one lower bound
// l_i <= min_{j != a_i} δ(x_i, c_j) per row; s_a = min_{j != a} ||c_a - c_j||.
// A row keeps its label when max(l_i, s_a - u_i) proves every other centroid strictly
// worse (bounds.hpp), first with the loose u, then with the exact D(i, a) (computed for
// the rows of a 256-row block that need it by the dispatched own_sqdist, eight fma
// chains at a time); otherwise all k distances are computed. Also holds the driver
// shared by the four variants (the update is update_centroids with a workspace kept
// across iterations).
#include <algorithm>
#include <cmath>

#include "kernel_table.hpp"
#include "kmeans/bounds.hpp"
#include "kmeans/chunked.hpp"
#include "personakit/error.hpp"

namespace personakit::detail {
namespace accel {

namespace {

// True when some cluster has no row of positive weight (update_centroids will re-seed).
bool has_empty_cluster(const std::int32_t* labels, const float* w, std::size_t n, std::size_t k) {
  std::vector<char> has(k, 0);
  std::size_t seen = 0;
  for (std::size_t i = 0; i < n && seen < k; ++i) {
    if (w && !(w[i] > 0)) continue;
    char& h = has[static_cast<std::size_t>(labels[i])];
    if (!h) { h = 1; ++seen; }
  }
  return seen < k;
}

// dist[i] = D(i, labels[i]) for every row: n evaluations, by 256-row blocks with the
// dispatched own_sqdist (independent fma chains interleaved; canonical bits).
void exact_dist(const RunInput& in, const Centres& C, const std::int32_t* labels, float* dist) {
  const KmeansKernelTable& kt = kmeans_kernel_table();
  const std::size_t d = in.d, B = kBlockRows, nblocks = (in.n + B - 1) / B;
  std::uint32_t iota[kBlockRows];
  for (std::size_t r = 0; r < B; ++r) iota[r] = static_cast<std::uint32_t>(r);
#pragma omp parallel for schedule(static)
  for (std::size_t blk = 0; blk < nblocks; ++blk) {
    const std::size_t r0 = blk * B, m = std::min(B, in.n - r0);
    kt.own_sqdist(in.x + r0 * d, d, iota, m, in.xnorm + r0, C.pc.rows(), C.pc.norms(), labels + r0, dist + r0);
  }
}

}  // namespace

RunOutput run_bounded(const RunInput& in0, std::vector<float> c, AlgoBase& algo) {
  if (in0.d == 0 || c.empty() || c.size() % in0.d != 0)
    throw Error("accelerated k-means: centroids do not match the data's dimension");
  const std::size_t n = in0.n, d = in0.d, k = c.size() / d;
  RunInput in = in0;
  std::vector<float> own_norms;
  if (!in.xnorm) {
    own_norms.resize(n);
    row_norms(in.x, n, d, own_norms.data());
    in.xnorm = own_norms.data();
  }
  const KMeansParams* P = in.params;
  const int max_iter = P ? P->max_iter : 300;
  const bool want_progress = P && static_cast<bool>(P->progress);

  RunOutput out;
  std::vector<std::int32_t> labels;
  std::vector<float> dist;
  assign_huge(labels, n, std::int32_t{-1});
  assign_huge(dist, n, 0.0f);
  algo.prepare(in, k);
  // Lloyd's own state (labels, distances, norms, update partials) plus the bounds.
  out.state_bytes = algorithm_state_bytes(Algorithm::lloyd, n, k, d) + algo.state_bytes();

  // The update's totals and chunk partials live across iterations (update.cpp).
  UpdateWorkspace update(k, d);
  Centres C;
  std::vector<float> next;
  std::vector<double> p;
  bool have_bounds = false, consistent = false;
  double inertia = 0;
  for (int it = 1; it <= max_iter; ++it) {
    C.set(c, k, d);
    const std::uint64_t changed = algo.assign(in, C, labels.data(), !have_bounds, &out.distance_evaluations);
    have_bounds = true;
    if (P && P->on_assignment) P->on_assignment(it, labels.data());
    const bool empty = has_empty_cluster(labels.data(), in.weights, n, k);
    if (empty || want_progress) {
      exact_dist(in, C, labels.data(), dist.data());
      out.distance_evaluations += n;
      inertia = inertia_from_dist(dist.data(), in.weights, n);
    }
    std::vector<std::int32_t> before;
    if (empty) before = labels;
    double shift = 0;
    update_centroids(update, in.x, n, d, in.weights, labels.data(), dist.data(), k, c, next, nullptr, &shift);
    if (empty) {
      std::vector<std::size_t> rows;
      for (std::size_t i = 0; i < n; ++i)
        if (labels[i] != before[i]) rows.push_back(i);
      algo.reset_rows(rows);
    }
    out.iterations = it;
    report_progress(in, it, inertia, shift);
    centroid_shifts(c, next, k, d, p);
    algo.moved(p);
    if (changed == 0) {
      out.converged = true;
      consistent = next == c;
      c.swap(next);
      break;
    }
    c.swap(next);
    if (in.tol_abs > 0 && shift <= in.tol_abs) {
      out.converged = true;
      break;
    }
  }
  C.set(c, k, d);
  if (!consistent) algo.assign(in, C, labels.data(), !have_bounds, &out.distance_evaluations);
  exact_dist(in, C, labels.data(), dist.data());
  out.distance_evaluations += n;
  out.inertia = inertia_from_dist(dist.data(), in.weights, n);
  out.sizes.assign(k, 0);
  for (std::size_t i = 0; i < n; ++i) ++out.sizes[static_cast<std::size_t>(labels[i])];
  out.centroids = std::move(c);
  out.labels = std::move(labels);
  return out;
}

// ---------------------------------------------------------------------------------
namespace {

class Hamerly final : public AlgoBase {
 public:
  void prepare(const RunInput& in, std::size_t k) override {
    n_ = in.n; k_ = k;
    tighten_ = true;
    passes_ = 0;
    assign_huge(u_, n_, kInf);
    assign_huge(l_, n_, 0.0f);
  }
  std::size_t state_bytes() const override { return accel_state_bytes(Algorithm::hamerly, n_, k_, 0); }
  void moved(const std::vector<double>& p) override { p_ = p; pending_ = true; }
  void reset_rows(const std::vector<std::size_t>& rows) override {
    for (const std::size_t i : rows) { u_[i] = kInf; l_[i] = 0.0f; }
  }

  std::uint64_t assign(const RunInput& in, const Centres& C, std::int32_t* labels, bool first,
                       std::uint64_t* evals) override {
    const std::size_t k = k_, d = in.d;
    // s_a: half of Hamerly's s; here the full gap, used as δ(x, c_j) >= s_a - u.
    // From the symmetric gap matrix (each pair once).
    std::vector<double> s(k, kInf);
    centre_gaps(C, cc_);
    for (std::size_t a = 0; a < k; ++a) {
      const double* row = cc_.data() + a * k;
      double m = kInf;
      for (std::size_t b = 0; b < k; ++b)
        if (b != a) m = std::min(m, row[b]);
      s[a] = m;
    }
    // Largest and second-largest shift, for max_{j != a} p_j.
    double p1 = 0, p2 = 0;
    std::size_t j1 = k;
    if (pending_ && !first) {
      for (std::size_t j = 0; j < k; ++j) {
        if (p_[j] > p1) { p2 = p1; p1 = p_[j]; j1 = j; }
        else if (p_[j] > p2) p2 = p_[j];
      }
    }
    const bool shift = pending_ && !first;
    pending_ = false;
    // Tightening (D(i, a) exactly, then the test again) only pays while it settles a
    // fair share of the rows that fail the loose test. When it settled < 5 % of them,
    // the next passes send those rows straight to the full scan (the scan sets u and l
    // afresh, so results do not change), probing again every 8th pass.
    const bool tighten = tighten_ || (++passes_ % 8 == 0);
    const KmeansKernelTable& kt = kmeans_kernel_table();  // dispatch once per pass
    std::uint64_t ev = 0, changes = 0, tried = 0, settled = 0;
    const std::size_t B = kBlockRows, nblocks = (n_ + B - 1) / B;
#pragma omp parallel reduction(+ : ev, changes, tried, settled)
    {
      std::vector<std::size_t> scan;
      scan.reserve(B);
      std::vector<float> xb(B * d), nb(B), D1(B), D2(B);
      std::vector<std::int32_t> l1(B), l2(B);
      std::vector<std::uint32_t> need(B);
      std::vector<std::int32_t> needc(B);
      std::vector<float> needD(B);
      std::vector<double> needl(B);
#pragma omp for schedule(dynamic, 1)
      for (std::size_t blk = 0; blk < nblocks; ++blk) {
        const std::size_t r0 = blk * B, r1 = std::min(n_, r0 + B);
        scan.clear();
        // Phase 1: the test with the loose bound u; the rows it cannot settle get their
        // exact D(i, a) in phase 2 (eight independent fma chains at a time, own_sqdist)
        // and are tested again in phase 3; the rest go to the full scan.
        std::size_t nneed = 0;
        for (std::size_t i = r0; i < r1; ++i) {
          if (first) { scan.push_back(i); continue; }
          const double E = C.row_error(in.xnorm[i]);
          const std::size_t a = static_cast<std::size_t>(labels[i]);
          double u = u_[i], l = l_[i];
          if (shift) {
            u = add_up(u, p_[a]);
            l = sub_dn(l, a == j1 ? p2 : p1);
          }
          const double z = std::max(l, sub_dn(s[a], u));
          if (u < kInf && proves(z, u * u + 2 * E)) { u_[i] = u; l_[i] = lo32(l); continue; }
          if (!tighten) { scan.push_back(i); continue; }
          need[nneed] = static_cast<std::uint32_t>(i - r0);  // block-relative
          needc[nneed] = labels[i];
          needl[nneed] = l;
          ++nneed;
        }
        if (nneed > 0) {
          kt.own_sqdist(in.x + r0 * d, d, need.data(), nneed, in.xnorm + r0, C.pc.rows(), C.pc.norms(),
                        needc.data(), needD.data());
          ev += nneed;
        }
        for (std::size_t r = 0; r < nneed; ++r) {
          const std::size_t i = r0 + need[r];
          const double E = C.row_error(in.xnorm[i]);
          const std::size_t a = static_cast<std::size_t>(needc[r]);
          const float Da = needD[r];
          const double l = needl[r];
          const double u = upper_from(Da, E);
          const double z = std::max(l, sub_dn(s[a], u));
          if (proves(z, static_cast<double>(Da) + E)) { u_[i] = u; l_[i] = lo32(l); ++settled; continue; }
          scan.push_back(i);
        }
        tried += nneed;
        // Full scans with the tuned kernel: Lloyd's argmin (lowest index on ties) and
        // the second smallest D (assign_nearest2 gives the same bits as assign_nearest).
        const std::size_t m = scan.size();
        if (m == 0) continue;
        const float* xs = in.x + r0 * d;
        const float* ns = in.xnorm + r0;
        if (!first) {
          gather_rows(in, scan.data(), m, xb.data(), nb.data());
          xs = xb.data();
          ns = nb.data();
        }
        assign_nearest2(xs, m, d, ns, C.pc, l1.data(), D1.data(), l2.data(), D2.data());
        ev += static_cast<std::uint64_t>(m) * k;
        for (std::size_t t = 0; t < m; ++t) {
          const std::size_t i = scan[t];
          const double E = C.row_error(in.xnorm[i]);
          changes += (l1[t] != labels[i]);
          labels[i] = l1[t];
          u_[i] = upper_from(D1[t], E);
          l_[i] = k > 1 ? lo32(lower_from(D2[t], E)) : std::numeric_limits<float>::infinity();
        }
      }
    }
    *evals += ev;
    if (tighten && tried > 0) tighten_ = settled * 20 >= tried;
    return changes;
  }

 private:
  std::size_t n_ = 0, k_ = 0;
  bool tighten_ = true;
  std::uint64_t passes_ = 0;
  std::vector<double> u_;
  std::vector<float> l_;
  std::vector<double> p_, cc_;
  bool pending_ = false;
};

}  // namespace
}  // namespace accel

std::size_t accel_state_bytes(Algorithm a, std::size_t n, std::size_t k, std::size_t /*d*/) {
  switch (a) {
    case Algorithm::hamerly: return n * (8 + 4) + k * 16;                 // u fp64, l fp32; s, p
    case Algorithm::elkan: return n * k * 4 + n * 8 + k * k * 8 + k * 16;  // l n×k fp32, u, gaps
    case Algorithm::yinyang: return n * accel::yinyang_groups(k) * 4 + n * 8 + k * 24;
    case Algorithm::exponion: return n * (8 + 4) + k * (k ? k - 1 : 0) * 12 + k * 16;
    default: return 0;
  }
}

RunOutput run_hamerly(const RunInput& in, std::vector<float> centroids) {
  accel::Hamerly h;
  return accel::run_bounded(in, std::move(centroids), h);
}

}  // namespace personakit::detail
