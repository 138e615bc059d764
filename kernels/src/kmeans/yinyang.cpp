// Yinyang k-means (Ding et al. 2015), exact: the k centroids are split once into
// t = max(1, k/10) groups (k-means of the initial centroids, fp64, 5 Lloyd steps from
// the centroids at indices floor(g·k/t)); per row an upper bound u_i and t group lower
// bounds lb_ig <= min_{j in g, j != a_i} δ(x_i, c_j) (fp32, rounded down).
// Global filter: min_g lb_ig proves every other centroid worse -> keep the label.
// Group filter: lb_ig proves the whole group worse than the current best -> skip it.
// A group that passes gets the exact canonical distances of all its members.
//
// Bounds moved by displacements, not summed shifts (the "ns" bounds of Newling & Fleuret
// 2016): each group bound is stored with the pass that set it (a uint16 stamp), and it
// is moved by max_{j in g} ||c_j(now) - c_j(then)||, never larger than the sum of the
// group's largest shifts over those passes (the triangle inequality), and much smaller
// when the centroids wander. A bound that no pass needs to tighten is left as it is
// (settled rows and unvisited groups keep their stamps). The last W sets of centroids
// are kept (bounds.hpp's yinyang_window, 2..32); a bound about to outlive the window is
// moved to the current pass (the classic chain) as its row passes.
//
// No local filter. Ding et al. also skip the members j of a passing group with
// lb_ig - p_j above the threshold. The kernel computes whole 16-lane sub-panels, so
// skipping saves no time, and the skipped members leave the group a looser bound than
// their distances would. Measured (docs/accelerated.md, "Yinyang's bounds"): on the
// suite's blobs the filter took the count from 17.8 % to 22.7 % of Lloyd's with the
// classic chain, and from 16.1 % to 15.6 % with these bounds at 1.6-1.8× the time; on
// the generated customers it raised both count and time.
//
// Evaluation: the centroids are packed group by group into sub-panels of 16 lanes
// (GroupPanels below; a group of g members takes ceil(g/16) sub-panels). Per 256-row
// block: phase 1 applies the global filter with the loose bound u; phase 2 computes the
// exact D(i, a) of the rows it could not settle (own_sqdist, 8 fma chains at a time);
// phase 3 re-tests them and visits, in rounds over the whole block, the groups that pass
// the group filter (first each row's group of smallest bound, then all the others that
// still pass under the tightened threshold). A round's jobs are sorted by sub-panel and
// each sub-panel scans all its rows in one call of the dispatched panel16_rows kernel
// (the sub-panel loaded once per feature for eight rows, lanes = centroids with the
// canonical fma chain per lane, then the min / lowest lane / runner-up per job). Every
// member lane of a visited group (a excepted) is counted in distance_evaluations.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "kernel_table.hpp"
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

