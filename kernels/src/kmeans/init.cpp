// Initialisation: random rows, greedy k-means++, k-means|| (Bahmani et al. 2012).
//
// Every random draw comes either from a sequential splitmix64 stream (the few draws
// made in order: first centre, candidates) or from a counter-based draw keyed by the
// row index (k-means|| oversampling), and every sum is fp64 per fixed chunk of
// kChunkRows rows added in chunk order: results are identical for any thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <unordered_set>

#include <omp.h>

#include "kmeans/chunked.hpp"
#include "personakit/error.hpp"

namespace personakit::detail {
namespace {

std::size_t nchunks_of(std::size_t n) { return (n + kChunkRows - 1) / kChunkRows; }

// Index of the row that a draw r in [0, total) falls on, where row i owns an interval of
// length v(i) = w_i * closest_i laid out chunk by chunk (chunk_pot[c] = fp64 sum of v in
// row order). value(c, buf) fills buf with v for chunk c's rows. Returns n if no row has
// positive mass.
template <class V>
std::size_t pick_row(double r, const std::vector<double>& chunk_pot, std::size_t n, const V& value,
                     std::vector<double>& buf) {
  const std::size_t nc = chunk_pot.size();
  double cum = 0;
  std::size_t c = 0, last_pos = nc;
  for (; c < nc; ++c) {
    if (chunk_pot[c] > 0) last_pos = c;
    if (cum + chunk_pot[c] > r) break;
    cum += chunk_pot[c];
  }
  if (c == nc) {  // rounding at the very end: take the last chunk with mass
    if (last_pos == nc) return n;
    c = last_pos;
    r = cum;  // forces the last positive row of that chunk
  }
  const std::size_t r0 = c * kChunkRows, m = std::min(kChunkRows, n - r0);
  buf.resize(m);
  value(c, buf);
  const double rl = r - cum;
  double s = 0;
  std::size_t lastp = m;
  for (std::size_t i = 0; i < m; ++i) {
    if (buf[i] > 0) lastp = i;
    s += buf[i];
    if (s > rl && buf[i] > 0) return r0 + i;
  }
  return lastp == m ? n : r0 + lastp;
}

// sum_i w_i min(cl_i, b_i) over one chunk, fp64, as four interleaved partial sums
// (rows i = 0, 1, 2, 3 mod 4) added as (s0 + s1) + (s2 + s3): a fixed order, so the
// same bits for any thread count, and four independent add chains instead of one.
double pot_sum(const float* cl, const float* b, const float* w, std::size_t m) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t i = 0;
  if (w) {
    for (; i + 4 <= m; i += 4) {
      s0 += static_cast<double>(w[i]) * std::min(cl[i], b[i]);
      s1 += static_cast<double>(w[i + 1]) * std::min(cl[i + 1], b[i + 1]);
      s2 += static_cast<double>(w[i + 2]) * std::min(cl[i + 2], b[i + 2]);
      s3 += static_cast<double>(w[i + 3]) * std::min(cl[i + 3], b[i + 3]);
    }
    for (; i < m; ++i) s0 += static_cast<double>(w[i]) * std::min(cl[i], b[i]);
  } else {
    for (; i + 4 <= m; i += 4) {
      s0 += std::min(cl[i], b[i]);
      s1 += std::min(cl[i + 1], b[i + 1]);
      s2 += std::min(cl[i + 2], b[i + 2]);
      s3 += std::min(cl[i + 3], b[i + 3]);
    }
    for (; i < m; ++i) s0 += std::min(cl[i], b[i]);
  }
  return (s0 + s1) + (s2 + s3);
}

// First centre: a row drawn with probability proportional to its weight.
std::size_t first_centre(std::size_t n, const float* w, Rng& rng) {
  if (!w) return static_cast<std::size_t>(rng.below(n));
  const std::size_t nc = nchunks_of(n);
  std::vector<double> pot(nc);
  for (std::size_t c = 0; c < nc; ++c) {
    const std::size_t r0 = c * kChunkRows, m = std::min(kChunkRows, n - r0);
    double s = 0;
    for (std::size_t i = 0; i < m; ++i) s += w[r0 + i];
    pot[c] = s;
  }
  double total = 0;
  for (double v : pot) total += v;
  std::vector<double> buf;
  const std::size_t i = pick_row(rng.uniform() * total, pot, n, [&](std::size_t c, std::vector<double>& b) {
    for (std::size_t q = 0; q < b.size(); ++q) b[q] = w[c * kChunkRows + q];
  }, buf);
  return i < n ? i : 0;
}

// The data cut into chunks, each packed as "centroids" (transposed panels + norms), so
// that the dispatched sqdist_rows computes distances from a few candidate rows to a
// whole chunk with the candidates as the broadcast operand. sqdist is symmetric in the
// canonical arithmetic (fma(a,b,s) == fma(b,a,s), and xn + cn commutes), so these are
// the same bits as sqdist(x_i, candidate). Packed once when the copy is at most 1 GiB,
// else packed per chunk per use.
class ChunkPacks {
 public:
  ChunkPacks(const float* x, std::size_t n, std::size_t d) : x_(x), n_(n), d_(d), nc_(nchunks_of(n)) {
    if (n * d * 4 <= (std::size_t{1} << 30)) {
      packs_.resize(nc_);
#pragma omp parallel for schedule(dynamic, 1)
      for (std::size_t c = 0; c < nc_; ++c) packs_[c].pack(x + c * kChunkRows * d, rows(c), d);
    }
  }
  std::size_t chunks() const { return nc_; }
  std::size_t rows(std::size_t c) const { return std::min(kChunkRows, n_ - c * kChunkRows); }
  const PackedCentroids& get(std::size_t c, PackedCentroids& scratch) const {
    if (!packs_.empty()) return packs_[c];
    scratch.pack(x_ + c * kChunkRows * d_, rows(c), d_);
    return scratch;
  }

