#include <algorithm>
#include <cstring>

#include "personakit/error.hpp"
#include "personakit/source.hpp"

namespace personakit {

void MatrixSource::for_each_block(std::size_t align_rows, const BlockFn& fn) {
  if (align_rows == 0) align_rows = 1;
  // Resident data: one block per 1M rows rounded to the alignment keeps callers' loops simple.
  const std::size_t step = std::max<std::size_t>(align_rows, (std::size_t{1} << 20) / align_rows * align_rows);
  for (std::size_t r = 0; r < n_; r += step) fn(x_ + r * d_, r, std::min(step, n_ - r));
}

void MatrixSource::read_rows(const std::uint64_t* idx, std::size_t count, float* out) {
  for (std::size_t t = 0; t < count; ++t) {
    if (idx[t] >= n_) throw Error("row index out of range");
    std::memcpy(out + t * d_, x_ + idx[t] * d_, d_ * sizeof(float));
  }
}

void RowSource::read_range(std::size_t, std::size_t, float*) {
  throw Error("this row source has no parallel range reads");
}

}  // namespace personakit