// The centroids packed group by group: sub-panel s holds up to 16 members of one group
// in lanes, [j][lane], with their canonical norms (pad lanes: zeros and +inf norms).
struct GroupPanels {
  std::size_t d = 0, nsp = 0;
  std::vector<std::int32_t> first, count;     // per group: first sub-panel, number of them
  std::vector<std::int32_t> idx;              // nsp×16 centroid index per lane (-1: pad)
  std::vector<std::int32_t> sp_group;         // group of each sub-panel
  std::vector<unsigned> valid;                // per sub-panel: mask of its member lanes
  std::vector<std::int32_t> where;            // per centroid: sub-panel·16 + lane
  std::vector<float> data;                    // nsp×d×16 (+16 for alignment)
  std::vector<float> norms;                   // nsp×16
  std::size_t off = 0;                        // data offset to a 64-byte boundary
  void layout(const std::vector<std::vector<std::int32_t>>& members, std::size_t d_) {
    d = d_;
    const std::size_t L = kGroupLanes;
    first.assign(members.size(), 0);
    count.assign(members.size(), 0);
    idx.clear();
    sp_group.clear();
    for (std::size_t q = 0; q < members.size(); ++q) {
      first[q] = static_cast<std::int32_t>(sp_group.size());
      const std::size_t g = members[q].size();
      for (std::size_t b = 0; b < g; b += L) {
        sp_group.push_back(static_cast<std::int32_t>(q));
        for (std::size_t l = 0; l < L; ++l) idx.push_back(b + l < g ? members[q][b + l] : -1);
      }
      count[q] = static_cast<std::int32_t>(sp_group.size()) - first[q];
    }
    nsp = sp_group.size();
    valid.assign(nsp, 0u);
    std::size_t kk = 0;
    for (std::size_t e = 0; e < idx.size(); ++e)
      if (idx[e] >= 0) { valid[e / L] |= 1u << (e % L); kk = std::max(kk, static_cast<std::size_t>(idx[e]) + 1); }
    where.assign(kk, -1);
    for (std::size_t e = 0; e < idx.size(); ++e)
      if (idx[e] >= 0) where[static_cast<std::size_t>(idx[e])] = static_cast<std::int32_t>(e);
    data.assign(nsp * d * L + 16, 0.0f);
    off = ((64 - reinterpret_cast<std::uintptr_t>(data.data()) % 64) % 64) / sizeof(float);
    norms.assign(nsp * L, std::numeric_limits<float>::infinity());
  }
  // Refill with the current centroids (row-major rows and canonical norms of C.pc).
  void fill(const Centres& C) {
    const std::size_t L = kGroupLanes;
    const float* rows = C.pc.rows();
    float* base = data.data() + off;
    for (std::size_t s = 0; s < nsp; ++s)
      for (std::size_t l = 0; l < L; ++l) {
        const std::int32_t j = idx[s * L + l];
        float* dst = base + s * d * L + l;
        if (j < 0) {
          for (std::size_t f = 0; f < d; ++f) dst[f * L] = 0.0f;
          norms[s * L + l] = std::numeric_limits<float>::infinity();
        } else {
          const float* src = rows + static_cast<std::size_t>(j) * d;
          for (std::size_t f = 0; f < d; ++f) dst[f * L] = src[f];
          norms[s * L + l] = C.pc.norms()[j];
        }
      }
  }
  const float* panels() const { return data.data() + off; }
};

// Lane bit of centroid j in sub-panel s (0 when j is not in s).
inline unsigned lane_bit_of(const GroupPanels& gp, std::size_t s, std::int32_t j) {
  const std::int32_t e = gp.where[static_cast<std::size_t>(j)];
  return static_cast<std::size_t>(e) / kGroupLanes == s ? 1u << (static_cast<std::size_t>(e) % kGroupLanes) : 0u;
}

// A group bound l (fp32) moved by p (fp32, rounded up), rounded down in fp32:
// fl(l - p) errs by <= 2^-24 (|l| + p), and subtracting 2^-22 (|l| + p) (rounded, then
// the subtraction rounded) leaves a net move down >= 2^-23 (|l| + p) - O(2^-46); with
// FMA contraction (native builds) the single rounding only helps. +inf stays +inf (the
// slack term is capped below +inf, so no inf - inf). elkan_filter uses the same rule.
inline float dec32(float l, float p) {
  const float m = 0x1p-22f * (std::fabs(l) + p);
  return (l - p) - (m < std::numeric_limits<float>::max() ? m : std::numeric_limits<float>::max());
}

// The lane shifts panel16_rows asks for: with the threshold -inf nothing is filtered.
alignas(64) constexpr float kNoShifts[kGroupLanes] = {};

// Rounds of phase 3 (see assign_rows): kRounds - 1 single-group rounds, then the rest.
constexpr int kRounds = 2;

