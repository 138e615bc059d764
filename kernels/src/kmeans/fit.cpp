// k-means front end: validation, the tol rule, n_init seeds, algorithm dispatch,
// results, in-memory and streamed.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_set>

#include "kmeans/chunked.hpp"
#include "kmeans/screen.hpp"
#include "personakit/error.hpp"
#include "personakit/isa.hpp"

namespace personakit {

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::automatic: return "auto";
    case Algorithm::lloyd: return "lloyd";
    case Algorithm::elkan: return "elkan";
    case Algorithm::hamerly: return "hamerly";
    case Algorithm::yinyang: return "yinyang";
    case Algorithm::exponion: return "exponion";
    case Algorithm::minibatch: return "minibatch";
    case Algorithm::screened: return "screened";
  }
  return "unknown";
}

Algorithm parse_algorithm(const std::string& s) {
  for (Algorithm a : {Algorithm::automatic, Algorithm::lloyd, Algorithm::elkan, Algorithm::hamerly,
                      Algorithm::yinyang, Algorithm::exponion, Algorithm::minibatch, Algorithm::screened})
    if (s == algorithm_name(a)) return a;
  throw Error("unknown algorithm '" + s + "' (expected auto, lloyd, screened, elkan, hamerly, yinyang, exponion or minibatch)");
}

const char* init_name(Init i) {
  switch (i) {
    case Init::random: return "random";
    case Init::kmeanspp: return "kmeans++";
    case Init::kmeans_parallel: return "kmeans||";
    case Init::given: return "file";
  }
  return "unknown";
}

Init parse_init(const std::string& s) {
  if (s == "random") return Init::random;
  if (s == "kmeans++" || s == "k-means++") return Init::kmeanspp;
  if (s == "kmeans||" || s == "k-means||") return Init::kmeans_parallel;
  throw Error("unknown init '" + s + "' (expected random, kmeans++, kmeans|| or a centroids file)");
}

// Rule from side-by-side measurements on the 2-core Zen 5 (docs/performance.md, "Converged
// exact fits"; docs/accelerated.md; same init, tol 1e-4, 2 threads): the fused Lloyd pass
// beat every bounded variant on every shape measured: customers 2e5-1e6 × 16, K = 8..64;
// blobs 1e5 × 32, K = 64; blobs 2e5 × 64, K = 256 (Hamerly closest, 1.16-1.24× Lloyd's
// time); blobs 5e4 × 256, K = 256 at separation 4 and 8 (Hamerly 1.3-1.4× Lloyd's time,
// 69-85 % of its distances; Yinyang 2.5-4×, Elkan 5-8×). The earlier "Hamerly for
// d >= 256" clause was an extrapolation that the d = 256 runs contradict. On data like
// these (overlapping in high d) the bounds prune too little for their row-by-row
// bookkeeping to pay against a kernel at ~60-80 % of the FMA peak, so `auto` is Lloyd.
// The variants stay selectable, and they do compute far fewer distances (Yinyang 23 %,
// Elkan 6.5 % at 2e5 × 64, K = 256).
//
// Screened Lloyd (session 6, docs/accelerated.md "Screened Lloyd"): same labels as Lloyd,
// its assignment at the bf16 dot-product rate. Measured against Lloyd from the same
// k-means++ centroids (2 threads, fit seconds): blobs 2e5 × 64, K = 256: 0.70×; blobs
// 2e5 × 32 and 1e5 × 128, K = 256: 0.84-0.85×; blobs 2e5 × 64, K = 128: 0.95×; K = 64 at
// d = 64 and 128: 0.95-1.15×; K = 8: 1.3-1.5×; d = 16: never faster (screened now runs
// Lloyd's passes below d = 32). On the generated customers (features of very unequal
// scale) most rows stay open and screening backs off: 1.02× Lloyd's time at K = 256,
// d = 32. So `auto` is screened for K >= 256 and 32 <= d <= kScreenMaxD when the CPU has
// AVX512_BF16 (and the active ISA is avx512), Lloyd otherwise.
Algorithm choose_algorithm(std::size_t /*n*/, std::size_t k, std::size_t d) {
  if (k >= 256 && k <= 16 * detail::kScreenMaxVec && d >= 32 && d <= detail::kScreenMaxD &&
      active_isa() == Isa::avx512 && detail::screen_kernels(Isa::avx512) != nullptr)
    return Algorithm::screened;
  return Algorithm::lloyd;
}

