#pragma once
// Experiment configuration: a TOML file (a preset in configs/ or the user's own) turned
// into JSON, overridden from the command line, validated field by field, and resolved
// into the objects that run it. The resolved JSON is what the manifest records and what
// --resume compares.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eqaug/data/dataset.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/train/trainer.hpp"

namespace eqaug::io {

enum class Precision { F32, F64 };

struct ExperimentConfig {
  std::string source;   // where it came from (file path), for messages
  nlohmann::json json;  // the resolved configuration
  std::string name;
  std::size_t runs = 30;
  std::size_t chunk = 500;
  Precision precision = Precision::F32;
  TrainOptions train;
  std::string init_weights;  // directory of A<j>.npy, or empty
};

/// Directories searched for presets: $EQAUG_CONFIG_DIR, ./configs, the build's source tree.
std::vector<std::filesystem::path> preset_dirs();
/// A preset name ("perm") or a path to a .toml file.
std::filesystem::path find_config(const std::string& preset_or_path);
/// Reads a TOML file into JSON (errors name the file, line and column).
nlohmann::json load_toml(const std::filesystem::path& path);
/// Validates and resolves; throws eqaug::Error naming `source` and the field.
ExperimentConfig resolve(const nlohmann::json& json, const std::string& source);

/// The group, model and data a configuration describes.
GroupPtr build_group(const ExperimentConfig& cfg);
std::unique_ptr<ModelSpec> build_model(const ExperimentConfig& cfg, const GroupPtr& group);
Dataset build_data(const ExperimentConfig& cfg, const FiniteGroup& group);

}  // namespace eqaug::io
