#include "cli.hpp"

#include <filesystem>
#include <iostream>
#include <string>

#include "eqaug/core/error.hpp"

namespace eqaug::cli {
namespace {

/// `eqaug config-reference`: docs/config.md.
class ConfigReferenceCommand final : public Command {
 public:
  void add_to(CLI::App& app) override {
    sub_ = app.add_subcommand("config-reference",
                              "Print the reference of every config key (type, default, allowed values, meaning) "
                              "as Markdown: docs/config.md");
  }

  int run(int, char**) override {
    out() << eqaug::io::config_reference_markdown();
    return 0;
  }
};

}  // namespace

std::unique_ptr<Command> make_config_reference_command() { return std::make_unique<ConfigReferenceCommand>(); }

}  // namespace eqaug::cli
