// eqaug — equivariance versus augmentation, the command line. Each subcommand is a Command
// in a file of its own (cmd_<name>.cpp); this file builds the program from them, parses,
// and maps errors to exit statuses.
#include <filesystem>
#include <iostream>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "cli.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/experiment/sweep.hpp"

int main(int argc, char** argv) {
  using namespace eqaug::cli;
  CLI::App app{
      "eqaug: equivariant layers versus data augmentation (Nordenfors, Ohlsson, Flinth).\n"
      "Trains Nom, Aug and Equi models from one equivariant start and records how far each\n"
      "drifts from the equivariant subspace E.",
      "eqaug"};
  std::vector<std::unique_ptr<Command>> commands;
  build_app(app, commands);

  if (argc == 1) {
    std::cout << app.help();
    return 0;
  }
  // A first word that is no option and no subcommand is a mistyped command: name it.
  if (argc > 1 && argv[1][0] != '-') {
    const std::string cmd = argv[1];
    bool known = false;
    for (const auto* sub : app.get_subcommands({})) known = known || sub->get_name() == cmd;
    if (!known) {
      std::cerr << "eqaug: error: unknown command '" << cmd
                << "' (expected one of: run, report, dims, data, check, hessian, config-reference; see eqaug --help)\n";
      return kExitUsage;
    }
  }
  Command* chosen = nullptr;
  try {
    app.parse(argc, argv);
    for (auto& c : commands)
      if (c->chosen()) chosen = c.get();
    if (chosen) chosen->validate();
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string sub;
    for (const auto* s : app.get_subcommands()) sub = s->get_name() + " ";
    std::cerr << "eqaug: error: " << e.what();
    // `--modes nom equi` leaves equi to the positional arguments.
    const std::string what = e.what();
    bool modes = false;
    for (int i = 1; i < argc; ++i) modes = modes || std::string(argv[i]) == "--modes";
    if (modes && what.find("not expected") != std::string::npos)
      std::cerr << "; --modes takes one comma-separated list (--modes nom,equi), not words separated by spaces";
    std::cerr << " (see eqaug " << sub << "--help)\n";
    return kExitUsage;
  }

  try {
    if (chosen && chosen->name() == "run") catch_stop_signals();
    if (chosen) return chosen->run(argc, argv);
  } catch (const eqaug::experiment::Interrupted& e) {
    std::cerr << "\neqaug: interrupted after " << e.runs_done << " of " << e.runs_total
              << " runs; continue with --resume\n";
    return 128 + e.signal;
  } catch (const eqaug::RuntimeFailure& e) {
    std::cerr << "eqaug: error: " << e.what() << "\n";
    return kExitRuntime;
  } catch (const eqaug::Error& e) {
    std::cerr << "eqaug: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "eqaug: error: " << e.what() << "\n";
    return kExitRuntime;
  } catch (const std::bad_alloc&) {
    std::cerr << "eqaug: error: out of memory: the model or data set is too large for this machine\n";
    return kExitRuntime;
  } catch (const std::exception& e) {
    std::cerr << "eqaug: error: internal error: " << e.what() << "\n";
    return kExitRuntime;
  }
  return 0;
}
