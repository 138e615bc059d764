// Timing tool (not a test, not built by default): Gaussian blobs generated in memory,
// then either Lloyd iterations or k-means++ timed.
//   time_kmeans lloyd N D K ITER      per-iteration seconds (progress timestamps), after a warm-up iteration
//   time_kmeans kpp   N D K REPS      init_centroids(kmeans++) seconds per repetition
//   time_kmeans dump  N D K FILE      write the blobs as a .npy (float32, C order) for scikit-learn
// Prints one line per measurement, then "median ... spread (min..max)".
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kmeans/internal.hpp"
#include "personakit/isa.hpp"
#include "personakit/kmeans.hpp"

namespace pk = personakit;

static std::vector<float> blobs(std::size_t n, std::size_t d, std::size_t k, std::uint64_t seed) {
  std::vector<float> c(k * d), x(n * d);
  for (std::size_t e = 0; e < k * d; ++e) c[e] = static_cast<float>((2 * pk::detail::uniform01(seed, e) - 1) * 4.0);
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t l = pk::detail::splitmix64(seed + i) % k;
    for (std::size_t j = 0; j < d; j += 2) {
      const double u1 = std::max(pk::detail::uniform01(seed + 1, i * d + j), 1e-300);
      const double u2 = pk::detail::uniform01(seed + 1, i * d + j + 1);
      const double r = std::sqrt(-2 * std::log(u1));
      x[i * d + j] = static_cast<float>(c[l * d + j] + r * std::cos(6.283185307179586 * u2));
      if (j + 1 < d) x[i * d + j + 1] = static_cast<float>(c[l * d + j + 1] + r * std::sin(6.283185307179586 * u2));
    }
  }
  return x;
}

static void summary(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const double med = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  std::printf("median %.4f s  spread %.4f..%.4f s  (n=%zu, threads=%d, isa=%s)\n", med, v.front(), v.back(), v.size(),
              omp_get_max_threads(), pk::isa_name(pk::active_isa()));
}

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s lloyd|kpp|dump N D K ITER|REPS|FILE\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const std::size_t n = std::strtoull(argv[2], nullptr, 10), d = std::strtoull(argv[3], nullptr, 10),
                    k = std::strtoull(argv[4], nullptr, 10);
  const auto x = blobs(n, d, k, 12345);
  if (mode == "dump") {
    FILE* f = std::fopen(argv[5], "wb");
    char hdr[128];
    int len = std::snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", n, d);
    std::string h(hdr, len);
    while ((10 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    const unsigned short hl = static_cast<unsigned short>(h.size());
    std::fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    std::fwrite(&hl, 2, 1, f);
    std::fwrite(h.data(), 1, h.size(), f);
    std::fwrite(x.data(), sizeof(float), x.size(), f);
    std::fclose(f);
    return 0;
  }
  const int reps = std::atoi(argv[5]);
  std::vector<double> t;
  if (mode == "lloyd") {
    const auto c0 = pk::init_centroids(x.data(), n, d, k, pk::Init::random, 7);
    pk::KMeansParams p;
    p.k = k;
    p.init = pk::Init::given;
    p.init_centroids = c0.data();
    p.max_iter = reps + 1;
    p.tol = 0;
    double last = -1;
    p.progress = [&](const pk::Progress& pr) {
      if (last >= 0) {
        t.push_back(pr.seconds - last);
        std::printf("iteration %d: %.4f s\n", pr.iteration, pr.seconds - last);
      }
      last = pr.seconds;
      return true;
    };
    pk::fit(x.data(), n, d, p);
  } else if (mode == "kpp") {
    for (int r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      std::uint64_t ev = 0;
      pk::init_centroids(x.data(), n, d, k, pk::Init::kmeanspp, static_cast<std::uint64_t>(r), nullptr, &ev);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      t.push_back(s);
      std::printf("kmeans++ rep %d: %.4f s (%llu distances)\n", r, s, static_cast<unsigned long long>(ev));
    }
  }
  summary(t);
  return 0;
}
