// personakit: the command-line entry point. All the work is in personakit_cli.
#include <csignal>
#include <iostream>

#include "cli.hpp"
#include "common.hpp"

#if __has_include("bench_cmd.hpp") && !defined(PERSONAKIT_CLI_NO_BENCH)
#include "bench_cmd.hpp"
#define PERSONAKIT_HAVE_BENCH_CMD 1
#endif

namespace {
extern "C" void on_interrupt(int) {
  // First Ctrl-C: ask the running fit to stop at its next iteration (outputs are
  // written atomically, so nothing partial is left). Second: default action.
  personakit::cli::g_interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);
}
}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, on_interrupt);
#ifdef PERSONAKIT_HAVE_BENCH_CMD
  return personakit::cli::run_cli(argc, argv, std::cout, std::cerr,
                                  [](CLI::App& app) { add_bench_command(app); });
#else
  return personakit::cli::run_cli(argc, argv, std::cout, std::cerr);
#endif
}
