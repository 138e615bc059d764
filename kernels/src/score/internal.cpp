// Internal scores without all pairs: Calinski–Harabasz, Davies–Bouldin, inertia (one
// streamed pass, ScoreAccumulator) and the simplified (centroid) silhouette.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "kernel_table.hpp"
#include "labels.hpp"
#include "personakit/assign.hpp"
#include "personakit/error.hpp"
#include "personakit/score.hpp"

namespace personakit {
namespace {

void check_k(std::size_t k, std::size_t n, const char* who) {
  if (k < 2 || k + 1 > n)
    throw Error(std::string(who) + ": number of clusters is " + std::to_string(k) +
                "; valid values are 2 to n-1 = " + std::to_string(n > 0 ? n - 1 : 0) + " (n rows scored)");
}

// sum_j (x_j - m_j)^2 in fp64 with four partial sums (j mod 4), added as (0+1)+(2+3):
// four independent add chains instead of one (the serial chain, 4 cycles per add, was
// the pass's bottleneck), in a fixed order, so the same bits on every machine (baseline
// flags and -ffp-contract=off: no ISA-dependent fusion).
inline double sqdiff(const float* x, const double* m, std::size_t d) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  std::size_t j = 0;
  for (; j + 4 <= d; j += 4) {
    const double t0 = double(x[j]) - m[j], t1 = double(x[j + 1]) - m[j + 1];
    const double t2 = double(x[j + 2]) - m[j + 2], t3 = double(x[j + 3]) - m[j + 3];
    a0 += t0 * t0; a1 += t1 * t1; a2 += t2 * t2; a3 += t3 * t3;
  }
  for (; j < d; ++j) { const double t = double(x[j]) - m[j]; a0 += t * t; }
  return (a0 + a1) + (a2 + a3);
}

inline double sqdiff_dd(const double* a, const double* b, std::size_t d) {
  double s = 0;
  for (std::size_t j = 0; j < d; ++j) { const double t = a[j] - b[j]; s += t * t; }
  return s;
}

// Simplified silhouette of rows [0, m) of a chunk: canonical fp32 squared distances to
// all k centroids (dispatched kernel; serial inside the caller's parallel region), then
// s = (b - a) / max(a, b) added to sil[own centroid]. Rows with sl < 0 are skipped.
// sqrt is monotone and correctly rounded, so sqrt(min) = min(sqrt).
void simplified_rows(const float* x, std::size_t m, std::size_t d, const std::int32_t* sl, const PackedCentroids& pc,
                     std::vector<float>& tile, double* sil) {
  const std::size_t k = pc.k();
  tile.resize(m * k);
  sqdist_rows(x, m, d, nullptr, pc, tile.data(), k);
  for (std::size_t i = 0; i < m; ++i) {
    if (sl[i] < 0) continue;
    const auto l = static_cast<std::size_t>(sl[i]);
    const float* t = tile.data() + i * k;
    float bmin = INFINITY;
    for (std::size_t c = 0; c < k; ++c)
      if (c != l) bmin = std::min(bmin, t[c]);
    const double a = std::sqrt(double(t[l])), b = std::sqrt(double(bmin));
    const double mx = std::max(a, b);
    if (mx > 0) sil[l] += (b - a) / mx;
  }
}

}  // namespace

// Rows per chunk of ScoreAccumulator::add_block: fixed (independent of the thread
// count) so that partial sums, merged in chunk order, give the same bits on any machine.
std::size_t ScoreAccumulator::chunk_rows_for(std::size_t k) { return std::max<std::size_t>(8192, 8 * k); }

ScoreAccumulator::ScoreAccumulator(std::size_t d, bool skip_negative) : d_(d), skip_negative_(skip_negative) {
  if (d == 0) throw Error("ScoreAccumulator: d must be at least 1");
}

void ScoreAccumulator::set_centroids(const float* centroids, std::size_t k) {
  if (n_ != 0 || pass_ != 1 || !clusters_.empty())
    throw Error("ScoreAccumulator: set_centroids must come before the first add_block or register_labels");
  if (k == 0) throw Error("ScoreAccumulator: k must be at least 1");
  given_.assign(centroids, centroids + k * d_);
  given_d_.assign(given_.begin(), given_.end());
  given_k_ = k;
  clusters_.assign(k, Cluster{});
  slot_label_.resize(k);
  for (std::size_t c = 0; c < k; ++c) { clusters_[c].mean.assign(d_, 0.0); slot_label_[c] = static_cast<std::int32_t>(c); }
}

