// ISA detection and selection: cpuid once, PERSONAKIT_ISA override.
#include <atomic>
#include <cstdlib>
#include <mutex>

#include "personakit/error.hpp"
#include "personakit/isa.hpp"
#include "kernel_table.hpp"

namespace personakit {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

Isa parse_isa(const std::string& s) {
  if (s == "scalar") return Isa::scalar;
  if (s == "avx2") return Isa::avx2;
  if (s == "avx512") return Isa::avx512;
  throw Error("unknown ISA '" + s + "' (expected scalar, avx2 or avx512)");
}

bool isa_built(Isa isa) {
  switch (isa) {
    case Isa::scalar: return true;
#ifdef PERSONAKIT_HAVE_AVX2
    case Isa::avx2: return true;
#endif
#ifdef PERSONAKIT_HAVE_AVX512
    case Isa::avx512: return true;
#endif
    default: return false;
  }
}

bool isa_supported(Isa isa) {
  if (!isa_built(isa)) return false;
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma");
  }
  return false;
}

std::vector<Isa> available_isas() {
  std::vector<Isa> v;
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (isa_supported(i)) v.push_back(i);
  return v;
}

namespace {
std::atomic<int> g_isa{-1};
std::once_flag g_once;
std::string g_override_error;

void choose_once() {
  std::call_once(g_once, [] {
    Isa best = available_isas().back();
    if (const char* env = std::getenv("PERSONAKIT_ISA"); env && *env) {
      try {
        Isa want = parse_isa(env);
        if (isa_supported(want)) best = want;
        else g_override_error = std::string("PERSONAKIT_ISA=") + env + " is not supported on this CPU/build";
      } catch (const Error& e) {
        g_override_error = std::string("PERSONAKIT_ISA: ") + e.what();
      }
    }
    int expected = -1;
    g_isa.compare_exchange_strong(expected, static_cast<int>(best));
  });
}
}  // namespace

Isa active_isa() {
  int v = g_isa.load(std::memory_order_acquire);
  if (v < 0) { choose_once(); v = g_isa.load(std::memory_order_acquire); }
  return static_cast<Isa>(v);
}

void force_isa(Isa isa) {
  if (!isa_supported(isa)) throw Error(std::string("ISA ") + isa_name(isa) + " is not supported on this CPU/build");
  choose_once();
  g_isa.store(static_cast<int>(isa), std::memory_order_release);
}

std::string isa_override_error() { choose_once(); return g_override_error; }

namespace detail {

const KernelTable& kernel_table(Isa isa) {
  if (!isa_supported(isa)) throw Error(std::string("ISA ") + isa_name(isa) + " is not supported on this CPU/build");
  switch (isa) {
#ifdef PERSONAKIT_HAVE_AVX512
    case Isa::avx512: return avx512::kTable;
#endif
#ifdef PERSONAKIT_HAVE_AVX2
    case Isa::avx2: return avx2::kTable;
#endif
    default: return scalar::kTable;
  }
}

const KernelTable& kernel_table() {
  switch (active_isa()) {
#ifdef PERSONAKIT_HAVE_AVX512
    case Isa::avx512: return avx512::kTable;
#endif
#ifdef PERSONAKIT_HAVE_AVX2
    case Isa::avx2: return avx2::kTable;
#endif
    default: return scalar::kTable;
  }
}

}  // namespace detail
}  // namespace personakit

// ---- score kernels (issue 6): the same choice, a second table ----
namespace personakit::detail {

const ScoreKernelTable& score_kernel_table(Isa isa) {
  if (!isa_supported(isa)) throw Error(std::string("ISA ") + isa_name(isa) + " is not supported on this CPU/build");
  switch (isa) {
#ifdef PERSONAKIT_HAVE_AVX512
    case Isa::avx512: return avx512::kScoreTable;
#endif
#ifdef PERSONAKIT_HAVE_AVX2
    case Isa::avx2: return avx2::kScoreTable;
#endif
    default: return scalar::kScoreTable;
  }
}

const ScoreKernelTable& score_kernel_table() { return score_kernel_table(active_isa()); }

}  // namespace personakit::detail

// ---- k-means bound kernels: the same choice, a third table ----
namespace personakit::detail {

const KmeansKernelTable& kmeans_kernel_table(Isa isa) {
  if (!isa_supported(isa)) throw Error(std::string("ISA ") + isa_name(isa) + " is not supported on this CPU/build");
  switch (isa) {
#ifdef PERSONAKIT_HAVE_AVX512
    case Isa::avx512: return avx512::kKmeansTable;
#endif
#ifdef PERSONAKIT_HAVE_AVX2
    case Isa::avx2: return avx2::kKmeansTable;
#endif
    default: return scalar::kKmeansTable;
  }
}

const KmeansKernelTable& kmeans_kernel_table() { return kmeans_kernel_table(active_isa()); }

}  // namespace personakit::detail