std::size_t algorithm_state_bytes(Algorithm a, std::size_t n, std::size_t k, std::size_t d) {
  if (a == Algorithm::automatic) a = choose_algorithm(n, k, d);
  // Common to the exact algorithms: labels, distances, row norms (4n each), the chunk
  // partials (ChunkReducer) and the packed centroids.
  const std::size_t g = detail::ChunkReducer::group_for(k, d, std::size_t{64} << 20);
  const std::size_t common = 12 * n + g * detail::ChunkReducer::bytes_per_chunk(k, d) + 2 * k * d * 4 + 256 * k;
  switch (a) {
    case Algorithm::automatic:
    case Algorithm::lloyd: return common;
    case Algorithm::elkan:
    case Algorithm::hamerly:
    case Algorithm::yinyang:
    case Algorithm::exponion: return common + detail::accel_state_bytes(a, n, k, d);  // the bounds
    case Algorithm::minibatch: return 4 * n + 2 * k * d * 4 + k * 8 + (std::size_t{1} << 20);
    case Algorithm::screened: return common + detail::ScreenRows::bytes(n, d) + 2 * k * d + 16 * k + 16 * 64;
  }
  return common;
}

namespace {

using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

std::string mib(std::size_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1024.0 * 1024.0));
  return buf;
}

// Per-feature mean and variance, merged chunk by chunk in chunk order (Chan et al.):
// the same bits in memory and streamed, for any thread count. Also counts non-finite values.
struct Stats {
  std::size_t d = 0;
  double count = 0;
  std::vector<double> mean, m2;
  std::uint64_t bad = 0, bad_row = 0, bad_col = 0;
  explicit Stats(std::size_t d_) : d(d_), mean(d_), m2(d_) {}
  void merge(const Stats& c) {
    if (c.bad && !bad) { bad_row = c.bad_row; bad_col = c.bad_col; }
    bad += c.bad;
    if (c.count == 0) return;
    const double nt = count + c.count;
    for (std::size_t j = 0; j < d; ++j) {
      const double delta = c.mean[j] - mean[j];
      mean[j] += delta * (c.count / nt);
      m2[j] += c.m2[j] + delta * delta * (count * c.count / nt);
    }
    count = nt;
  }
  double variance_mean() const {
    if (count == 0) return 0;
    double s = 0;
    for (std::size_t j = 0; j < d; ++j) s += m2[j] / count;
    return s / static_cast<double>(d);
  }
};

void chunk_stats(const float* x, std::size_t row0, std::size_t m, std::size_t d, Stats& s) {
  // The fp64 column sums double as the NaN/Inf check: a chunk of at most kChunkRows
  // finite fp32 values sums to at most 2^12 * 3.4e38, far below DBL_MAX, so a sum is
  // non-finite exactly when its column holds a NaN or an Inf. Only then is the chunk
  // scanned again to count the bad values and find the first one.
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < d; ++j) s.mean[j] += x[i * d + j];
  bool finite = true;
  for (std::size_t j = 0; j < d; ++j) finite = finite && std::isfinite(s.mean[j]);
  if (!finite) {
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < d; ++j)
        if (!std::isfinite(x[i * d + j])) {
          if (!s.bad) { s.bad_row = row0 + i; s.bad_col = j; }
          ++s.bad;
        }
    return;
  }
  s.count = static_cast<double>(m);
  for (std::size_t j = 0; j < d; ++j) s.mean[j] /= s.count;
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      const double v = x[i * d + j] - s.mean[j];
      s.m2[j] += v * v;
    }
}