 private:
  const float* x_;
  std::size_t n_, d_, nc_;
  std::vector<PackedCentroids> packs_;
};

// Greedy k-means++ (Arthur & Vassilvitskii 2007; greedy trials as scikit-learn):
// each step draws 2 + floor(ln k) candidates by D² × w sampling and keeps the one that
// lowers the potential sum_i w_i min(D²_i, d(x_i, cand)) most (ties: first drawn).
// One pass over the data per step: the previous step's winner is folded into D² in
// the same pass that evaluates the new candidates.
std::vector<float> kmeanspp(const float* x, std::size_t n, std::size_t d, std::size_t k,
                            std::uint64_t seed, const float* w, std::uint64_t* evals) {
  Rng rng(seed);
  const std::size_t trials = 2 + static_cast<std::size_t>(std::log(static_cast<double>(k)));
  std::vector<float> centres(k * d);
  const std::size_t c0 = first_centre(n, w, rng);
  std::memcpy(centres.data(), x + c0 * d, d * sizeof(float));
  if (k == 1) return centres;

  const ChunkPacks packs(x, n, d);
  const std::size_t nc = packs.chunks();
  std::vector<float> closest(n, std::numeric_limits<float>::infinity());
  std::vector<double> chunk_pot(nc);
  const std::size_t qmax = trials + 1;
  std::vector<double> pot(nc * qmax);
  std::vector<float> q(qmax * d), qn(qmax);
  std::uint64_t ev = 0;

  // Pass: rows q[0..nq) as queries. If fold, q[0] is folded into closest first, and the
  // potentials are those of q[1..nq); otherwise q[0..nq) are all candidates.
  // Per-thread scratch, allocated once (a 128 KiB vector per step would be an mmap).
  const int nthreads = omp_get_max_threads();
  std::vector<std::vector<float>> bufs(static_cast<std::size_t>(nthreads), std::vector<float>(qmax * kChunkRows));
  std::vector<PackedCentroids> scratches(static_cast<std::size_t>(nthreads));
  auto pass = [&](std::size_t nq, bool fold) {
    const std::size_t first = fold ? 1 : 0, ncand = nq - first;
    std::exception_ptr err;  // an exception must not leave the parallel region
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (std::size_t c = 0; c < nc; ++c) {
      if (err) continue;
      try {
        const auto tid = static_cast<std::size_t>(omp_get_thread_num());
        float* buf = bufs[tid].data();
        const std::size_t r0 = c * kChunkRows, m = packs.rows(c);
        sqdist_rows(q.data(), nq, d, qn.data(), packs.get(c, scratches[tid]), buf, kChunkRows);
        float* cl = closest.data() + r0;
        if (fold)
          for (std::size_t i = 0; i < m; ++i) cl[i] = std::min(cl[i], buf[i]);
        for (std::size_t t = 0; t < ncand; ++t)
          pot[c * qmax + t] = pot_sum(cl, buf + (first + t) * kChunkRows, w ? w + r0 : nullptr, m);
      } catch (...) {
#pragma omp critical(personakit_kpp_error)
        if (!err) err = std::current_exception();
      }
    }
    if (err) std::rethrow_exception(err);
    ev += static_cast<std::uint64_t>(n) * nq;
  };

  // Initial D² to the first centre.
  std::memcpy(q.data(), x + c0 * d, d * sizeof(float));
  qn[0] = sqnorm_canonical(q.data(), d);
  pass(1, false);
  for (std::size_t c = 0; c < nc; ++c) chunk_pot[c] = pot[c * qmax];
  // closest still holds +inf: fold the first centre in at the next pass.
  std::vector<float> pending(x + c0 * d, x + (c0 + 1) * d);

  std::vector<double> vbuf;
  std::vector<float> dbuf(kChunkRows);
  PackedCentroids scratch;
  const float pend_norm0 = qn[0];
  float pend_norm = pend_norm0;
  for (std::size_t s = 1; s < k; ++s) {
    double total = 0;
    for (double v : chunk_pot) total += v;
    // D² × w of chunk c with the pending centre folded in (same bits as the pass).
    auto value = [&](std::size_t c, std::vector<double>& b) {
      const std::size_t r0 = c * kChunkRows, m = b.size();
      sqdist_rows(pending.data(), 1, d, &pend_norm, packs.get(c, scratch), dbuf.data(), kChunkRows);
      for (std::size_t i = 0; i < m; ++i) {
        const float v = std::min(closest[r0 + i], dbuf[i]);
        b[i] = w ? static_cast<double>(w[r0 + i]) * v : static_cast<double>(v);
      }
    };
    std::memcpy(q.data(), pending.data(), d * sizeof(float));
    qn[0] = pend_norm;
    std::vector<std::size_t> cand(trials);
    for (std::size_t t = 0; t < trials; ++t) {
      std::size_t i = pick_row(rng.uniform() * total, chunk_pot, n, value, vbuf);
      if (i >= n) i = static_cast<std::size_t>(rng.below(n));  // no mass left: any row
      cand[t] = i;
      std::memcpy(q.data() + (t + 1) * d, x + i * d, d * sizeof(float));
      qn[t + 1] = sqnorm_canonical(x + i * d, d);
    }
    pass(trials + 1, true);
    std::size_t best = 0;
    double best_pot = std::numeric_limits<double>::infinity();
    for (std::size_t t = 0; t < trials; ++t) {
      double tot = 0;
      for (std::size_t c = 0; c < nc; ++c) tot += pot[c * qmax + t];
      if (tot < best_pot) { best_pot = tot; best = t; }
    }
    for (std::size_t c = 0; c < nc; ++c) chunk_pot[c] = pot[c * qmax + best];
    std::memcpy(centres.data() + s * d, x + cand[best] * d, d * sizeof(float));
    pending.assign(x + cand[best] * d, x + (cand[best] + 1) * d);
    pend_norm = qn[best + 1];
  }
  if (evals) *evals += ev;
  return centres;
}

// k distinct rows (with positive weight), uniformly, Floyd's sampling.
std::vector<float> random_rows(const float* x, std::size_t n, std::size_t d, std::size_t k,
                               std::uint64_t seed, const float* w) {
  Rng rng(seed);
  std::vector<std::size_t> pool;
  if (w) {
    for (std::size_t i = 0; i < n; ++i)
      if (w[i] > 0) pool.push_back(i);
  }
  const std::size_t m = w ? pool.size() : n;
  if (k > m) throw Error("random init: k = " + std::to_string(k) + " exceeds the rows with positive weight (" + std::to_string(m) + ")");
  std::unordered_set<std::size_t> seen;
  std::vector<std::size_t> pick;
  for (std::size_t j = m - k; j < m; ++j) {
    std::size_t t = static_cast<std::size_t>(rng.below(j + 1));
    if (!seen.insert(t).second) { t = j; seen.insert(j); }
    pick.push_back(t);
  }
  std::vector<float> c(k * d);
  for (std::size_t l = 0; l < k; ++l) {
    const std::size_t row = w ? pool[pick[l]] : pick[l];
    std::memcpy(c.data() + l * d, x + row * d, d * sizeof(float));
  }
  return c;
}

// sum_i w_i v_i in fp64, per chunk in row order, chunks in order.
double chunked_pot(const float* v, const float* w, std::size_t n, std::vector<double>& chunk_pot) {
  const std::size_t nc = nchunks_of(n);
  chunk_pot.resize(nc);
#pragma omp parallel for schedule(static)
  for (std::size_t c = 0; c < nc; ++c) {
    const std::size_t r0 = c * kChunkRows;
    chunk_pot[c] = chunk_inertia(v + r0, w ? w + r0 : nullptr, std::min(kChunkRows, n - r0));
  }
  double s = 0;
  for (double p : chunk_pot) s += p;
  return s;
}

// k-means|| (Bahmani et al. 2012): R rounds, each keeping row i independently with
// probability min(1, l w_i D²_i / phi), l = oversampling × k; the candidates are weighted
// by the total weight of the rows nearest to them, then reduced to k centres by weighted
// greedy k-means++ followed by up to 10 weighted Lloyd iterations on the candidates.
std::vector<float> kmeans_parallel(const float* x, std::size_t n, std::size_t d, std::size_t k,
                                   std::uint64_t seed, const float* w, double oversampling, int rounds,
                                   std::uint64_t* evals) {
  Rng rng(seed);
  std::uint64_t ev = 0;
  std::vector<float> xnorm(n);
  row_norms(x, n, d, xnorm.data());
  std::vector<std::size_t> chosen{first_centre(n, w, rng)};
  std::vector<float> closest(n), dnew(n);
  std::vector<std::int32_t> lab(n);
  PackedCentroids pc(x + chosen[0] * d, 1, d);
  assign_nearest(x, n, d, xnorm.data(), pc, lab.data(), closest.data());
  ev += n;
  std::vector<double> chunk_pot;
  double phi = chunked_pot(closest.data(), w, n, chunk_pot);
  const double l = oversampling * static_cast<double>(k);
  const std::size_t nc = nchunks_of(n);
  for (int r = 0; r < rounds && phi > 0; ++r) {
    const std::uint64_t key = splitmix64(seed ^ (0xA5A5A5A5ull + static_cast<std::uint64_t>(r)));
    std::vector<std::vector<std::size_t>> per(nc);
#pragma omp parallel for schedule(static)
    for (std::size_t c = 0; c < nc; ++c) {
      const std::size_t r0 = c * kChunkRows, m = std::min(kChunkRows, n - r0);
      for (std::size_t i = r0; i < r0 + m; ++i) {
        const double wi = w ? w[i] : 1.0;
        const double pr = l * wi * closest[i] / phi;
        if (pr > 0 && uniform01(key, i) < pr) per[c].push_back(i);
      }
    }
    std::vector<std::size_t> fresh;
    for (auto& v : per) fresh.insert(fresh.end(), v.begin(), v.end());
    if (fresh.empty()) continue;
    std::vector<float> cf(fresh.size() * d);
    for (std::size_t t = 0; t < fresh.size(); ++t) std::memcpy(&cf[t * d], x + fresh[t] * d, d * sizeof(float));
    pc.pack(cf.data(), fresh.size(), d);
    assign_nearest(x, n, d, xnorm.data(), pc, lab.data(), dnew.data());
    ev += static_cast<std::uint64_t>(n) * fresh.size();
#pragma omp parallel for schedule(static)
    for (std::size_t i = 0; i < n; ++i) closest[i] = std::min(closest[i], dnew[i]);
    phi = chunked_pot(closest.data(), w, n, chunk_pot);
    chosen.insert(chosen.end(), fresh.begin(), fresh.end());
  }
  // Too few candidates (tiny data or phi = 0): top up with distinct random rows.
  if (chosen.size() < k) {
    std::unordered_set<std::size_t> have(chosen.begin(), chosen.end());
    for (std::size_t i = 0; i < n && chosen.size() < k; ++i) {
      const std::size_t t = static_cast<std::size_t>(rng.below(n));
      const std::size_t row = have.count(t) ? i : t;
      if ((!w || w[row] > 0) && have.insert(row).second) chosen.push_back(row);
    }
  }
  const std::size_t m = chosen.size();
  std::vector<float> cx(m * d);
  for (std::size_t t = 0; t < m; ++t) std::memcpy(&cx[t * d], x + chosen[t] * d, d * sizeof(float));
  // Candidate weights: total weight of the rows nearest to each, chunked fp64.
  pc.pack(cx.data(), m, d);
  assign_nearest(x, n, d, xnorm.data(), pc, lab.data(), nullptr);
  ev += static_cast<std::uint64_t>(n) * m;
  std::vector<double> cw(m, 0.0);
  {
    std::vector<double> part;
    for (std::size_t c = 0; c < nc; ++c) {
      const std::size_t r0 = c * kChunkRows, mm = std::min(kChunkRows, n - r0);
      part.assign(m, 0.0);
      for (std::size_t i = r0; i < r0 + mm; ++i) part[static_cast<std::size_t>(lab[i])] += w ? w[i] : 1.0;
      for (std::size_t t = 0; t < m; ++t) cw[t] += part[t];
    }
  }
  std::vector<float> cwf(m);
  for (std::size_t t = 0; t < m; ++t) cwf[t] = static_cast<float>(cw[t]);
  if (m == k) {
    if (evals) *evals += ev;
    return cx;
  }
  std::vector<float> c = kmeanspp(cx.data(), m, d, k, splitmix64(seed + 1), cwf.data(), &ev);
  // Weighted Lloyd on the candidates (no callbacks, no tol: at most 10 iterations).
  KMeansParams lp;
  lp.k = k;
  lp.max_iter = 10;
  std::vector<float> cn(m);
  row_norms(cx.data(), m, d, cn.data());
  RunInput in;
  in.x = cx.data(); in.n = m; in.d = d; in.xnorm = cn.data(); in.weights = cwf.data(); in.params = &lp;
  in.tol_abs = 0;
  RunOutput out = run_lloyd(in, std::move(c));
  ev += out.distance_evaluations;
  if (evals) *evals += ev;
  return std::move(out.centroids);
}

}  // namespace
}  // namespace personakit::detail

