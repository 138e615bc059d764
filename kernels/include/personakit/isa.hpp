// Runtime ISA selection for the kernels.
#pragma once
#include <string>
#include <vector>

namespace personakit {

enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);             // "scalar", "avx2", "avx512"
Isa parse_isa(const std::string& name);    // throws Error on an unknown name
bool isa_built(Isa isa);                   // compiled into this library
bool isa_supported(Isa isa);               // built and the CPU (and OS) can run it
std::vector<Isa> available_isas();         // built and supported, scalar first

// The ISA every dispatched kernel uses. Chosen once on first use: the
// environment variable PERSONAKIT_ISA=scalar|avx2|avx512 if set (an unknown or
// unsupported value falls back to the best and is reported by isa_override_error()),
// else the best supported. Thread-safe.
Isa active_isa();
// Force an ISA for the rest of the process (tests, benchmarks, --isa).
// Throws Error if it is not supported here.
void force_isa(Isa isa);
// Non-empty when PERSONAKIT_ISA named something unusable.
std::string isa_override_error();

}  // namespace personakit