// Stats of rows [0, nb) of a block starting at chunk boundary row0, merged into total.
void block_stats(const float* xb, std::size_t row0, std::size_t nb, std::size_t d, Stats& total) {
  const std::size_t nchunks = (nb + detail::kChunkRows - 1) / detail::kChunkRows;
  constexpr std::size_t G = 64;
  std::vector<Stats> part(std::min(G, nchunks), Stats(d));
  for (std::size_t g0 = 0; g0 < nchunks; g0 += G) {
    const std::size_t ng = std::min(G, nchunks - g0);
#pragma omp parallel for schedule(dynamic, 1)
    for (std::size_t q = 0; q < ng; ++q) {
      part[q] = Stats(d);
      const std::size_t r0 = (g0 + q) * detail::kChunkRows;
      chunk_stats(xb + r0 * d, row0 + r0, std::min(detail::kChunkRows, nb - r0), d, part[q]);
    }
    for (std::size_t q = 0; q < ng; ++q) total.merge(part[q]);
  }
}

void throw_bad(const Stats& s) {
  throw Error("data contains " + std::to_string(s.bad) + " NaN/Inf value" + (s.bad > 1 ? "s" : "") +
              "; the first at row " + std::to_string(s.bad_row) + ", column " + std::to_string(s.bad_col));
}

void validate_params(std::size_t n, std::size_t d, const KMeansParams& p) {
  if (n == 0 || d == 0) throw Error("data has " + std::to_string(n) + " rows and " + std::to_string(d) + " columns: need at least one of each");
  if (p.k < 1) throw Error("k = 0: must be at least 1");
  if (p.k > n) throw Error("k = " + std::to_string(p.k) + " exceeds the number of rows (" + std::to_string(n) + ")");
  if (p.k > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) throw Error("k is too large");
  if (p.max_iter < 1) throw Error("max_iter = " + std::to_string(p.max_iter) + ": must be at least 1");
  if (!(p.tol >= 0) || !std::isfinite(p.tol)) throw Error("tol must be a finite number >= 0");
  if (p.n_init < 1) throw Error("n_init = " + std::to_string(p.n_init) + ": must be at least 1");
  if (p.init == Init::given && !p.init_centroids) throw Error("init 'file' needs initial centroids (none given)");
  if (p.init == Init::kmeans_parallel) {
    if (!(p.oversampling > 0)) throw Error("kmeans|| oversampling must be > 0");
    if (p.parallel_rounds < 1) throw Error("kmeans|| rounds must be at least 1");
  }
  if (p.algorithm == Algorithm::minibatch) {
    if (p.batch_size < 1) throw Error("batch_size must be at least 1");
    if (p.max_epochs < 1 && p.max_steps == 0) throw Error("max_epochs must be at least 1 (or set max_steps)");
    if (!(p.reassignment_ratio >= 0)) throw Error("reassignment_ratio must be >= 0");
    if (p.refine < 0) throw Error("refine must be >= 0");
  }
  if (p.init == Init::given) {
    for (std::size_t e = 0; e < p.k * d; ++e)
      if (!std::isfinite(p.init_centroids[e])) throw Error("initial centroids contain NaN/Inf (centroid " + std::to_string(e / d) + ")");
  }
}

void validate_weights(const float* w, std::size_t n) {
  if (!w) return;
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(w[i] >= 0) || !std::isfinite(w[i]))
      throw Error("sample weight " + std::to_string(i) + " is " + std::to_string(w[i]) + ": weights must be finite and >= 0");
    s += w[i];
  }
  if (!(s > 0)) throw Error("sample weights are all zero");
}

