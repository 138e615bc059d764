// The personakit command line: CLI11 set-up, global options, dispatch.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <ostream>
#include <sstream>

#include "cli.hpp"
#include "common.hpp"
#include "personakit/isa.hpp"

#ifndef PERSONAKIT_CLI_VERSION
#define PERSONAKIT_CLI_VERSION "0.0.0"
#endif

namespace personakit::cli {

namespace {

const char* kTop =
    "personakit: customer segmentation on the CPU. Generate synthetic customers, fit k-means\n"
    "(exact Lloyd, Elkan, Hamerly, Yinyang, Exponion, mini-batch), assign new customers to\n"
    "segments, score a segmentation and choose the number of segments. Data live in HDF5\n"
    "files: /features N x D float32 (see docs/cli.md and docs/format.md).\n"
    "Exit codes: 0 ok, 1 data or runtime error, 2 usage error, 130 interrupted.";

void add_generate(CLI::App& app, GenerateOptions& o) {
  auto* s = app.add_subcommand("generate",
      "Write synthetic customers (or Gaussian blobs) with known segments to HDF5. "
      "Customers are drawn from K latent personas of unequal "
      "size (recency, frequency, monetary value, basket, tenure, channel shares, ...); blobs "
      "have a controllable separation. The true persona of each row is written "
      "to /truth. Seeded and deterministic: the same seed gives the same bytes whatever the "
      "thread count. Rows are written in chunks, so any size fits in memory.");
  s->add_option("--rows,-n", o.rows, "number of rows (customers)")->capture_default_str();
  s->add_option("--features,-d", o.features, "number of features (columns)")->capture_default_str();
  s->add_option("--segments,-k", o.segments, "number of latent personas / blobs")->capture_default_str();
  s->add_option("--seed", o.seed, "random seed")->capture_default_str();
  s->add_option("--kind", o.kind, "customers | blobs")->capture_default_str()
      ->check(CLI::IsMember({"customers", "blobs"}));
  s->add_option("--separation", o.separation,
                "blobs: distance between centres in units of the within-blob spread")
      ->capture_default_str();
  s->add_option("--output,-o", o.output, "output HDF5 file")->required();
  s->footer(
      "Example:\n"
      "  personakit generate --rows 100000 --features 16 --segments 6 --seed 7 -o customers.h5\n"
      "  personakit generate --kind blobs --rows 200000 --features 64 --segments 256 --separation 6 -o blobs.h5");
}

void add_fit(CLI::App& app, FitOptions& o) {
  auto* s = app.add_subcommand("fit",
      "Fit k-means with K segments and write a model file. "
      "The model holds the centroids, "
      "the label and size of every cluster, the preprocessing (--scale, --log1p) and the fit's "
      "attributes. Prints a summary (or one JSON object with --json); progress goes to stderr "
      "on fits longer than a second. The data are read into memory, or streamed block by block "
      "with --stream or when they exceed --memory-limit.");
  s->add_option("data", o.data, "input HDF5 file")->required();
  s->add_option("-k,--k", o.k, "number of clusters (segments), at least 1")->required();
  s->add_option("--output,-o", o.output, "output model file (HDF5)")->required();
  s->add_option("--dataset", o.dataset, "2-D dataset holding the rows")->capture_default_str();
  s->add_option("--algorithm,-a", o.algorithm,
                "lloyd | screened | elkan | hamerly | yinyang | exponion | minibatch | auto (screened: "
                "Lloyd's result bit for bit, its assignment screened in bf16; docs/accelerated.md)")
      ->capture_default_str();
  s->add_option("--init", o.init,
                "kmeans++ | random | kmeans|| | FILE.h5 (its /centroids: any model file works)")
      ->capture_default_str();
  s->add_option("--max-iter", o.max_iter, "maximum iterations per run")->capture_default_str();
  s->add_option("--tol", o.tol,
                "stop when the centroid shift is below tol x mean feature variance (scikit-learn's rule)")
      ->capture_default_str();
  s->add_option("--n-init", o.n_init, "runs with different seeds; the lowest inertia is kept")
      ->capture_default_str();
  s->add_option("--seed", o.seed, "random seed")->capture_default_str();
  s->add_option("--scale", o.scale, "none | standard | robust (stored in the model, applied by predict)")
      ->capture_default_str();
  s->add_option("--log1p", o.log1p, "comma-separated columns (names or 0-based indices) to log1p first");
  s->add_option("--weights", o.weights, "dataset in DATA with one sample weight per row");
  s->add_option("--memory-limit", o.memory_limit, "e.g. 512M: stream the data above this size, "
                                                  "and refuse algorithms whose state exceeds it");
  s->add_option("--batch-size", o.batch_size, "minibatch: rows per batch")->capture_default_str();
  s->add_option("--max-epochs", o.max_epochs, "minibatch: passes over the data")->capture_default_str();
  s->add_option("--max-steps", o.max_steps, "minibatch: batches (0 = no limit)")->capture_default_str();
  s->add_option("--max-no-improvement", o.max_no_improvement,
                "minibatch: stop after this many batches without improvement")
      ->capture_default_str();
  s->add_option("--refine", o.refine, "minibatch: exact Lloyd passes over all rows afterwards")
      ->capture_default_str();
  s->add_option("--coreset", o.coreset,
                "minibatch: instead of Sculley steps, draw M rows once by importance (distance to "
                "the initial centroids) and run weighted Lloyd steps on them (0 = off)")
      ->capture_default_str();
  s->add_flag("--stream", o.stream,
              "read the data block by block instead of into memory (every algorithm; the "
              "accelerated ones keep labels and bounds in memory, refused above --memory-limit)");
  s->footer(
      "Example:\n"
      "  personakit fit customers.h5 -k 6 -o model.h5 --scale standard --log1p monetary\n"
      "  personakit --json fit blobs.h5 -k 256 --algorithm yinyang --init kmeans++ --seed 1 -o m.h5\n"
      "  personakit fit big.h5 -k 64 -a minibatch --coreset 100000 --max-steps 20 --stream --memory-limit 512M -o m.h5");
}

void add_predict(CLI::App& app, PredictOptions& o) {
  auto* s = app.add_subcommand("predict",
      "Assign rows to the nearest centroid of a model. "
      "Every row of DATA.h5 goes to the nearest centroid of MODEL.h5, after applying the "
      "model's preprocessing (the same --scale and --log1p as at fit time). Writes /labels "
      "(int32) and /distances (float32, squared Euclidean distance to the centroid, in the "
      "model's space) to the output file. The data must have the model's number of features.");
  s->add_option("data", o.data, "input HDF5 file")->required();
  s->add_option("--model,-m", o.model, "model file written by fit")->required();
  s->add_option("--output,-o", o.output, "output labels file (HDF5)")->required();
  s->add_option("--dataset", o.dataset, "2-D dataset holding the rows (default: /features, else the one the model was fitted on)");
  s->add_option("--memory-limit", o.memory_limit, "e.g. 512M: stream the data above this size");
  s->add_flag("--stream", o.stream, "read the data block by block");
  s->footer(
      "Example:\n"
      "  personakit predict new_customers.h5 --model model.h5 -o labels.h5");
}

void add_info(CLI::App& app, InfoOptions& o) {
  auto* s = app.add_subcommand("info",
      "Describe a data, model or labels file. "
      "It prints the shape and type of its matrix, the feature names, how many "
      "NaN/Inf values it holds, and min/mean/max per feature. For a model file, also the fit's "
      "attributes (algorithm, k, inertia, preprocessing, source). A table, or JSON with --json.");
  s->add_option("file", o.file, "HDF5 file (data, model or labels)")->required();
  s->add_option("--dataset", o.dataset, "2-D dataset to describe (default /features, or /centroids)");
  s->footer(
      "Example:\n"
      "  personakit info customers.h5\n"
      "  personakit --json info model.h5");
}

void add_score(CLI::App& app, ScoreOptions& o) {
  auto* s = app.add_subcommand("score",
      "Score a segmentation: internal quality and agreement with the truth. "
      "Internal scores (inertia, silhouette exact or sampled, "
      "simplified silhouette, Davies-Bouldin, Calinski-Harabasz) use the rows and the labels "
      "from --labels FILE.h5 or --model MODEL.h5 (whose preprocessing is applied first). "
      "External scores (ARI, NMI, AMI, homogeneity, completeness, V-measure) compare with the "
      "true segments: --truth reads /truth of DATA.h5, --truth FILE.h5 another file's /truth "
      "(or /labels).");
  s->add_option("data", o.data, "input HDF5 file")->required();
  s->add_option("--dataset", o.dataset, "2-D dataset holding the rows")->capture_default_str();
  auto* lab = s->add_option("--labels,-l", o.labels, "labels file (/labels), e.g. from predict");
  auto* mod = s->add_option("--model,-m", o.model, "model file: its training labels and centroids");
  lab->excludes(mod);
  s->add_option("--truth", o.truth, "compare with the true segments: /truth of DATA, or of FILE")
      ->expected(0, 1);
  s->add_option("--metrics", o.metrics,
                "comma list of: inertia silhouette silhouette_simplified davies_bouldin "
                "calinski_harabasz ari nmi ami homogeneity completeness v_measure (default: all that apply)");
  s->add_option("--sample-size", o.sample_size, "silhouette on a seeded sample of this many rows (0 = exact)")
      ->capture_default_str();
  s->add_option("--seed", o.seed, "seed of the silhouette sample")->capture_default_str();
  s->add_flag("--skip-noise", o.skip_noise, "exclude rows labelled < 0 from the internal scores");
  s->add_option("--memory-limit", o.memory_limit,
                "e.g. 512M: stream the rows above this size (inertia, Davies-Bouldin, Calinski-Harabasz, "
                "simplified and sampled silhouette; labels stay resident and count against it)");
  s->add_flag("--stream", o.stream, "stream the rows whatever their size");
  s->footer(
      "Example:\n"
      "  personakit --json score customers.h5 --model model.h5 --truth\n"
      "  personakit score customers.h5 --labels labels.h5 --metrics silhouette,ari --sample-size 20000 --truth");
}

void add_sweep(CLI::App& app, SweepOptions& o) {
  auto* s = app.add_subcommand("sweep",
      "Choose the number of segments K. "
      "Fits k-means for every K of a range and reports, per K, "
      "inertia, silhouette (exact, sampled or none), Calinski-Harabasz and Davies-Bouldin, then "
      "the elbow of the inertia curve (largest second difference; the kneedle point is also "
      "reported) and the best K by each criterion. A table, JSON with --json, and a CSV with --csv.");
  s->add_option("data", o.data, "input HDF5 file")->required();
  s->add_option("--dataset", o.dataset, "2-D dataset holding the rows")->capture_default_str();
  s->add_option("--k", o.k_range, "K values: A..B, A..B:STEP or a list 3,5,8")->capture_default_str();
  s->add_option("--algorithm,-a", o.algorithm, "k-means algorithm for every fit")->capture_default_str();
  s->add_option("--silhouette", o.silhouette, "exact | sampled | none")->capture_default_str()
      ->check(CLI::IsMember({"exact", "sampled", "none"}));
  s->add_option("--sample-size", o.sample_size, "rows in the sampled silhouette")->capture_default_str();
  s->add_option("--max-iter", o.max_iter, "maximum iterations per fit")->capture_default_str();
  s->add_option("--tol", o.tol, "convergence tolerance (as fit)")->capture_default_str();
  s->add_option("--n-init", o.n_init, "runs per K; lowest inertia kept")->capture_default_str();
  s->add_option("--seed", o.seed, "random seed")->capture_default_str();
  s->add_option("--scale", o.scale, "none | standard | robust")->capture_default_str();
  s->add_option("--log1p", o.log1p, "comma-separated columns to log1p first");
  s->add_option("--csv", o.csv, "write one row per K to this CSV file");
  s->add_option("--json-output", o.json_output, "write the JSON report to this file");
  s->footer(
      "Example:\n"
      "  personakit sweep customers.h5 --k 2..12 --scale standard --csv sweep.csv\n"
      "  personakit --json sweep blobs.h5 --k 2..20:2 --silhouette none");
}

// Lists each subcommand with the first sentence of its description only; the whole
// paragraph opens `personakit SUBCOMMAND --help`.
class Formatter : public CLI::Formatter {
 public:
  std::string make_subcommand(const CLI::App* sub) const override {
    std::string d = sub->get_description();
    auto dot = d.find(". ");
    if (dot != std::string::npos) d = d.substr(0, dot + 1);
    if (d.size() > 100) d = d.substr(0, 97) + "...";
    std::stringstream s;
    CLI::detail::format_help(s, sub->get_display_name(true), d, column_width_);
    return s.str();
  }
};

}  // namespace

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  return run_cli(argc, argv, out, err, nullptr);
}

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
            ExtraCommands extra) {
  CLI::App app(kTop, "personakit");
  app.formatter(std::make_shared<Formatter>());
  app.fallthrough();  // global options may also follow the subcommand
  app.require_subcommand(0, 1);
  Common common;
  int threads = 0;
  std::string isa;
  app.set_version_flag("--version", [] {
    return std::string("personakit ") + PERSONAKIT_CLI_VERSION + " (isa " + isa_name(active_isa()) +
           ", " + std::to_string(omp_get_num_procs()) + " cores)";
  });
  app.add_option("--threads,-t", threads, "OpenMP threads (default: all cores)");
  app.add_option("--isa", isa, "force the kernel ISA: scalar | avx2 | avx512 (default: best supported)")
      ->check(CLI::IsMember({"scalar", "avx2", "avx512"}));
  app.add_flag("--json", common.json, "print one JSON object on stdout instead of text");
  app.add_flag("--quiet,-q", common.quiet, "no progress on stderr");

  GenerateOptions gen;
  FitOptions fit;
  PredictOptions pred;
  InfoOptions info;
  ScoreOptions score;
  SweepOptions sweep;
  add_generate(app, gen);
  add_fit(app, fit);
  add_predict(app, pred);
  add_info(app, info);
  add_score(app, score);
  add_sweep(app, sweep);
  if (extra) {
    int rc = guarded(err, [&] {
      extra(app);
      return 0;
    });
    if (rc) return rc;
  }
  app.footer(
      "Example:\n"
      "  personakit generate --rows 100000 --segments 6 -o customers.h5\n"
      "  personakit fit customers.h5 -k 6 --scale standard -o model.h5\n"
      "  personakit predict customers.h5 --model model.h5 -o labels.h5\n"
      "  personakit score customers.h5 --model model.h5 --truth\n"
      "Run 'personakit SUBCOMMAND --help' for each subcommand.");

  std::vector<std::string> args;
  for (int i = argc - 1; i >= 1; --i) args.emplace_back(argv[i]);  // CLI11 wants them reversed
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, out, err);
  } catch (const CLI::RuntimeError& e) {
    // An extra subcommand's callback asked for this exit code.
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    err << "personakit: error: " << msg << " (run with --help for usage)\n";
    return kExitUsage;
  } catch (...) {
    // An extra subcommand's callback threw during parsing.
    return guarded(err, [] () -> int { throw; });
  }

  return guarded(err, [&]() -> int {
    if (app.count("--threads")) {
      if (threads < 1) usage("--threads " + std::to_string(threads) + ": must be at least 1");
      omp_set_num_threads(threads);
    }
    if (!isa.empty()) {
      Isa want = parse_isa(isa);
      if (!isa_supported(want))
        usage(std::string("--isa ") + isa + ": not supported by this CPU or not built in");
      force_isa(want);
    }
    auto subs = app.get_subcommands();
    if (subs.empty()) usage("no subcommand given (generate, fit, predict, info, score, sweep; run with --help)");
    const std::string name = subs.front()->get_name();
    if (name == "generate") {
      gen.common = common;
      return run_generate(gen, out, err);
    }
    if (name == "fit") {
      fit.common = common;
      return run_fit(fit, out, err);
    }
    if (name == "predict") {
      pred.common = common;
      return run_predict(pred, out, err);
    }
    if (name == "info") {
      info.common = common;
      return run_info(info, out, err);
    }
    if (name == "score") {
      score.common = common;
      score.use_truth = subs.front()->count("--truth") > 0;
      return run_score(score, out, err);
    }
    if (name == "sweep") {
      sweep.common = common;
      return run_sweep(sweep, out, err);
    }
    return kExitOk;  // an extra subcommand: its own callback has run
  });
}

}  // namespace personakit::cli