class Yinyang final : public AlgoBase {
 public:
  explicit Yinyang(const std::vector<float>& c0) : c0_(c0) {}
  void prepare(const RunInput& in, std::size_t k) override {
    n_ = in.n;
    k_ = k;
    d_ = in.d;
    t_ = yinyang_groups(k);
    w_ = yinyang_window(k, in.d);
    group_centroids(c0_, k, in.d, t_, grp_, members_);
    gp_.layout(members_, in.d);
    assign_huge(u_, n_, kInf);
    assign_huge(lb_, n_ * t_, 0.0f);
    assign_huge(ts_, n_ * t_, std::uint16_t{0});
    hist_.assign(w_ * k * in.d, 0.0f);
    gdis_.assign(w_ * t_, 0.0f);
  }
  std::size_t state_bytes() const override { return accel_state_bytes(Algorithm::yinyang, n_, k_, d_); }
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
      std::fill(ts_.begin() + static_cast<std::ptrdiff_t>(i * t_),
                ts_.begin() + static_cast<std::ptrdiff_t>((i + 1) * t_), static_cast<std::uint16_t>(now_));
    }
  }

  void begin_pass(const Centres& C, bool first) override {
    const std::size_t k = k_, t = t_, d = d_, W = w_;
    first_ = first;
    shift_ = pending_ && !first;
    pending_ = false;
    now_ = first ? 0 : now_ + 1;
    // This pass's centroids into the window; then, for each earlier pass still in it
    // (now - 1 .. now - (W - 1), those that happened), each group's largest displacement
    // to them (centroid_shift, then fp32 rounded up). The current slot's are 0; the
    // others are never asked for.
    const std::size_t cur = now_ & (W - 1);
    const float* rows = C.pc.rows();
    std::copy(rows, rows + k * d, hist_.begin() + static_cast<std::ptrdiff_t>(cur * k * d));
    std::fill(gdis_.begin(), gdis_.end(), 0.0f);
    const std::size_t ages = std::min<std::size_t>(now_, W - 1);
    for (std::size_t age = 1; age <= ages; ++age) {
      const std::size_t sl = (now_ - age) & (W - 1);
      float* gd = gdis_.data() + sl * t;
      const float* old = hist_.data() + sl * k * d;
      for (std::size_t j = 0; j < k; ++j) {
        const float p = -lo32(-centroid_shift(old + j * d, rows + j * d, d));
        float& g = gd[static_cast<std::size_t>(grp_[j])];
        g = std::max(g, p);
      }
    }
    if (!first) gp_.fill(C);
    kt_ = &kmeans_kernel_table();  // dispatch once per pass
  }

  void assign_rows(const RunInput& in, std::size_t row0, const Centres& C, std::int32_t* labels,
                   AssignCounts& cnt) override {
    const std::size_t k = k_, d = in.d, t = t_, n = in.n;
    constexpr std::size_t L = kGroupLanes;
    const bool first = first_, shift = shift_;
    const std::size_t W = w_;
    const auto now = static_cast<std::uint16_t>(now_);
    const float* gdis = gdis_.data();
    const KmeansKernelTable& kt = *kt_;
    double* U = u_.data() + row0;    // this range's bounds, by local row
    float* LBb = lb_.data() + row0 * t;
    std::uint16_t* TSb = ts_.data() + row0 * t;
    const float* panels = gp_.panels();
    const float* pnorms = gp_.norms.data();
    std::uint64_t ev = 0, changes = 0;
    const std::size_t B = kBlockRows, nblocks = (n + B - 1) / B;
#pragma omp parallel reduction(+ : ev, changes)
    {
      std::vector<float> buf(first ? B * k : 0);
      std::vector<double> nlb0(first ? t : 0);
      std::vector<float> nlb(first ? 0 : B * t), cur(first ? 0 : B * t);
      std::vector<float> minD(first ? 0 : B * t);
      std::vector<unsigned char> visited(first ? 0 : B * t), live(first ? 0 : B);
      std::vector<double> rE(B), rthr(B);
      std::vector<float> rDb(B);
      std::vector<std::int32_t> rb(B);
      std::vector<std::uint32_t> act(B);
      // One round's jobs (at most every sub-panel for every row), sorted by sub-panel.
      const std::size_t maxj = first ? 0 : B * gp_.nsp;
      std::vector<Panel16RowJob> tmp(maxj), jobs(maxj);
      std::vector<std::uint32_t> tsp(maxj), tri(maxj), jri(maxj), spn(gp_.nsp + 1);
      std::vector<Panel16Res> jres(maxj);
      std::vector<std::uint32_t> need(B);
      std::vector<std::int32_t> needc(B);
      std::vector<float> needD(B);
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
            std::int32_t b = 0;
            for (std::size_t j = 1; j < k; ++j)
              if (Di[j] < Di[static_cast<std::size_t>(b)]) b = static_cast<std::int32_t>(j);
            std::fill(nlb0.begin(), nlb0.end(), kInf);
            for (std::size_t j = 0; j < k; ++j)
              if (j != static_cast<std::size_t>(b)) {
                double& v = nlb0[static_cast<std::size_t>(grp_[j])];
                v = std::min(v, lower_from(Di[j], E));
              }
            float* LB = LBb + i * t;
            std::uint16_t* TS = TSb + i * t;
            for (std::size_t q = 0; q < t; ++q) {
              LB[q] = lo32(nlb0[q]);
              TS[q] = now;
            }
            changes += (b != labels[i]);
            labels[i] = b;
            U[i] = upper_from(Di[static_cast<std::size_t>(b)], E);
          }
          continue;
        }
        // Phase 1: the global filter with the loose bound u; the rows it cannot settle
        // get their exact D(i, a) in phase 2, eight independent fma chains at a time.
        // The moved group bounds go to the row's slot of cur (phase 3 keeps them for the
        // rows that fail). A bound whose stamp would leave the window by the next pass
        // is moved to this pass here (stored with this pass's stamp), whatever the row's
        // fate; the others keep their value and stamp unless phase 3 improves them.
        std::size_t nneed = 0;
        for (std::size_t i = r0; i < r1; ++i) {
          float* LB = LBb + i * t;
          std::uint16_t* TS = TSb + i * t;
          const std::size_t au = static_cast<std::size_t>(labels[i]);
          double u = U[i];
          if (shift) u = add_up(u, p_[au]);
          float* cr = cur.data() + nneed * t;
          float gmin = std::numeric_limits<float>::infinity();
          for (std::size_t q = 0; q < t; ++q) {
            const std::size_t age = static_cast<std::uint16_t>(now - TS[q]);
            const float g = gdis[(TS[q] & (W - 1)) * t + q];
            const float c = g > 0.0f ? dec32(LB[q], g) : LB[q];
            cr[q] = c;
            gmin = c < gmin ? c : gmin;
            if (age + 1 >= W) {
              LB[q] = c;
              TS[q] = now;
            }
          }
          if (u < kInf && static_cast<double>(gmin) > thr_of(u * u + 2 * C.row_error(in.xnorm[i]))) {
            U[i] = u;
            continue;
          }
          need[nneed] = static_cast<std::uint32_t>(i - r0);  // block-relative
          needc[nneed] = labels[i];
          ++nneed;
        }
        if (nneed == 0) continue;
        kt.own_sqdist(in.x + r0 * d, d, need.data(), nneed, in.xnorm + r0, C.pc.rows(), C.pc.norms(), needc.data(),
                      needD.data());
        ev += nneed;
        // Phase 3, per row r of the survivors (state in the block buffers at r·t):
        //   cur[q]: the group bound moved to this pass; nlb[q]: the new bound of group q
        //   over its members other than the final label (skipped groups: cur[q]; a
        //   visited group: +inf, then its members' distances through minD); minD[q]: the
        //   smallest D of its evaluated non-best members (lower_from is monotone in D:
        //   one sqrt per group at the end). The old label a is in no group bound: its D
        //   joins its group's minD at the end if the label changes.
        // A visited group gets every member's distance (no local filter: see the header).
        // Groups are visited in rounds over the whole block: in each of the first
        // kRounds-1 rounds every row visits its unvisited group of smallest bound (ties:
        // lower index) if that group passes the group filter, so the threshold tightens
        // early (the nearest centroid tends to sit there); the last round visits every
        // remaining group that passes. A round's jobs are sorted by sub-panel and each
        // sub-panel scans all its rows in one panel16_rows call (the panel loaded once per
        // feature for eight rows). Which distances a row gets depends only on its own
        // bounds and results, so the blocking and the thread count change nothing.
        std::size_t nact = 0;
        for (std::size_t r = 0; r < nneed; ++r) {
          const std::size_t i = r0 + need[r];
          const double E = C.row_error(in.xnorm[i]);
          const float* cr = cur.data() + r * t;
          float gmin = std::numeric_limits<float>::infinity();
          for (std::size_t q = 0; q < t; ++q) gmin = cr[q] < gmin ? cr[q] : gmin;
          const float Da = needD[r];
          rE[r] = E;
          rb[r] = labels[i];
          rDb[r] = Da;
          rthr[r] = thr_of(static_cast<double>(Da) + E);
          live[r] = 0;
          if (static_cast<double>(gmin) > rthr[r]) {
            U[i] = upper_from(Da, E);
            continue;
          }
          float* nl = nlb.data() + r * t;
          float* md = minD.data() + r * t;
          unsigned char* vis = visited.data() + r * t;
          for (std::size_t q = 0; q < t; ++q) {
            nl[q] = cr[q];
            md[q] = std::numeric_limits<float>::infinity();
            vis[q] = 0;
          }
          act[nact++] = static_cast<std::uint32_t>(r);
          live[r] = 1;
        }
        for (int round = 0; round < kRounds && nact > 0; ++round) {
          const bool last = round == kRounds - 1;
          // Jobs of this round, then counting-sorted by sub-panel.
          std::size_t nj = 0;
          std::size_t keep = 0;
          for (std::size_t ai = 0; ai < nact; ++ai) {
            const std::size_t r = act[ai];
            const std::size_t i = r0 + need[r];
            const float* cr = cur.data() + r * t;
            float* nl = nlb.data() + r * t;
            unsigned char* vis = visited.data() + r * t;
            const double thr = rthr[r];
            const std::int32_t a = labels[i];
            const std::size_t ga = static_cast<std::size_t>(grp_[static_cast<std::size_t>(a)]);
            auto emit = [&](std::size_t q) {
              vis[q] = 1;
              nl[q] = std::numeric_limits<float>::infinity();
              const std::size_t s0 = static_cast<std::size_t>(gp_.first[q]);
              const std::size_t s1 = s0 + static_cast<std::size_t>(gp_.count[q]);
              for (std::size_t sp = s0; sp < s1; ++sp) {
                // Members other than a: pad lanes and a take no part.
                unsigned allow = gp_.valid[sp];
                if (q == ga) allow &= ~lane_bit_of(gp_, sp, a);
                if (!allow) continue;
                tmp[nj] = Panel16RowJob{need[r], allow, -std::numeric_limits<float>::infinity()};
                tsp[nj] = static_cast<std::uint32_t>(sp);
                tri[nj] = static_cast<std::uint32_t>(r);
                ++nj;
              }
            };
            if (!last) {
              std::size_t qb = t;
              float vb = std::numeric_limits<float>::infinity();
              for (std::size_t q = 0; q < t; ++q)
                if (!vis[q] && cr[q] < vb) {
                  vb = cr[q];
                  qb = q;
                }
              if (qb == t || !(static_cast<double>(vb) <= thr)) continue;  // no group passes: the row is done
              emit(qb);
              act[keep++] = static_cast<std::uint32_t>(r);
            } else {
              for (std::size_t q = 0; q < t; ++q)
                if (!vis[q] && static_cast<double>(cr[q]) <= thr) emit(q);
            }
          }
          nact = keep;
          if (nj == 0) continue;
          std::fill(spn.begin(), spn.end(), 0u);
          for (std::size_t e = 0; e < nj; ++e) ++spn[tsp[e] + 1];
          for (std::size_t sp = 0; sp < gp_.nsp; ++sp) spn[sp + 1] += spn[sp];
          for (std::size_t e = 0; e < nj; ++e) {
            const std::uint32_t pos = spn[tsp[e]]++;
            jobs[pos] = tmp[e];
            jri[pos] = tri[e];
          }
          // spn[sp] is now the end of sub-panel sp's jobs (the start of sp + 1's).
          std::size_t e0 = 0;
          for (std::size_t sp = 0; sp < gp_.nsp; ++sp) {
            const std::size_t e1 = spn[sp];
            if (e1 == e0) continue;
            kt.panel16_rows(in.x + r0 * d, d, in.xnorm + r0, panels + sp * d * L, pnorms + sp * L, kNoShifts,
                            jobs.data() + e0, e1 - e0, jres.data() + e0);
            const std::size_t q = static_cast<std::size_t>(gp_.sp_group[sp]);
            for (std::size_t e = e0; e < e1; ++e) {
              const Panel16Res& res = jres[e];
              const std::size_t r = jri[e];
              float* md = minD.data() + r * t;
              if (res.l1 < 0) continue;
              ev += static_cast<std::uint64_t>(__builtin_popcount(res.mask));
              const std::int32_t j = gp_.idx[sp * L + static_cast<std::size_t>(res.l1)];
              if (better(res.m1, j, rDb[r], rb[r])) {
                // The replaced best becomes an "other" of its group (a: at the end).
                if (rb[r] != labels[r0 + need[r]]) {
                  float& m = md[static_cast<std::size_t>(grp_[static_cast<std::size_t>(rb[r])])];
                  m = std::min(m, rDb[r]);
                }
                rb[r] = j;
                rDb[r] = res.m1;
                rthr[r] = thr_of(static_cast<double>(res.m1) + rE[r]);
                md[q] = std::min(md[q], res.m2);
              } else {
                md[q] = std::min(md[q], res.m1);
              }
            }
            e0 = e1;
          }
        }
        // Every row of phase 3 that visited a group: its new bounds and label. A visited
        // group (and the old label's group when the label changes) gets a bound for this
        // pass and this pass's stamp; the others keep theirs.
        for (std::size_t r = 0; r < nneed; ++r) {
          const std::size_t i = r0 + need[r];
          if (!live[r]) continue;
          const std::int32_t a = labels[i], b = rb[r];
          const double E = rE[r];
          float* md = minD.data() + r * t;
          const float* nl = nlb.data() + r * t;
          const unsigned char* vis = visited.data() + r * t;
          if (b != a) {
            const std::size_t ga = static_cast<std::size_t>(grp_[static_cast<std::size_t>(a)]);
            md[ga] = std::min(md[ga], needD[r]);
          }
          float* LB = LBb + i * t;
          std::uint16_t* TS = TSb + i * t;
          for (std::size_t q = 0; q < t; ++q) {
            const bool some = md[q] < std::numeric_limits<float>::infinity();
            if (!vis[q] && !some) continue;
            LB[q] = some ? std::min(nl[q], lo32(lower_from(md[q], E))) : nl[q];
            TS[q] = now;
          }
          changes += (b != a);
          labels[i] = b;
          U[i] = upper_from(rDb[r], E);
        }
      }
    }
    cnt.evals += ev;
    cnt.changes += changes;
  }

 private:
  std::vector<float> c0_;
  std::size_t n_ = 0, k_ = 0, t_ = 1;
  std::vector<std::int32_t> grp_;
  std::vector<std::vector<std::int32_t>> members_;
  GroupPanels gp_;
  std::size_t d_ = 0, w_ = 2;
  std::vector<double> u_;
  std::vector<float> lb_;
  std::vector<std::uint16_t> ts_;  // per bound: the pass (mod 2^16) it holds for
  std::vector<double> p_;
  bool pending_ = false;
  // The pass in progress (begin_pass); read-only while rows are assigned.
  bool first_ = true, shift_ = false;
  std::uint32_t now_ = 0;         // passes since the first
  std::vector<float> hist_;       // W slots of k×d centroids (slot: pass mod W)
  std::vector<float> gdis_;       // W slots × t: the largest displacement in each group
  const KmeansKernelTable* kt_ = nullptr;
};

}  // namespace
}  // namespace accel

RunOutput run_yinyang(const RunInput& in, std::vector<float> centroids, RowSource* src) {
  accel::Yinyang y(centroids);
  return src ? accel::run_bounded_streamed(*src, in, std::move(centroids), y)
             : accel::run_bounded(in, std::move(centroids), y);
}

}  // namespace personakit::detail
