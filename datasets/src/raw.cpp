// Direct reads of uncompressed float32 matrices (see raw.hpp).
#include "raw.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "personakit/isa.hpp"

namespace personakit::datasets::detail {

RawLayout::RawLayout(RawLayout&& o) noexcept
    : fd_(o.fd_), why_(std::move(o.why_)), runs_(std::move(o.runs_)), row_bytes_(o.row_bytes_), end_(o.end_),
      aligned_(o.aligned_) {
  o.fd_ = -1;
}

RawLayout& RawLayout::operator=(RawLayout&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
    why_ = std::move(o.why_);
    runs_ = std::move(o.runs_);
    row_bytes_ = o.row_bytes_;
    end_ = o.end_;
    aligned_ = o.aligned_;
  }
  return *this;
}

RawLayout::~RawLayout() {
  if (fd_ >= 0) ::close(fd_);
}

RawLayout RawLayout::plan(const OpenMatrix& om, const std::string& where) {
  RawLayout r;
  auto no = [&](const std::string& why) {
    RawLayout out;
    out.why_ = why;
    H5Eclear2(H5E_DEFAULT);
    return out;
  };
  const std::uint64_t n = om.info.rows, d = om.info.cols;
  const hid_t dset = om.dset.get();
  if constexpr (std::endian::native != std::endian::little) return no("big-endian host");
  if (om.is_f64) return no("float64 (converted while reading)");
  {
    Handle type(H5Dget_type(dset), H5Tclose);
    if (!type || H5Tequal(type.get(), H5T_IEEE_F32LE) <= 0) return no("not little-endian IEEE float32");
  }
  {
    Handle fcpl(H5Fget_create_plist(om.file.get()), H5Pclose);
    hsize_t ub = 0;
    if (!fcpl || H5Pget_userblock(fcpl.get(), &ub) < 0 || ub != 0) return no("the file has a user block");
  }
  Handle dcpl(H5Dget_create_plist(dset), H5Pclose);
  if (!dcpl) return no("no creation property list");
  r.row_bytes_ = static_cast<std::size_t>(d * 4);
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout == H5D_CONTIGUOUS) {
    if (H5Pget_external_count(dcpl.get()) != 0) return no("external storage");
    const haddr_t a = H5Dget_offset(dset);
    if (a == HADDR_UNDEF) return no("storage not allocated (fill values)");
    r.runs_.push_back({0, n, static_cast<std::uint64_t>(a)});
  } else if (layout == H5D_CHUNKED) {
    if (H5Pget_nfilters(dcpl.get()) != 0) return no("filtered (compressed) chunks");
    hsize_t cd[2] = {0, 0};
    if (H5Pget_chunk(dcpl.get(), 2, cd) != 2 || cd[0] == 0) return no("unreadable chunk shape");
    if (cd[1] != d) return no("chunks do not span every column");
    const std::uint64_t cr = cd[0], nch = (n + cr - 1) / cr, cbytes = cr * d * 4;
    if (nch > kMaxChunks) return no("more than 2^20 chunks");
    for (std::uint64_t c = 0; c < nch; ++c) {
      hsize_t off[2] = {c * cr, 0};
      unsigned mask = 0;
      haddr_t a = HADDR_UNDEF;
      hsize_t size = 0;
      if (H5Dget_chunk_info_by_coord(dset, off, &mask, &a, &size) < 0) return no("chunk lookup failed");
      if (a == HADDR_UNDEF) return no("a chunk is not allocated (fill values)");
      if (mask != 0 || size != cbytes) return no("a chunk is filtered or of unexpected size");
      const std::uint64_t rows = std::min(cr, n - c * cr);
      RawRun* last = r.runs_.empty() ? nullptr : &r.runs_.back();
      // A chunk is stored whole (cr rows, even the last one), so a run extends
      // only over chunks that are full and adjacent in the file.
      if (last && last->offset + last->rows * d * 4 == a && last->rows % cr == 0) {
        last->rows += rows;
      } else {
        r.runs_.push_back({c * cr, rows, static_cast<std::uint64_t>(a)});
      }
    }
  } else {
    return no(layout == H5D_COMPACT ? "compact layout" : "virtual or unknown layout");
  }
  for (const auto& run : r.runs_) {
    r.end_ = std::max(r.end_, run.offset + run.rows * d * 4);
    r.aligned_ = r.aligned_ && run.offset % alignof(float) == 0;
  }
  H5Eclear2(H5E_DEFAULT);

  r.fd_ = ::open(om.info.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (r.fd_ < 0) return no(std::string("cannot open for direct reads (") + std::strerror(errno) + ")");
  r.check_size(where);
  // Passes read front to back: a cold file then gets the kernel's larger readahead.
  (void)::posix_fadvise(r.fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  // The same rows through HDF5 and directly must agree (guards against a wrong
  // notion of the addresses, e.g. a file replaced between the two opens).
  std::vector<float> a(d), b(d);
  std::vector<double> staging;
  for (std::uint64_t row : {std::uint64_t(0), n - 1}) {
    read_rows_f32(dset, false, row, 1, d, a.data(), staging, where);
    r.read(row, 1, b.data(), where);
    if (std::memcmp(a.data(), b.data(), d * 4) != 0) return no("direct read disagrees with HDF5");
  }
  return r;
}

std::size_t RawLayout::run_of(std::uint64_t row) const {
  auto it = std::upper_bound(runs_.begin(), runs_.end(), row,
                             [](std::uint64_t v, const RawRun& run) { return v < run.row0; });
  return static_cast<std::size_t>(it - runs_.begin()) - 1;
}

void RawLayout::check_size(const std::string& where) const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) throw Error(where + ": cannot stat the file (" + std::strerror(errno) + ")");
  if (static_cast<std::uint64_t>(st.st_size) < end_)
    throw Error(where + ": the file is " + std::to_string(st.st_size) + " bytes; its data needs " + std::to_string(end_) +
                " (truncated?)");
}

