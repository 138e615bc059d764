// Measurement helper for docs/generator.md and docs/format.md (not a test):
//   datasets_bench generate FILE ROWS FEATURES [KIND] [CHUNK_ROWS]
//   datasets_bench stream FILE MEMORY_LIMIT_MIB [REPEATS] [nocheck]
//     (PERSONAKIT_STREAM_READER=hdf5|pread|mmap picks the reader; nocheck skips the
//     NaN/Inf check to measure its cost)
//   datasets_bench readmatrix FILE [REPEATS]
// Prints one line per run: seconds and rows/s (and GB/s of fp32 rows).
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "personakit/datasets/datasets.hpp"
#include "personakit/error.hpp"

namespace pkd = personakit::datasets;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: see the top of datasets_bench.cpp\n");
    return 2;
  }
  const std::string cmd = argv[1], file = argv[2];
  using clk = std::chrono::steady_clock;
  try {
    if (cmd == "generate" && argc >= 5) {
      pkd::GeneratorParams p;
      p.rows = std::strtoull(argv[3], nullptr, 10);
      p.features = std::strtoull(argv[4], nullptr, 10);
      if (argc > 5) p.kind = argv[5];
      if (argc > 6) p.chunk_rows = std::strtoull(argv[6], nullptr, 10);
      auto t0 = clk::now();
      pkd::generate(p, file);
      double s = std::chrono::duration<double>(clk::now() - t0).count();
      std::printf("generate %s rows=%llu features=%zu threads=%d: %.3f s, %.3g rows/s\n", p.kind.c_str(),
                  static_cast<unsigned long long>(p.rows), p.features, omp_get_max_threads(), s,
                  static_cast<double>(p.rows) / s);
    } else if (cmd == "stream" && argc >= 4) {
      std::size_t limit = std::strtoull(argv[3], nullptr, 10) << 20;
      int reps = argc > 4 ? std::atoi(argv[4]) : 5;
      pkd::H5RowSource src(file, "/features", limit);
      if (argc > 5 && std::string(argv[5]) == "nocheck") src.set_check_finite(false);
      static const char* names[] = {"automatic", "hdf5", "pread", "mmap"};
      std::printf("reader %s%s\n", names[static_cast<int>(src.reader())],
                  src.direct_unavailable_reason().empty() ? "" : (" (" + src.direct_unavailable_reason() + ")").c_str());
      for (int r = 0; r < reps; ++r) {
        double sink = 0;
        auto t0 = clk::now();
        src.for_each_block(1, [&](const float* x, std::size_t, std::size_t nr) {
          // Touch every value (16 independent float sums: vectorised, ~memory speed)
          // so the pass is not just the reader's time.
          float acc[16] = {0};
          const std::size_t m = nr * src.cols();
          std::size_t i = 0;
          for (; i + 16 <= m; i += 16)
            for (int q = 0; q < 16; ++q) acc[q] += x[i + q];
          for (; i < m; ++i) acc[0] += x[i];
          for (float a : acc) sink += a;
        });
        double s = std::chrono::duration<double>(clk::now() - t0).count();
        std::printf("stream limit=%sMiB block_rows=%zu: %.3f s, %.3g rows/s, %.2f GB/s (sum %g)\n", argv[3],
                    src.block_rows(), s, static_cast<double>(src.rows()) / s,
                    static_cast<double>(src.rows() * src.cols() * 4) / s / 1e9, sink);
      }
    } else if (cmd == "readmatrix") {
      int reps = argc > 3 ? std::atoi(argv[3]) : 3;
      for (int r = 0; r < reps; ++r) {
        auto t0 = clk::now();
        auto m = pkd::read_matrix(file);
        double s = std::chrono::duration<double>(clk::now() - t0).count();
        std::printf("read_matrix: %.3f s, %.3g rows/s, %.2f GB/s\n", s, static_cast<double>(m.n) / s,
                    static_cast<double>(m.n * m.d * 4) / s / 1e9);
      }
    } else {
      std::fprintf(stderr, "unknown command\n");
      return 2;
    }
  } catch (const personakit::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