void ScoreAccumulator::want_silhouette_simplified(bool on) {
  if (n_ != 0 || pass_ != 1) throw Error("ScoreAccumulator: want_silhouette_simplified must come before the first add_block");
  want_sil_ = on;
}

void ScoreAccumulator::register_labels(const std::int32_t* labels, std::size_t n) {
  if (pass_ != 1) throw Error("ScoreAccumulator: register_labels belongs to pass 1");
  std::vector<std::int32_t> sl(n);
  map_slots(labels, n, sl.data());
}

std::size_t ScoreAccumulator::slot(std::int32_t label) {
  if (given_k_) {
    if (static_cast<std::size_t>(label) >= given_k_)
      throw Error("ScoreAccumulator: label " + std::to_string(label) + " is not a centroid index (k = " +
                  std::to_string(given_k_) + ")");
    return static_cast<std::size_t>(label);
  }
  constexpr std::int32_t kDirect = 1 << 16;  // small labels: a table instead of hashing
  if (label < kDirect && static_cast<std::size_t>(label) < direct_.size() && direct_[label] >= 0)
    return static_cast<std::size_t>(direct_[label]);
  auto it = slot_of_.find(label);
  if (it != slot_of_.end()) return it->second;
  if (pass_ == 2) throw Error("ScoreAccumulator: label " + std::to_string(label) + " first seen in the second pass");
  const std::size_t s = clusters_.size();
  slot_of_.emplace(label, s);
  if (label < kDirect) {
    if (direct_.size() <= static_cast<std::size_t>(label)) direct_.resize(static_cast<std::size_t>(label) + 1, -1);
    direct_[label] = static_cast<std::int32_t>(s);
  }
  slot_label_.push_back(label);
  clusters_.push_back(Cluster{0, 0, 0, 0, 0, std::vector<double>(d_, 0.0)});
  return s;
}

void ScoreAccumulator::map_slots(const std::int32_t* labels, std::size_t n, std::int32_t* sl) {
  // Fast paths without data-dependent branches (labels of a k-means result come in
  // random order: a branch per label change mispredicts about every other row).
  if (given_k_) {
    const auto k = static_cast<std::uint32_t>(given_k_);
    bool bad = false;
    for (std::size_t i = 0; i < n; ++i) {
      const std::int32_t l = labels[i];
      bad |= static_cast<std::uint32_t>(l) >= k && !(l < 0 && skip_negative_);
      sl[i] = l < 0 ? -1 : l;
    }
    if (!bad) return;
  } else if (!direct_.empty()) {
    const auto size = static_cast<std::uint32_t>(direct_.size());
    bool miss = false;
    for (std::size_t i = 0; i < n; ++i) {
      const std::int32_t l = labels[i];
      const std::int32_t s = static_cast<std::uint32_t>(l) < size ? direct_[static_cast<std::size_t>(l)] : -1;
      miss |= s < 0 && !(l < 0 && skip_negative_);
      sl[i] = s;
    }
    if (!miss) return;
  }
  // General path: hashing, new labels, and the errors.
  std::int32_t last_label = 0;
  std::size_t last_slot = static_cast<std::size_t>(-1);
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] < 0) {
      if (!skip_negative_)
        throw Error("ScoreAccumulator: label " + std::to_string(labels[i]) + " is negative (noise); skip_negative drops such rows");
      sl[i] = -1;
      continue;
    }
    if (last_slot == static_cast<std::size_t>(-1) || labels[i] != last_label) { last_label = labels[i]; last_slot = slot(labels[i]); }
    sl[i] = static_cast<std::int32_t>(last_slot);
  }
}

