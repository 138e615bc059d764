// H5RowSource: double-buffered streaming of a 2-D HDF5 matrix, and column_stats.
// Blocks are read through HDF5, or directly from the file's data extents (pread
// into the buffer, or an mmap window handed over as is): raw.hpp.
//
// One reader thread per pass fills block b+1 while the caller's callback works on
// block b. Two buffers, so at most one block is read ahead; the hand-over is a
// mutex + condition variable per block (a few microseconds against milliseconds
// of I/O and compute per block).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <sys/uio.h>

#include "h5util.hpp"
#include "raw.hpp"

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
  detail::RawLayout raw;
  Reader mode = Reader::hdf5;
  bool parallel = true;  // offer read_range (with the pread reader)

  bool transforms() const { return t && !t->empty(); }

  [[noreturn]] void nonfinite(std::size_t row0, std::size_t nrows, std::uint64_t bad, std::size_t first) const {
    const std::size_t d = om.info.cols;
    throw Error(where + " has " + std::to_string(bad) + " non-finite value" + (bad == 1 ? "" : "s") +
                " (NaN/Inf) in rows " + std::to_string(row0) + ".." + std::to_string(row0 + nrows - 1) +
                "; first at " + detail::position(row0 + first / d, first % d, om.info.feature_names));
  }
  void check(const float* x, std::size_t row0, std::size_t nrows) const {
    if (!check_finite) return;
    std::size_t first = 0;
    const std::size_t bad = detail::count_nonfinite(x, nrows * om.info.cols, &first);
    if (bad > 0) nonfinite(row0, nrows, bad, first);
  }
  void transform(float* x, std::size_t row0, std::size_t nrows) const {
    if (!transforms()) return;
    try {
      t->apply(x, nrows, om.info.cols, row0);
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  }

  // Reads rows through HDF5, checks them and applies the transform. Runs on the
  // reader thread during a pass, on the caller's thread in read_rows.
  void load(std::size_t row0, std::size_t nrows, float* out) {
    detail::read_rows_f32(om.dset.get(), om.is_f64, row0, nrows, om.info.cols, out, staging, where);
    check(out, row0, nrows);
    transform(out, row0, nrows);
  }

  // The same result read directly (pread), checked and transformed 1 MiB at a time
  // while that piece is still in L2. Errors are those of load(): the non-finite
  // count covers the whole block and wins over a transform error met earlier.
  void load_direct(std::size_t row0, std::size_t nrows, float* out) {
    const std::size_t d = om.info.cols;
    const std::size_t piece = std::max<std::size_t>(1, detail::kStagingBytes / raw.row_bytes());
    std::uint64_t bad = 0;
    std::size_t first = 0;
    std::exception_ptr terr;
    for (std::size_t i = 0; i < nrows; i += piece) {
      const std::size_t m = std::min(piece, nrows - i);
      float* x = out + i * d;
      raw.read(row0 + i, m, x, where);
      if (check_finite) {
        std::size_t f = 0;
        const std::size_t c = detail::count_nonfinite(x, m * d, &f);
        if (c > 0 && bad == 0) first = i * d + f;
        bad += c;
      }
      if (bad == 0 && !terr) {
        try {
          transform(x, row0 + i, m);
        } catch (const Error&) {
          terr = std::current_exception();
        }
      }
    }
    if (bad > 0) nonfinite(row0, nrows, bad, first);
    if (terr) std::rethrow_exception(terr);
  }

  Reader pick(Reader r) const {
    // Not mmap: it is cheaper than pread only where the page cache holds 2 MiB
    // folios, and ~3x dearer where it holds 4 KiB pages (docs/format.md).
    if (r == Reader::automatic) return raw.ok() ? Reader::pread : Reader::hdf5;
    if (r == Reader::hdf5) return r;
    if (!raw.ok()) throw Error(where + ": cannot read directly (" + raw.why() + ")");
    if (r == Reader::mmap && !raw.aligned()) throw Error(where + ": cannot map the data (not 4-byte aligned in the file)");
    return r;
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
  impl_->raw = detail::RawLayout::plan(impl_->om, impl_->where);
  impl_->mode = impl_->pick(Reader::automatic);
  if (const char* env = std::getenv("PERSONAKIT_STREAM_READER")) {
    const std::string e = env;
    const Reader r = e == "hdf5" ? Reader::hdf5 : e == "pread" ? Reader::pread : e == "mmap" ? Reader::mmap : Reader::automatic;
    try {
      impl_->mode = impl_->pick(r);
    } catch (const Error&) {
      // Not possible for this dataset: keep the automatic choice.
    }
  }
  if (const char* env = std::getenv("PERSONAKIT_STREAM_PARALLEL")) impl_->parallel = std::string(env) != "0";
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
void H5RowSource::set_reader(Reader r) { impl_->mode = impl_->pick(r); }
H5RowSource::Reader H5RowSource::reader() const {
  return impl_->mode == Reader::mmap && impl_->transforms() ? Reader::pread : impl_->mode;
}
const std::string& H5RowSource::direct_unavailable_reason() const { return impl_->raw.why(); }

bool H5RowSource::parallel_reads() const { return impl_->parallel && reader() == Reader::pread; }
void H5RowSource::set_parallel_reads(bool on) { impl_->parallel = on; }

void H5RowSource::read_range(std::size_t row0, std::size_t nrows, float* out) {
  Impl& s = *impl_;
  if (!parallel_reads()) throw Error(s.where + ": parallel range reads need the direct pread reader");
  if (row0 > s.om.info.rows || nrows > s.om.info.rows - row0)
    throw Error(s.where + ": rows " + std::to_string(row0) + ".." + std::to_string(row0 + nrows) + " are past the end");
  s.load_direct(row0, nrows, out);  // pread, the finite check and the transform: thread-safe
}

void H5RowSource::begin_pass() {
  detail::quiet();
  Impl& s = *impl_;
  if (s.mode != Reader::hdf5) s.raw.check_size(s.where);
}

void H5RowSource::will_need(std::size_t row0, std::size_t nrows) {
  Impl& s = *impl_;
  if (s.mode == Reader::hdf5 || nrows == 0) return;
  const std::size_t end = std::min<std::size_t>(s.om.info.rows, row0 + nrows);
  for (std::size_t r = row0; r < end;) {
    const detail::RawRun& run = s.raw.runs()[s.raw.run_of(r)];
    const std::size_t stop = std::min<std::size_t>(end, static_cast<std::size_t>(run.row0 + run.rows));
    const off_t off = static_cast<off_t>(run.offset + (r - run.row0) * s.raw.row_bytes());
    const off_t len = static_cast<off_t>((stop - r) * s.raw.row_bytes());
    // WILLNEED walks every page of the range even when all are cached (0.16-0.5 ms per
    // 16 MiB here, up to a sixth of a streamed Lloyd pass), so first ask, for one byte
    // at the end of the range, whether it is cached (RWF_NOWAIT: no I/O, EAGAIN if
    // not). Cached end: the stretch was read or written as a whole, skip the hint.
    char probe;
    iovec iov{&probe, 1};
    if (::preadv2(s.raw.fd(), &iov, 1, off + len - 1, RWF_NOWAIT) == 1) {
      r = stop;
      continue;
    }
    // A hint: the kernel starts reading what is not cached yet and returns.
    (void)::posix_fadvise(s.raw.fd(), off, len, POSIX_FADV_WILLNEED);
    r = stop;
  }
}

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
  // The blocks of this pass. With the mmap reader a block whose rows are one
  // stretch of the file is a window of it; a block that would straddle two
  // stretches (chunks not adjacent in the file) ends at the first stretch's end
  // when that keeps it a multiple of align_rows, and is copied (pread) otherwise.
  struct Block {
    std::size_t r0, nr;
    bool mapped;
  };
  const Reader mode = reader();
  std::vector<Block> blocks;
  bool copies = false;
  for (std::size_t r0 = 0; r0 < n;) {
    std::size_t end = std::min(n, r0 + br);
    bool mapped = false;
    if (mode == Reader::mmap) {
      const detail::RawRun& run = s.raw.runs()[s.raw.run_of(r0)];
      const std::size_t run_end = static_cast<std::size_t>(run.row0 + run.rows);
      if (end <= run_end) {
        mapped = true;
      } else if ((run_end - r0) % align_rows == 0) {
        end = run_end;
        mapped = true;
      }
    }
    copies = copies || !mapped;
    blocks.push_back({r0, end - r0, mapped});
    r0 = end;
  }
  const std::size_t nblocks = blocks.size();
  if (copies)
    for (auto& b : s.buf)
      if (b.size() < br * d) detail::resize_huge(b, br * d);
  if (mode != Reader::hdf5) s.raw.check_size(s.where);

  std::mutex mu;
  std::condition_variable cv;
  std::size_t filled = 0;    // blocks [0, filled) are ready
  std::size_t consumed = 0;  // blocks [0, consumed) are done with
  bool stop = false;
  std::exception_ptr err;
  detail::MapWindow win[2];          // the mapped window of the block in each slot
  const float* ready[2] = {nullptr, nullptr};

  std::thread reader([&] {
    detail::quiet();
    for (std::size_t b = 0; b < nblocks; ++b) {
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return stop || b < consumed + 2; });
        if (stop) return;
      }
      const Block& blk = blocks[b];
      const std::size_t slot = b % 2;
      try {
        win[slot].reset();  // block b - 2's window: consumed
        if (blk.mapped) {
          // Map only what the file still covers: past its end a page is SIGBUS.
          s.raw.check_size(s.where);
          const detail::RawRun& run = s.raw.runs()[s.raw.run_of(blk.r0)];
          win[slot] = detail::MapWindow(s.raw.fd(), run.offset + (blk.r0 - run.row0) * s.raw.row_bytes(),
                                        blk.nr * s.raw.row_bytes(), s.where);
          s.check(win[slot].data(), blk.r0, blk.nr);
          ready[slot] = win[slot].data();
        } else {
          float* out = s.buf[slot].data();
          if (mode == Reader::hdf5) s.load(blk.r0, blk.nr, out);
          else s.load_direct(blk.r0, blk.nr, out);
          ready[slot] = out;
        }
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
    win[0].reset();
    win[1].reset();
  };

  try {
    for (std::size_t b = 0; b < nblocks; ++b) {
      const float* x = nullptr;
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return filled > b || err; });
        if (filled <= b) std::rethrow_exception(err);
        x = ready[b % 2];
      }
      fn(x, blocks[b].r0, blocks[b].nr);
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
  // The direct reader when the file allows it: one pread per run, no HDF5 chunk cache
  // (a scattered sample through H5Dread cost ~1 ms and a cached 1 MiB chunk per run).
  const bool direct = reader() != Reader::hdf5;
  auto load = [&](std::size_t r0, std::size_t nr, float* out) {
    if (direct) s.load_direct(r0, nr, out);
    else s.load(r0, nr, out);
  };
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
      load(r0, span, out + i * d);
    } else {
      tmp.resize(span * d);
      load(r0, span, tmp.data());
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
      char nm[32];  // snprintf: GCC 12 warns falsely (-Wrestrict) on "f" + std::string
      std::snprintf(nm, sizeof nm, "f%zu", j);
      out[j].name = nm;
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
