// Measurement tool (not a test, built on request): how close Lloyd run on a random
// subsample gets to converged Lloyd on all the rows, from the same k-means++ centroids.
// It bounds what any mini-batch scheme can do on a data set: a scheme that reads M rows
// a few times cannot beat Lloyd run to convergence on those M rows.
//   subsample_quality FILE K
// Prints converged Lloyd's inertia, Lloyd's relative excess after 5..12 updates; then
// for importance samples (the coreset mode's draw, here from every (n/P)-th row) the
// full-data excess of weighted Lloyd on them after 8..15 updates, and of Sculley steps
// on one of them (with and without reassignment); then for uniform subsamples of
// M = 125k..1M rows (random 256-row blocks, as mini-batch draws them) the full-data
// excess of Lloyd on the subsample after 5..30 updates, with its seconds.
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "personakit/assign.hpp"
#include "personakit/datasets/datasets.hpp"
#include "personakit/kmeans.hpp"

namespace pk = personakit;

static double full_inertia(const pk::datasets::Matrix& m, const std::vector<float>& c, std::size_t k) {
  pk::PackedCentroids pc;
  pc.pack(c.data(), k, m.d);
  std::vector<std::int32_t> l(m.n);
  std::vector<float> dd(m.n);
  pk::assign_nearest(m.x.data(), m.n, m.d, nullptr, pc, l.data(), dd.data());
  double s = 0;
  for (float v : dd) s += v;
  return s;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: subsample_quality FILE K\n");
    return 2;
  }
  try {
    const auto m = pk::datasets::read_matrix(argv[1]);
    const std::size_t k = std::strtoul(argv[2], nullptr, 10), n = m.n, d = m.d;
    const auto c0 = pk::init_centroids(m.x.data(), n, d, k, pk::Init::kmeanspp, 42);
    pk::KMeansParams p;
    p.k = k;
    p.init = pk::Init::given;
    p.init_centroids = c0.data();
    const auto ref = pk::fit(m.x.data(), n, d, p);
    std::printf("converged lloyd: inertia %.6e, %d iterations, %.3f s\n", ref.inertia, ref.iterations, ref.seconds);
    p.tol = 0;
    for (int it : {5, 8, 10, 11, 12}) {
      p.max_iter = it;
      const auto r = pk::fit(m.x.data(), n, d, p);
      std::printf("lloyd, %2d updates: +%.3f %%  %.3f s\n", it, 100 * (r.inertia / ref.inertia - 1), r.seconds);
    }
    // Importance sample (lightweight coreset) from a uniform pool of P rows (every P-th
    // row): q(i) = 1/2P + 1/2 d(x_i, C0)^2 / sum over the pool, i.i.d. draws, weight
    // (n/P) / (M q(i)). Distances to the initial centroids (one pass over the pool).
    for (std::size_t P : {n, n / 5}) {
      const std::size_t stride = n / P;
      std::vector<float> pool(P * d);
      for (std::size_t i = 0; i < P; ++i) std::copy_n(m.x.begin() + std::ptrdiff_t(i * stride * d), d, pool.begin() + std::ptrdiff_t(i * d));
      pk::PackedCentroids pc;
      pc.pack(c0.data(), k, d);
      std::vector<std::int32_t> l(P);
      std::vector<float> dd(P);
      pk::assign_nearest(pool.data(), P, d, nullptr, pc, l.data(), dd.data());
      double tot = 0;
      for (float v : dd) tot += v;
      std::vector<double> cdf(P);
      double acc = 0;
      for (std::size_t i = 0; i < P; ++i) {
        acc += 0.5 / double(P) + 0.5 * dd[i] / tot;
        cdf[i] = acc;
      }
      for (std::size_t M : {100000u, 250000u}) {
        std::vector<float> xs(M * d), ws(M);
        std::uint64_t s = 777;
        for (std::size_t j = 0; j < M; ++j) {
          s = s * 6364136223846793005ULL + 1442695040888963407ULL;
          const double u = double(s >> 11) * 0x1.0p-53 * acc;
          const std::size_t i = std::min<std::size_t>(P - 1, std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
          const double q = 0.5 / double(P) + 0.5 * dd[i] / tot;
          ws[j] = float(double(n) / double(P) / (double(M) * q));
          std::copy_n(pool.begin() + std::ptrdiff_t(i * d), d, xs.begin() + std::ptrdiff_t(j * d));
        }
        p.weights = ws.data();
        p.algorithm = pk::Algorithm::lloyd;
        for (int it : {8, 10, 12, 15}) {
          p.max_iter = it;
          const auto r = pk::fit(xs.data(), M, d, p);
          std::printf("pool %8zu importance %7zu rows, lloyd %2d updates: full-data +%.3f %%  %.3f s\n", P, M, it,
                      100 * (full_inertia(m, r.centroids, k) / ref.inertia - 1), r.seconds);
        }
        if (P == n && M == 250000u) {
          p.algorithm = pk::Algorithm::minibatch;
          p.max_epochs = 1000;
          for (double rr : {0.0, 0.01}) for (std::size_t bs : {1024u, 16384u})
            for (std::uint64_t st : {100u, 250u, 500u, 1000u, 2000u}) {
              p.reassignment_ratio = rr;
              p.batch_size = bs;
              p.max_steps = st;
              p.max_no_improvement = 0;
              const auto r = pk::fit(xs.data(), M, d, p);
              std::printf("pool %8zu importance %7zu rows, rr %.2f minibatch %zu x %llu steps: full-data +%.3f %%  %.3f s\n", P, M, rr, bs,
                          (unsigned long long)st, 100 * (full_inertia(m, r.centroids, k) / ref.inertia - 1), r.seconds);
            }
          p.algorithm = pk::Algorithm::lloyd;
        }
        p.weights = nullptr;
      }
    }
    for (std::size_t M : {125000u, 250000u, 500000u, 1000000u}) {
      if (M > n) break;
      std::vector<std::size_t> blocks(n / 256);
      std::iota(blocks.begin(), blocks.end(), std::size_t{0});
      std::uint64_t s = 12345;
      for (std::size_t i = blocks.size(); i > 1; --i) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        std::swap(blocks[i - 1], blocks[(s >> 33) % i]);
      }
      std::vector<float> xs;
      for (std::size_t b = 0; b < M / 256; ++b)
        xs.insert(xs.end(), m.x.begin() + static_cast<std::ptrdiff_t>(blocks[b] * 256 * d),
                  m.x.begin() + static_cast<std::ptrdiff_t>((blocks[b] + 1) * 256 * d));
      for (int it : {5, 8, 10, 15, 30}) {
        p.max_iter = it;
        const auto r = pk::fit(xs.data(), xs.size() / d, d, p);
        std::printf("subsample %7zu rows, %2d updates: full-data +%.3f %%  %.3f s\n", M, it,
                    100 * (full_inertia(m, r.centroids, k) / ref.inertia - 1), r.seconds);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "subsample_quality: %s\n", e.what());
    return 1;
  }
}