void ScoreAccumulator::add_block(const float* x, const std::int32_t* labels, std::size_t n) {
  const std::size_t d = d_;
  if (sl_.size() < n) sl_.resize(n);  // reused: a fresh 2 MB vector per block cost page faults + memset
  std::int32_t* const sl = sl_.data();
  map_slots(labels, n, sl);
  const std::size_t K = clusters_.size();
  const std::size_t cr = chunk_rows_for(K);
  const std::size_t nchunks = (n + cr - 1) / cr;
  // The simplified silhouette's centroids: the given ones (pass 1) or the pass-1 means
  // as fp32 (pass 2); k >= 2 is needed for b to exist.
  const bool sil = want_sil_ && ((given_k_ && pass_ == 1) || (!given_k_ && pass_ == 2)) && K >= 2;
  PackedCentroids pc;
  if (sil) pc.pack(given_k_ ? given_.data() : sil_centroids_.data(), K, d);
  if (pass_ == 2) {
    std::vector<double> part(nchunks * K, 0.0), spart(sil ? nchunks * K : 0, 0.0);
#pragma omp parallel
    {
      std::vector<float> tile;
#pragma omp for schedule(dynamic, 1)
      for (std::size_t ch = 0; ch < nchunks; ++ch) {
        double* p = part.data() + ch * K;
        const std::size_t i0 = ch * cr, i1 = std::min(n, i0 + cr);
        for (std::size_t i = i0; i < i1; ++i) {
          if (sl[i] < 0) continue;
          p[sl[i]] += std::sqrt(sqdiff(x + i * d, frozen_means_.data() + static_cast<std::size_t>(sl[i]) * d, d));
        }
        if (sil) simplified_rows(x + i0 * d, i1 - i0, d, sl + i0, pc, tile, spart.data() + ch * K);
      }
    }
    for (std::size_t ch = 0; ch < nchunks; ++ch)
      for (std::size_t c = 0; c < K; ++c) {
        clusters_[c].dist_sum += part[ch * K + c];
        if (sil) clusters_[c].sil_sum += spart[ch * K + c];
      }
    for (std::size_t i = 0; i < n; ++i) n2_ += sl[i] >= 0;
    return;
  }
  // Pass 1: per chunk, per cluster: count, mean (fp64), squared deviations about the
  // chunk mean, then Chan's merge in chunk order. Without centroids the deviations take
  // a second sweep over the (L2-resident) chunk; with them, one sweep (see below).
  struct Part { std::vector<double> cnt, sum, m2, dist, sqg, sil; };
  const detail::ScoreKernelTable& kt = detail::score_kernel_table();  // dispatch once per block
  std::vector<Part> parts(nchunks);
#pragma omp parallel
  {
    std::vector<float> tile;
    std::vector<double> scratch;
#pragma omp for schedule(dynamic, 1)
    for (std::size_t ch = 0; ch < nchunks; ++ch) {
      Part& p = parts[ch];
      p.cnt.assign(K, 0); p.sum.assign(K * d, 0); p.m2.assign(K, 0); p.dist.assign(K, 0); p.sqg.assign(K, 0);
      p.sil.assign(sil ? K : 0, 0);
      const std::size_t i0 = ch * cr, i1 = std::min(n, i0 + cr);
      if (given_k_) {  // one sweep: sums and the squared distances to the given centroids
        scratch.resize(4 * K * (d + 3));
        kt.moments_given(x + i0 * d, i1 - i0, d, sl + i0, given_d_.data(), K, p.cnt.data(), p.sum.data(),
                         p.sqg.data(), p.dist.data(), scratch.data());
      } else {
        for (std::size_t i = i0; i < i1; ++i) {
          if (sl[i] < 0) continue;
          const std::size_t c = static_cast<std::size_t>(sl[i]);
          p.cnt[c] += 1;
          double* su = p.sum.data() + c * d;
          const float* xi = x + i * d;
          for (std::size_t j = 0; j < d; ++j) su[j] += xi[j];
        }
      }
      for (std::size_t c = 0; c < K; ++c)
        if (p.cnt[c] > 0)
          for (std::size_t j = 0; j < d; ++j) p.sum[c * d + j] /= p.cnt[c];  // now the chunk mean
      if (given_k_) {
        // One sweep: the chunk's squared deviations about its mean m from those about
        // the given centroid g, Σ|x - m|² = Σ|x - g|² - n|m - g|² (exact in reals).
        // In fp64 the subtraction costs a factor (1 + n|m - g|²/Σ|x - m|²) in relative
        // error: ~1 when g is the cluster's mean (a fitted model), so ~1e-15; it only
        // grows for centroids far from their rows, where the DB/inertia about them is
        // what matters anyway.
        for (std::size_t c = 0; c < K; ++c)
          if (p.cnt[c] > 0) {
            const double off = sqdiff_dd(p.sum.data() + c * d, given_d_.data() + c * d, d);
            p.m2[c] = std::max(0.0, p.sqg[c] - p.cnt[c] * off);
          }
      } else {
        for (std::size_t i = i0; i < i1; ++i) {
          if (sl[i] < 0) continue;
          const std::size_t c = static_cast<std::size_t>(sl[i]);
          p.m2[c] += sqdiff(x + i * d, p.sum.data() + c * d, d);  // the chunk is L2-resident
        }
      }
      if (sil) simplified_rows(x + i0 * d, i1 - i0, d, sl + i0, pc, tile, p.sil.data());
    }
  }
  for (std::size_t ch = 0; ch < nchunks; ++ch) {
    const Part& p = parts[ch];
    for (std::size_t c = 0; c < K; ++c) {
      if (p.cnt[c] == 0) continue;
      Cluster& g = clusters_[c];
      const double na = g.count, nb = p.cnt[c], nt = na + nb;
      double dd = 0;
      for (std::size_t j = 0; j < d; ++j) {
        const double delta = p.sum[c * d + j] - g.mean[j];
        dd += delta * delta;
        g.mean[j] += delta * (nb / nt);
      }
      g.m2 += p.m2[c] + dd * (na * nb / nt);
      g.count = nt;
      g.dist_sum += p.dist[c];
      g.sq_to_given += p.sqg[c];
      if (sil) g.sil_sum += p.sil[c];
    }
  }
  for (std::size_t i = 0; i < n; ++i) n_ += sl[i] >= 0;
}

