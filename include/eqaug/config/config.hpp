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

#include "eqaug/core/fields.hpp"
#include "eqaug/group/registry.hpp"

#include "eqaug/data/dataset.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/train/trainer.hpp"

namespace eqaug::io {

enum class Precision { F32, F64 };

/// The reference's choices that eqaug does not make by default, each off unless asked for
/// ([reference]; docs/reference.md lists the defects with their evidence).
struct ReferenceSwitches {
  bool sampler = false;              // the authors' draws: randint(0, n) per cyclic factor
  bool rot_aug = false;              // Rot: the reversal of the flattened image (identity 2/5, 180° 3/5)
  bool nom_distance_on_aug = false;  // Nom's distance travelled measured on the Aug model
  bool double_softmax = false;       // a softmax layer before the cross-entropy (softmax twice)
  bool equi_last_layer = false;      // Equi projects the last group layer's weights, not its gradient
  bool nom_aug_norm = false;         // Nom and Aug: an affine batch norm wherever the model has layer norm
  /// The names of the switches that are on, in this order.
  std::vector<std::string> on() const;
};

struct ExperimentConfig {
  std::string source;   // where it came from (file path), for messages
  nlohmann::json json;  // the resolved configuration
  std::string name;
  std::size_t runs = 30;
  std::size_t chunk = 500;
  Precision precision = Precision::F32;
  TrainOptions train;
  std::string init_weights;  // directory of <layer>.npy (A<j>, affine<j>), or empty
  ReferenceSwitches reference;
  /// Settings accepted but not used as written (train.penalty without augpen, ...): said on
  /// the console and recorded in the manifest by the commands that run the configuration.
  std::vector<std::string> warnings;
};

/// Directories searched for presets: $EQAUG_CONFIG_DIR, ./configs, the build's source tree.
std::vector<std::filesystem::path> preset_dirs();
/// A preset name ("perm") or a path to a .toml file.
std::filesystem::path find_config(const std::string& preset_or_path);
/// Reads a TOML file into JSON (errors name the file, line and column).
nlohmann::json load_toml(const std::filesystem::path& path);
/// One TOML value written as text ("2e-5", "true", "\"a\"", "[1, 2]", "{ a = 1 }") as JSON;
/// throws eqaug::Error when it is not one.
nlohmann::json toml_value(const std::string& text);
/// A key the parser read (core/fields.hpp), logged by resolve() so that tests can hold
/// the reference to the parser.
using KeyUse = eqaug::KeyUse;

/// Validates and resolves; throws eqaug::Error naming `source` and the field.
ExperimentConfig resolve(const nlohmann::json& json, const std::string& source, std::vector<KeyUse>* log = nullptr);

/// One documented key of the configuration reference (docs/config.md).
struct KeyDoc {
  std::string path;           // dotted, list items as []
  std::string type;           // string, integer, number, boolean, list, table
  std::string default_value;  // `value` (several `a` (when ...) where it depends), or "required"
  std::string allowed;
  std::string meaning;
};
const std::vector<KeyDoc>& config_reference();
/// docs/config.md: the reference as Markdown.
std::string config_reference_markdown();

/// `over` merged into `base`: tables merge key by key (recursively), anything else
/// (numbers, strings, lists such as model.layers) is replaced.
nlohmann::json merge_tables(nlohmann::json base, const nlohmann::json& over);

/// Picks a scale of a preset: "full" (the paper's settings, the file as written) or a
/// table [scales.<name>] merged over it (e.g. "small"). Removes [scales] and records the
/// choice as the top-level `scale`.
nlohmann::json apply_scale(nlohmann::json j, const std::string& scale, const std::string& source);

/// A study runs one configuration per member: the file minus [study], with the member's
/// own tables merged over it and the name "<name>-<member>". A member with `preset = "rot"`
/// starts from that preset at the study's scale (its [study] table dropped), with the file's
/// tables over it. Empty for a plain config.
struct StudyMember {
  std::string name;
  nlohmann::json json;
};
std::vector<StudyMember> study_members(const nlohmann::json& j, const std::string& source);

/// A [group] table read through `g` (its kind, then the kind's own fields; errors name
/// them), resolved into `out` ({kind, ...}, what build_group reads); returns the kind.
const GroupKind& resolve_group_table(Fields& g, nlohmann::json& out);

/// What the accuracy column means for a model and data set (recorded in the manifest).
std::string accuracy_kind(const ModelSpec& spec);

/// The group, model and data a configuration describes.
GroupPtr build_group(const ExperimentConfig& cfg);
std::unique_ptr<ModelSpec> build_model(const ExperimentConfig& cfg, const GroupPtr& group);
/// [reference] nom_aug_norm: the model Nom and Aug train, every `layernorm` an affine
/// `batchnorm` (docs/reference.md, defect 7); null where the switch is off.
std::unique_ptr<ModelSpec> build_nom_aug_model(const ExperimentConfig& cfg, const GroupPtr& group);
/// Refuses nom_aug_norm for a command that studies one model (hessian, minimum).
void require_one_model(const ExperimentConfig& cfg, const std::string& command);
Dataset build_data(const ExperimentConfig& cfg, const FiniteGroup& group);

}  // namespace eqaug::io