// Rows with positive weight that are distinct by value, counted up to `limit`.
std::size_t count_distinct(const float* x, std::size_t n, std::size_t d, const float* w, std::size_t limit) {
  auto hash = [x, d](std::size_t i) {
    std::uint64_t h = 0x12345;
    for (std::size_t j = 0; j < d; ++j) {
      float v = x[i * d + j];
      if (v == 0.0f) v = 0.0f;  // -0 == +0
      std::uint32_t b;
      std::memcpy(&b, &v, 4);
      h = detail::splitmix64(h ^ b);
    }
    return static_cast<std::size_t>(h);
  };
  auto eq = [x, d](std::size_t a, std::size_t b) {
    for (std::size_t j = 0; j < d; ++j)
      if (x[a * d + j] != x[b * d + j]) return false;
    return true;
  };
  std::unordered_set<std::size_t, decltype(hash), decltype(eq)> seen(2 * limit + 16, hash, eq);
  for (std::size_t i = 0; i < n && seen.size() < limit; ++i)
    if (!w || w[i] > 0) seen.insert(i);
  return seen.size();
}

void check_memory(Algorithm a, std::size_t n, std::size_t k, std::size_t d, std::size_t limit) {
  if (!limit) return;
  const std::size_t need = algorithm_state_bytes(a, n, k, d);
  if (need > limit)
    throw Error(std::string("algorithm ") + algorithm_name(a) + " needs " + mib(need) + " of state for n = " +
                std::to_string(n) + ", k = " + std::to_string(k) + ", d = " + std::to_string(d) +
                ", more than the memory limit of " + mib(limit));
}

// Rows the mini-batch initialisation runs on: init_size, or 3 × batch_size (at least 3k).
std::size_t minibatch_init_rows(const KMeansParams& p, std::size_t n) {
  std::size_t m = p.init_size ? p.init_size : 3 * p.batch_size;
  m = std::max(m, 3 * p.k);
  return std::min(m, n);
}

// In memory (in.x set; src: a MatrixSource for mini-batch) or, for the accelerated
// variants, streamed from src (in.x null).
detail::RunOutput dispatch(Algorithm a, RowSource* src, const detail::RunInput& in, std::vector<float> c) {
  RowSource* stream = in.x ? nullptr : src;
  switch (a) {
    case Algorithm::automatic:
    case Algorithm::lloyd: return detail::run_lloyd(in, std::move(c));
    case Algorithm::elkan: return detail::run_elkan(in, std::move(c), stream);
    case Algorithm::hamerly: return detail::run_hamerly(in, std::move(c), stream);
    case Algorithm::yinyang: return detail::run_yinyang(in, std::move(c), stream);
    case Algorithm::exponion: return detail::run_exponion(in, std::move(c), stream);
    case Algorithm::minibatch: return detail::run_minibatch(*src, in, std::move(c));
    case Algorithm::screened: return detail::run_screened(in, std::move(c));
  }
  throw Error("unknown algorithm");
}

std::vector<std::int64_t> sizes_from_labels(const std::vector<std::int32_t>& labels, std::size_t k) {
  std::vector<std::int64_t> s(k);
  for (const auto l : labels) ++s[static_cast<std::size_t>(l)];
  return s;
}

// Keep run `out` if its inertia is strictly lower (ties: the earlier run).
void keep_best(KMeansResult& res, detail::RunOutput& out, int r, std::uint64_t seed, bool first) {
  if (!first && !(out.inertia < res.inertia)) return;
  res.centroids = std::move(out.centroids);
  res.labels = std::move(out.labels);
  res.sizes = std::move(out.sizes);
  res.inertia = out.inertia;
  res.iterations = out.iterations;
  res.converged = out.converged;
  res.best_run = r;
  res.best_seed = seed;
  res.state_bytes = out.state_bytes;
}

}  // namespace

