// H5RowSource: double-buffered streaming of a 2-D HDF5 matrix, and column_stats.
//
// One reader thread per pass fills block b+1 while the caller's callback works on
// block b. Two buffers, so at most one block is read ahead; the hand-over is a
// mutex + condition variable per block (a few microseconds against milliseconds
// of I/O and compute per block).
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "h5util.hpp"

// The reader thread calls HDF5 while the caller's thread may too (streamed predict
// writes labels from the callback): that needs HDF5's thread-safe build, which
// Debian's libhdf5 (serial) is.
#if !H5_HAVE_THREADSAFE
#error "personakit::datasets needs a thread-safe HDF5 build (H5_HAVE_THREADSAFE)"
#endif

namespace personakit::datasets {

using detail::Handle;

struct H5RowSource::Impl {
  detail::OpenMatrix om;
  std::string where;
  const Transform* t = nullptr;
  std::size_t block_rows = 0;
  std::size_t memory_limit = 0;
  bool check_finite = true;
  std::vector<float> buf[2];
  std::vector<double> staging;

  // Reads rows, checks them and applies the transform. Runs on the reader thread
  // during a pass, on the caller's thread in read_rows.
  void load(std::size_t row0, std::size_t nrows, float* out) {
    const std::size_t d = om.info.cols;
    detail::read_rows_f32(om.dset.get(), om.is_f64, row0, nrows, d, out, staging, where);
    if (check_finite) {
      std::uint64_t bad = 0;
      std::size_t first = 0;
      for (std::size_t i = 0; i < nrows * d; ++i)
        if (!std::isfinite(out[i])) {
          if (bad == 0) first = i;
          ++bad;
        }
      if (bad > 0)
        throw Error(where + " has " + std::to_string(bad) + " non-finite value" + (bad == 1 ? "" : "s") +
                    " (NaN/Inf) in rows " + std::to_string(row0) + ".." + std::to_string(row0 + nrows - 1) +
                    "; first at " + detail::position(row0 + first / d, first % d, om.info.feature_names));
    }
    if (t && !t->empty()) {
      try {
        t->apply(out, nrows, d, row0);
      } catch (const Error& e) {
        throw Error(where + ": " + e.what());
      }
    }
  }
};

std::size_t H5RowSource::block_rows_for(std::size_t limit, std::size_t rows, std::size_t cols, const std::string& file) {
  const std::size_t row_bytes = 2 * 4 * cols;  // two buffers of fp32 rows
  const std::string who = file.empty() ? std::string("memory limit") : file + ": memory limit";
  if (limit < kOverheadBytes + row_bytes)
    throw Error(who + " of " + std::to_string(limit) + " bytes is too small to stream " + std::to_string(cols) +
                " columns: needs at least " + std::to_string(kOverheadBytes + row_bytes) + " bytes (2 MiB + 8 bytes x " +
                std::to_string(cols) + " columns)");
  std::size_t r = (limit - kOverheadBytes) / row_bytes;
  // Past 32 MiB a block only falls out of the caches (the callback re-reads it from
  // DRAM): 267 MB blocks measured ~1.4x slower per pass than 3-31 MiB ones.
  std::size_t cap = std::max<std::size_t>(1, kMaxBlockBytes / (4 * cols));
  if (r > cap) r = cap;
  if (rows > 0 && r > rows) r = rows;
  return r;
}

H5RowSource::H5RowSource(const std::string& file, const std::string& dataset, std::size_t memory_limit_bytes,
                         const Transform* t)
    : impl_(new Impl) {
  impl_->om = detail::open_matrix(file, dataset, detail::kChunkCacheBytes);
  impl_->where = file + ":" + dataset;
  impl_->t = t;
  impl_->memory_limit = memory_limit_bytes;
  impl_->block_rows = block_rows_for(memory_limit_bytes, impl_->om.info.rows, impl_->om.info.cols, file);
  if (t && !t->empty()) {
    // Validate the transform's shape now rather than mid-pass.
    if (t->scale != Transform::Scale::none && t->center.size() != impl_->om.info.cols)
      throw Error(impl_->where + ": the transform has " + std::to_string(t->center.size()) + " columns; the data has " +
                  std::to_string(impl_->om.info.cols));
    for (int c : t->log1p_cols)
      if (c < 0 || static_cast<std::size_t>(c) >= impl_->om.info.cols)
        throw Error(impl_->where + ": log1p column " + std::to_string(c) + " is outside 0.." +
                    std::to_string(impl_->om.info.cols - 1));
  }
}

H5RowSource::~H5RowSource() = default;

std::size_t H5RowSource::rows() const { return impl_->om.info.rows; }
std::size_t H5RowSource::cols() const { return impl_->om.info.cols; }
std::size_t H5RowSource::block_rows() const { return impl_->block_rows; }
const DatasetInfo& H5RowSource::info() const { return impl_->om.info; }
void H5RowSource::set_check_finite(bool on) { impl_->check_finite = on; }

void H5RowSource::for_each_block(std::size_t align_rows, const BlockFn& fn) {
  detail::quiet();
  Impl& s = *impl_;
  const std::size_t n = s.om.info.rows, d = s.om.info.cols;
  if (align_rows == 0) align_rows = 1;
  std::size_t br = s.block_rows;
  if (br < n) br = br / align_rows * align_rows;
  if (br == 0)
    throw Error(s.om.info.file + ": memory limit of " + std::to_string(s.memory_limit) +
                " bytes is too small for one block of " + std::to_string(align_rows) + " rows x " + std::to_string(d) +
                " columns (needs " + std::to_string(H5RowSource::kOverheadBytes + 2 * 4 * d * align_rows) + " bytes)");
  const std::size_t nblocks = (n + br - 1) / br;
  for (auto& b : s.buf)
    if (b.size() < br * d) detail::resize_huge(b, br * d);

  std::mutex mu;
  std::condition_variable cv;
  std::size_t filled = 0;    // blocks [0, filled) are ready
  std::size_t consumed = 0;  // blocks [0, consumed) are done with
  bool stop = false;
  std::exception_ptr err;

  std::thread reader([&] {
    detail::quiet();
    for (std::size_t b = 0; b < nblocks; ++b) {
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return stop || b < consumed + 2; });
        if (stop) return;
      }
      std::size_t r0 = b * br, nr = std::min(br, n - r0);
      try {
        s.load(r0, nr, s.buf[b % 2].data());
      } catch (...) {
        std::lock_guard<std::mutex> lk(mu);
        err = std::current_exception();
        cv.notify_all();
        return;
      }
      std::lock_guard<std::mutex> lk(mu);
      filled = b + 1;
      cv.notify_all();
    }
  });
  auto finish = [&] {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    cv.notify_all();
    reader.join();
  };

  try {
    for (std::size_t b = 0; b < nblocks; ++b) {
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return filled > b || err; });
        if (filled <= b) std::rethrow_exception(err);
      }
      std::size_t r0 = b * br, nr = std::min(br, n - r0);
      fn(s.buf[b % 2].data(), r0, nr);
      {
        std::lock_guard<std::mutex> lk(mu);
        consumed = b + 1;
      }
      cv.notify_all();
    }
  } catch (...) {
    finish();
    throw;
  }
  finish();
}