void ScoreAccumulator::second_pass() {
  if (pass_ != 1) throw Error("ScoreAccumulator: second_pass called twice");
  if (given_k_) throw Error("ScoreAccumulator: no second pass with given centroids (Davies–Bouldin is already available)");
  pass_ = 2;
  frozen_means_.assign(clusters_.size() * d_, 0.0);
  sil_centroids_.assign(clusters_.size() * d_, 0.0f);
  for (std::size_t c = 0; c < clusters_.size(); ++c) {
    std::copy(clusters_[c].mean.begin(), clusters_[c].mean.end(), frozen_means_.begin() + c * d_);
    for (std::size_t j = 0; j < d_; ++j) sil_centroids_[c * d_ + j] = static_cast<float>(clusters_[c].mean[j]);
  }
}

StreamScores ScoreAccumulator::finish() const {
  const std::size_t d = d_;
  StreamScores r;
  r.n = n_;
  // Non-empty clusters in ascending label order.
  std::vector<std::size_t> order;
  for (std::size_t c = 0; c < clusters_.size(); ++c)
    if (clusters_[c].count > 0) order.push_back(c);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return slot_label_[a] < slot_label_[b]; });
  const std::size_t K = order.size();
  r.cluster_labels.resize(K);
  r.counts.resize(K);
  r.means.resize(K * d);
  double m2 = 0, sqg = 0, sil = 0;
  for (std::size_t q = 0; q < K; ++q) {
    const Cluster& g = clusters_[order[q]];
    r.cluster_labels[q] = slot_label_[order[q]];
    r.counts[q] = g.count;
    std::copy(g.mean.begin(), g.mean.end(), r.means.begin() + q * d);
    m2 += g.m2;
    sqg += g.sq_to_given;
    if (g.count > 1) sil += g.sil_sum;  // a row alone in its cluster scores 0
  }
  r.inertia = given_k_ ? sqg : m2;
  const bool have_sil = want_sil_ && n_ > 0 && (given_k_ ? given_k_ >= 2 : (pass_ == 2 && clusters_.size() >= 2));
  if (have_sil) r.silhouette_simplified = sil / double(n_);
  if (K < 2 || K + 1 > n_) return r;
  // Calinski–Harabasz: between-cluster dispersion about the overall mean.
  std::vector<double> mu(d, 0.0);
  for (std::size_t q = 0; q < K; ++q)
    for (std::size_t j = 0; j < d; ++j) mu[j] += r.counts[q] * r.means[q * d + j];
  for (double& v : mu) v /= double(n_);
  double extra = 0;
  for (std::size_t q = 0; q < K; ++q) {
    double s = 0;
    for (std::size_t j = 0; j < d; ++j) { const double t = r.means[q * d + j] - mu[j]; s += t * t; }
    extra += r.counts[q] * s;
  }
  r.calinski_harabasz = m2 == 0.0 ? 1.0 : extra * double(n_ - K) / (m2 * double(K - 1));
  // Davies–Bouldin, when the intra distances are known.
  const bool have_db = given_k_ != 0 || pass_ == 2;
  if (!have_db) return r;
  if (pass_ == 2 && n2_ != n_)
    throw Error("ScoreAccumulator: the second pass saw " + std::to_string(n2_) + " rows, the first " + std::to_string(n_));
  std::vector<double> intra(K), cen(K * d);
  for (std::size_t q = 0; q < K; ++q) {
    const Cluster& g = clusters_[order[q]];
    intra[q] = g.dist_sum / g.count;
    for (std::size_t j = 0; j < d; ++j)
      cen[q * d + j] = given_k_ ? double(given_[order[q] * d + j]) : g.mean[j];
  }
  // numpy's allclose(v, 0): |v| <= 1e-8 everywhere (the diagonal of the centroid
  // distances is 0 and is included, as in scikit-learn).
  constexpr double kAtol = 1e-8;
  bool intra_zero = true, cdist_zero = true;
  for (double v : intra) intra_zero = intra_zero && std::fabs(v) <= kAtol;
  std::vector<double> cd(K * K, 0.0);
  for (std::size_t a = 0; a < K; ++a)
    for (std::size_t b = 0; b < K; ++b) {
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) { const double t = cen[a * d + j] - cen[b * d + j]; s += t * t; }
      cd[a * K + b] = a == b ? 0.0 : std::sqrt(s);
      cdist_zero = cdist_zero && cd[a * K + b] <= kAtol;
    }
  if (intra_zero || cdist_zero) { r.davies_bouldin = 0.0; return r; }
  double db = 0;
  for (std::size_t a = 0; a < K; ++a) {
    double worst = 0;  // a zero distance counts as +inf (ratio 0), as scikit-learn
    for (std::size_t b = 0; b < K; ++b)
      if (cd[a * K + b] != 0.0) worst = std::max(worst, (intra[a] + intra[b]) / cd[a * K + b]);
    db += worst;
  }
  r.davies_bouldin = db / double(K);
  return r;
}