void RawLayout::read(std::uint64_t r0, std::size_t nr, float* out, const std::string& where) const {
  auto* dst = reinterpret_cast<char*>(out);
  std::uint64_t r = r0;
  const std::uint64_t end = r0 + nr;
  std::size_t k = run_of(r0);
  while (r < end) {
    const RawRun& run = runs_[k];
    const std::uint64_t take = std::min(end, run.row0 + run.rows) - r;
    std::uint64_t off = run.offset + (r - run.row0) * row_bytes_;
    std::size_t left = static_cast<std::size_t>(take * row_bytes_);
    while (left > 0) {
      const ssize_t got = ::pread(fd_, dst, left, static_cast<off_t>(off));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0)
        throw Error(where + ": cannot read rows " + std::to_string(r0) + ".." + std::to_string(end - 1) +
                    " (truncated or corrupt file?): " + (got == 0 ? std::string("end of file") : std::strerror(errno)));
      dst += got;
      off += static_cast<std::uint64_t>(got);
      left -= static_cast<std::size_t>(got);
    }
    r += take;
    ++k;
  }
}

MapWindow::MapWindow(int fd, std::uint64_t offset, std::size_t len, const std::string& where) {
  static const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  constexpr std::uint64_t kHuge = std::uint64_t(2) << 20;
  const std::uint64_t start = offset / page * page;
  const std::size_t maplen = static_cast<std::size_t>(offset + len - start);
  // The window's address is congruent to its file offset modulo 2 MiB, and marked
  // MADV_HUGEPAGE: where the page cache holds 2 MiB folios (ext4 with large folios
  // after readahead), the kernel then maps them with one PMD each instead of 512
  // PTEs, and the first touch of the window costs next to nothing (docs/format.md).
  len_ = maplen + static_cast<std::size_t>(2 * kHuge);  // room for that placement
  base_ = ::mmap(nullptr, len_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base_ == MAP_FAILED) {
    base_ = nullptr;
    throw Error(where + ": cannot map " + std::to_string(len) + " bytes of the file (" + std::strerror(errno) + ")");
  }
  const auto b = reinterpret_cast<std::uint64_t>(base_);
  const std::uint64_t at = (b + kHuge - 1) / kHuge * kHuge + start % kHuge;
  void* p = ::mmap(reinterpret_cast<void*>(at), maplen, PROT_READ, MAP_SHARED | MAP_FIXED, fd, static_cast<off_t>(start));
  if (p == MAP_FAILED) {
    const int e = errno;
    reset();
    throw Error(where + ": cannot map " + std::to_string(len) + " bytes of the file (" + std::strerror(e) + ")");
  }
#ifdef MADV_HUGEPAGE
  (void)::madvise(p, maplen, MADV_HUGEPAGE);  // hints: failures only cost speed
#endif
#ifdef MADV_POPULATE_READ
  (void)::madvise(p, maplen, MADV_POPULATE_READ);  // page tables now, on the reader thread
#endif
  data_ = reinterpret_cast<const float*>(static_cast<const char*>(p) + (offset - start));
}

MapWindow::MapWindow(MapWindow&& o) noexcept : base_(o.base_), len_(o.len_), data_(o.data_) {
  o.base_ = nullptr;
  o.data_ = nullptr;
}

MapWindow& MapWindow::operator=(MapWindow&& o) noexcept {
  if (this != &o) {
    reset();
    base_ = o.base_;
    len_ = o.len_;
    data_ = o.data_;
    o.base_ = nullptr;
    o.data_ = nullptr;
  }
  return *this;
}

void MapWindow::reset() {
  if (base_) ::munmap(base_, len_);
  base_ = nullptr;
  data_ = nullptr;
}

namespace avx2 {
std::size_t count_nonfinite(const float* x, std::size_t m);  // finite_avx2.cpp
}

std::size_t count_nonfinite(const float* x, std::size_t m, std::size_t* first) {
  // |x| >= +Inf as integers: exponent all ones. One compare + add per value, no
  // branch, so GCC vectorises it (SSE2 pcmpgtd at baseline flags); AVX2 when the
  // kernels run AVX2 or AVX-512.
  const bool wide = active_isa() != Isa::scalar;  // an avx512 machine has AVX2 too
  std::size_t bad = 0;
  constexpr std::size_t kStep = 4096;  // branch once per 16 KiB: the clean case costs no more
  for (std::size_t i0 = 0; i0 < m; i0 += kStep) {
    const std::size_t i1 = std::min(m, i0 + kStep);
    std::size_t c = 0;
    if (wide) {
      c = avx2::count_nonfinite(x + i0, i1 - i0);
    } else {
      for (std::size_t i = i0; i < i1; ++i)
        c += static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(x[i]) & 0x7fffffffu) > 0x7f7fffff;
    }
    if (c != 0) {
      if (bad == 0 && first) {
        std::size_t i = i0;
        while (static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(x[i]) & 0x7fffffffu) <= 0x7f7fffff) ++i;
        *first = i;
      }
      bad += c;
    }
  }
  return bad;
}

}  // namespace personakit::datasets::detail