void H5RowSource::read_rows(const std::uint64_t* idx, std::size_t count, float* out) {
  detail::quiet();
  Impl& s = *impl_;
  const std::size_t n = s.om.info.rows, d = s.om.info.cols;
  // Each run of indices falling in one window is served by one read of the
  // window's rows; a window is at most one HDF5 chunk (or 4096 rows when the
  // dataset is contiguous) and at most one streaming block.
  std::size_t win = s.om.info.chunk_rows ? s.om.info.chunk_rows : 4096;
  win = std::max<std::size_t>(1, std::min(win, s.block_rows));
  std::vector<float> tmp;
  std::size_t i = 0;
  while (i < count) {
    std::uint64_t r0 = idx[i];
    if (r0 >= n) throw Error(s.where + ": row index " + std::to_string(r0) + " out of range (rows: " + std::to_string(n) + ")");
    if (i > 0 && idx[i] < idx[i - 1]) throw Error(s.where + ": read_rows needs ascending indices");
    std::size_t j = i + 1;
    while (j < count && idx[j] >= idx[j - 1] && idx[j] < r0 + win) ++j;
    std::size_t span = static_cast<std::size_t>(idx[j - 1] - r0 + 1);
    if (j - i == span) {
      // Consecutive rows: read straight into out.
      s.load(r0, span, out + i * d);
    } else {
      tmp.resize(span * d);
      s.load(r0, span, tmp.data());
      for (std::size_t q = i; q < j; ++q)
        std::copy_n(tmp.data() + (idx[q] - r0) * d, d, out + q * d);
    }
    i = j;
  }
}

std::vector<ColumnStats> column_stats(const std::string& file, const std::string& dataset, std::size_t memory_limit) {
  H5RowSource src(file, dataset, memory_limit, nullptr);
  src.set_check_finite(false);
  const std::size_t d = src.cols();
  const auto& names = src.info().feature_names;
  std::vector<double> mn(d, INFINITY), mx(d, -INFINITY), sum(d, 0.0);
  std::vector<std::uint64_t> cnt(d, 0), bad(d, 0);
  src.for_each_block(1, [&](const float* x, std::size_t, std::size_t nr) {
    // fp64 sums per block, added in block order: deterministic for a given file.
    std::vector<double> bs(d, 0.0);
    for (std::size_t i = 0; i < nr; ++i) {
      const float* row = x + i * d;
      for (std::size_t j = 0; j < d; ++j) {
        double v = row[j];
        if (!std::isfinite(v)) {
          ++bad[j];
          continue;
        }
        ++cnt[j];
        bs[j] += v;
        if (v < mn[j]) mn[j] = v;
        if (v > mx[j]) mx[j] = v;
      }
    }
    for (std::size_t j = 0; j < d; ++j) sum[j] += bs[j];
  });
  std::vector<ColumnStats> out(d);
  for (std::size_t j = 0; j < d; ++j) {
    if (j < names.size()) {
      out[j].name = names[j];
    } else {
      out[j].name = "f";  // two steps: GCC 12 warns falsely (-Wrestrict) on "f" + std::string
      out[j].name.append(std::to_string(j));
    }
    out[j].nonfinite = bad[j];
    if (cnt[j] == 0) {
      out[j].min = out[j].mean = out[j].max = NAN;
    } else {
      out[j].min = mn[j];
      out[j].max = mx[j];
      out[j].mean = sum[j] / static_cast<double>(cnt[j]);
    }
  }
  return out;
}

}  // namespace personakit::datasets