namespace personakit {

std::vector<float> init_centroids(const float* x, std::size_t n, std::size_t d, std::size_t k,
                                  Init method, std::uint64_t seed, const float* weights,
                                  std::uint64_t* evals) {
  KMeansParams p;
  p.k = k;
  p.init = method;
  return detail::init_for_fit(x, n, d, p, seed, weights, evals);
}

namespace detail {

std::vector<float> init_for_fit(const float* x, std::size_t n, std::size_t d, const KMeansParams& p,
                                std::uint64_t seed, const float* weights, std::uint64_t* evals) {
  const std::size_t k = p.k;
  if (!x || n == 0 || d == 0) throw Error("init: empty data");
  if (k < 1 || k > n) throw Error("init: k = " + std::to_string(k) + " must be between 1 and the number of rows (" + std::to_string(n) + ")");
  switch (p.init) {
    case Init::random: return random_rows(x, n, d, k, seed, weights);
    case Init::kmeanspp: return kmeanspp(x, n, d, k, seed, weights, evals);
    case Init::kmeans_parallel:
      return kmeans_parallel(x, n, d, k, seed, weights, p.oversampling, p.parallel_rounds, evals);
    case Init::given: break;
  }
  throw Error("init 'file' takes its centroids from the caller, not from init_centroids");
}

std::vector<std::uint64_t> sample_rows_sorted(std::size_t n, std::size_t m, std::uint64_t seed) {
  Rng rng(splitmix64(seed ^ 0x5A5A5A5A5A5A5A5Aull));
  std::unordered_set<std::uint64_t> seen;
  std::vector<std::uint64_t> idx;
  for (std::size_t j = n - m; j < n; ++j) {
    std::uint64_t t = rng.below(j + 1);
    if (!seen.insert(t).second) { t = j; seen.insert(j); }
    idx.push_back(t);
  }
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<float> init_centroids_source(RowSource& src, const KMeansParams& p, std::uint64_t seed,
                                         std::size_t sample_rows, std::uint64_t* evals) {
  const float* weights = p.weights;
  const std::size_t n = src.rows(), d = src.cols();
  if (n <= sample_rows) {
    std::vector<float> all(n * d);
    src.for_each_block(kChunkRows, [&](const float* xb, std::size_t row0, std::size_t nb) {
      std::memcpy(all.data() + row0 * d, xb, nb * d * sizeof(float));
    });
    return init_for_fit(all.data(), n, d, p, seed, weights, evals);
  }
  // Seeded uniform sample of sample_rows distinct rows, gathered in one pass.
  const auto idx = sample_rows_sorted(n, sample_rows, seed);
  std::vector<float> xs(sample_rows * d), ws(weights ? sample_rows : 0);
  std::size_t q = 0;
  src.for_each_block(kChunkRows, [&](const float* xb, std::size_t row0, std::size_t nb) {
    for (; q < idx.size() && idx[q] < row0 + nb; ++q)
      std::memcpy(&xs[q * d], xb + (idx[q] - row0) * d, d * sizeof(float));
  });
  if (weights)
    for (std::size_t t = 0; t < sample_rows; ++t) ws[t] = weights[idx[t]];
  return init_for_fit(xs.data(), sample_rows, d, p, seed, weights ? ws.data() : nullptr, evals);
}

}  // namespace detail
}  // namespace personakit