double calinski_harabasz(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                         bool skip_negative) {
  const auto dl = score_detail::internal_labels(labels, n, skip_negative, "calinski_harabasz");
  check_k(dl.values.size(), dl.kept, "calinski_harabasz");
  ScoreAccumulator acc(d, skip_negative);
  acc.add_block(x, labels, n);
  return *acc.finish().calinski_harabasz;
}

double davies_bouldin(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                      bool skip_negative) {
  const auto dl = score_detail::internal_labels(labels, n, skip_negative, "davies_bouldin");
  check_k(dl.values.size(), dl.kept, "davies_bouldin");
  ScoreAccumulator acc(d, skip_negative);
  acc.add_block(x, labels, n);
  acc.second_pass();
  acc.add_block(x, labels, n);
  return *acc.finish().davies_bouldin;
}

double inertia(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
               const float* centroids, std::size_t k, const float* weights, bool skip_negative) {
  if (k == 0 || d == 0) throw Error("inertia: k and d must be at least 1");
  constexpr std::size_t kChunk = 8192;
  const std::size_t nchunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(nchunks, 0.0);
  bool bad = false;
#pragma omp parallel for schedule(static) reduction(|| : bad)
  for (std::size_t ch = 0; ch < nchunks; ++ch) {
    double s = 0;
    for (std::size_t i = ch * kChunk; i < std::min(n, (ch + 1) * kChunk); ++i) {
      const std::int32_t l = labels[i];
      if (l < 0 && skip_negative) continue;
      if (l < 0 || static_cast<std::size_t>(l) >= k) { bad = true; continue; }
      const float* c = centroids + static_cast<std::size_t>(l) * d;
      double r = 0;
      for (std::size_t j = 0; j < d; ++j) { const double t = double(x[i * d + j]) - double(c[j]); r += t * t; }
      s += (weights ? double(weights[i]) : 1.0) * r;
    }
    part[ch] = s;
  }
  if (bad) throw Error("inertia: a label is outside [0, " + std::to_string(k) + ") (negative labels need skip_negative)");
  return std::accumulate(part.begin(), part.end(), 0.0);
}

double silhouette_simplified(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                             const float* centroids, std::size_t k, bool skip_negative) {
  if (k < 2) throw Error("silhouette_simplified: needs at least 2 centroids, got " + std::to_string(k));
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int32_t l = labels[i];
    if (l < 0 && skip_negative) continue;
    if (l < 0 || static_cast<std::size_t>(l) >= k)
      throw Error("silhouette_simplified: label " + std::to_string(l) + " at row " + std::to_string(i) +
                  " is outside [0, " + std::to_string(k) + ")");
    ++kept;
  }
  if (kept == 0) throw Error("silhouette_simplified: no rows to score");
  // The streamed accumulator with the centroids given, fed one block: the same bits as
  // `personakit score` streaming the rows (per-cluster sums per fixed chunk, merged in
  // chunk order). It also does pass 1's moments: ~2·n·d extra flops next to n·k·d.
  ScoreAccumulator acc(d, skip_negative);
  acc.set_centroids(centroids, k);
  acc.want_silhouette_simplified();
  acc.add_block(x, labels, n);
  return *acc.finish().silhouette_simplified;
}

}  // namespace personakit