KMeansResult fit(const float* x, std::size_t n, std::size_t d, const KMeansParams& p) {
  const auto t0 = clock_type::now();
  validate_params(n, d, p);
  if (!x) throw Error("data pointer is null");
  validate_weights(p.weights, n);
  Stats st(d);
  block_stats(x, 0, n, d, st);
  if (st.bad) throw_bad(st);
  const std::size_t distinct = count_distinct(x, n, d, p.weights, p.k);
  if (distinct < p.k)
    throw Error("k = " + std::to_string(p.k) + " exceeds the number of distinct rows" +
                (p.weights ? std::string(" with positive weight") : std::string()) + " (" + std::to_string(distinct) + ")");

  const Algorithm algo = p.algorithm == Algorithm::automatic ? choose_algorithm(n, p.k, d) : p.algorithm;
  check_memory(algo, n, p.k, d, p.memory_limit);

  // Row norms for the in-memory algorithms (mini-batch computes its batches' own, and
  // its finishing passes take them from the kernel's row tiles).
  std::vector<float> xnorm;
  if (algo != Algorithm::minibatch) {
    detail::assign_huge(xnorm, n, 0.0f);
    row_norms(x, n, d, xnorm.data());
  }
  const double var_mean = st.variance_mean();

  detail::RunInput in;
  in.x = x; in.n = n; in.d = d; in.xnorm = algo == Algorithm::minibatch ? nullptr : xnorm.data();
  in.weights = p.weights; in.params = &p;
  in.tol_abs = p.tol * var_mean;
  in.variance_mean = var_mean;
  in.t0 = t0;

  MatrixSource msrc(x, n, d);
  KMeansResult res;
  res.algorithm = algo;
  const int runs = p.init == Init::given ? 1 : p.n_init;
  for (int r = 0; r < runs; ++r) {
    const std::uint64_t seed_r = detail::splitmix64(p.seed + static_cast<std::uint64_t>(r));
    const auto ti = clock_type::now();
    std::vector<float> c;
    if (p.init == Init::given) c.assign(p.init_centroids, p.init_centroids + p.k * d);
    else if (algo == Algorithm::minibatch && minibatch_init_rows(p, n) < n) {
      // Mini-batch initialises on a seeded sample (scikit-learn's init_size).
      const auto idx = detail::sample_rows_sorted(n, minibatch_init_rows(p, n), seed_r);
      std::vector<float> xs(idx.size() * d), ws(p.weights ? idx.size() : 0);
      for (std::size_t t = 0; t < idx.size(); ++t) {
        std::memcpy(&xs[t * d], x + idx[t] * d, d * sizeof(float));
        if (p.weights) ws[t] = p.weights[idx[t]];
      }
      c = detail::init_for_fit(xs.data(), idx.size(), d, p, seed_r, p.weights ? ws.data() : nullptr, &res.distance_evaluations);
    } else {
      c = detail::init_for_fit(x, n, d, p, seed_r, p.weights, &res.distance_evaluations);
    }
    res.init_seconds += since(ti);
    in.run = r;
    detail::RunOutput out = dispatch(algo, &msrc, in, std::move(c));
    res.distance_evaluations += out.distance_evaluations;
    res.screen_evaluations += out.screen_evaluations;
    res.lloyd_equivalent += out.lloyd_equivalent ? out.lloyd_equivalent
                                                 : static_cast<std::uint64_t>(n) * p.k * static_cast<std::uint64_t>(out.iterations);
    if (out.sizes.size() != p.k) out.sizes = sizes_from_labels(out.labels, p.k);
    keep_best(res, out, r, seed_r, r == 0);
  }
  res.seconds = since(t0);
  return res;
}

