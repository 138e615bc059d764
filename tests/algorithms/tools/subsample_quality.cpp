// Measurement tool (not a test, built on request): how close Lloyd run on a random
// subsample gets to converged Lloyd on all the rows, from the same k-means++ centroids.
// It bounds what any mini-batch scheme can do on a data set: a scheme that reads M rows
// a few times cannot beat Lloyd run to convergence on those M rows.
//   subsample_quality FILE K
// Prints converged Lloyd's inertia, Lloyd's relative excess after 5..12 updates, then
// for subsamples of M = 125k..1M rows (random 256-row blocks, as mini-batch draws them)
// the full-data excess of Lloyd on the subsample after 5..30 updates, with its seconds.
#include <cstdio>
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