KMeansResult fit(RowSource& src, const KMeansParams& p) {
  if (const float* x = src.data()) return fit(x, src.rows(), src.cols(), p);
  const auto t0 = clock_type::now();
  const std::size_t n = src.rows(), d = src.cols();
  validate_params(n, d, p);
  validate_weights(p.weights, n);
  // Streamed, screened runs Lloyd's passes: its bf16 copy of the rows would be half the
  // data again in memory (documented in docs/accelerated.md).
  const Algorithm algo = p.algorithm == Algorithm::automatic || p.algorithm == Algorithm::screened ? Algorithm::lloyd : p.algorithm;
  const bool bounded = algo != Algorithm::lloyd && algo != Algorithm::minibatch;

  // Labels are kept (and returned) when they are small: <= 4 Mi rows and within a
  // quarter of the memory limit. Otherwise label changes are detected by per-chunk hashes.
  const bool keep_labels = n <= (std::size_t{1} << 22) && (p.memory_limit == 0 || 4 * n <= p.memory_limit / 4);
  // The accelerated variants keep labels and bounds in memory: 4n bytes of labels plus
  // accel_state_bytes (e.g. Hamerly 12n, Elkan 4nk + 8n) and the update's partials.
  const std::size_t state = algo == Algorithm::lloyd
      ? (keep_labels ? 4 * n : n / detail::kChunkRows * 8 + 8) +
            detail::ChunkReducer::group_for(p.k, d, detail::stream_budget(p.memory_limit)) *
                detail::ChunkReducer::bytes_per_chunk(p.k, d)
      : bounded ? detail::streamed_accel_state_bytes(algo, n, p.k, d, p.memory_limit)
                : algorithm_state_bytes(Algorithm::minibatch, 0, p.k, d);
  if (p.memory_limit && state > p.memory_limit)
    throw Error(std::string("streamed ") + algorithm_name(algo) + " needs " + mib(state) + " of state, more than the memory limit of " + mib(p.memory_limit));

  // Statistics pass (after the state check: a fit that cannot run reads nothing).
  Stats st(d);
  std::size_t seen = 0;
  src.for_each_block(detail::kChunkRows, [&](const float* xb, std::size_t row0, std::size_t nb) {
    if (row0 % detail::kChunkRows != 0) throw Error("row source broke the block alignment");
    block_stats(xb, row0, nb, d, st);
    seen = row0 + nb;
  });
  if (seen != n) throw Error("row source delivered " + std::to_string(seen) + " rows, expected " + std::to_string(n));
  if (st.bad) throw_bad(st);
  const double var_mean = st.variance_mean();

  // Init sample: all rows when n <= max(2^20, 64 k) (then identical to the in-memory
  // init, bit for bit), else a seeded uniform sample of that many rows. Deliberately not
  // derived from memory_limit: a limit-dependent sample made the streamed k-means++ /
  // k-means|| / random init (and so the whole fit) differ from the in-memory fit for
  // small n whenever a memory limit was set. The init's copy of the rows (at most
  // max(2^20, 64 k) × d floats) is data, like the in-memory fit's x, not algorithm state.
  const std::size_t sample = std::max<std::size_t>(std::size_t{1} << 20, 64 * p.k);

  detail::RunInput in;
  in.x = nullptr; in.n = n; in.d = d; in.xnorm = nullptr; in.weights = p.weights; in.params = &p;
  in.tol_abs = p.tol * var_mean;
  in.variance_mean = var_mean;
  in.t0 = t0;

  KMeansResult res;
  res.algorithm = algo;
  const int runs = p.init == Init::given ? 1 : p.n_init;
  for (int r = 0; r < runs; ++r) {
    const std::uint64_t seed_r = detail::splitmix64(p.seed + static_cast<std::uint64_t>(r));
    const auto ti = clock_type::now();
    std::vector<float> c;
    if (p.init == Init::given) c.assign(p.init_centroids, p.init_centroids + p.k * d);
    else c = detail::init_centroids_source(src, p, seed_r, algo == Algorithm::minibatch ? std::min(sample, minibatch_init_rows(p, n)) : sample,
                                           &res.distance_evaluations);
    res.init_seconds += since(ti);
    in.run = r;
    detail::RunOutput out = algo == Algorithm::minibatch ? detail::run_minibatch(src, in, std::move(c))
                            : bounded ? dispatch(algo, &src, in, std::move(c))
                                      : detail::run_lloyd_streamed(src, in, std::move(c), keep_labels, p.max_iter);
    res.distance_evaluations += out.distance_evaluations;
    res.screen_evaluations += out.screen_evaluations;
    res.lloyd_equivalent += out.lloyd_equivalent ? out.lloyd_equivalent
                                                 : static_cast<std::uint64_t>(n) * p.k * static_cast<std::uint64_t>(out.iterations);
    if (out.sizes.size() != p.k) out.sizes = sizes_from_labels(out.labels, p.k);
    keep_best(res, out, r, seed_r, r == 0);
  }
  res.seconds = since(t0);
  return res;
}

}  // namespace personakit
