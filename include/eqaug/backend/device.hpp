#pragma once
// Where the engine computes: the CPU (OpenBLAS, the default) or one CUDA GPU. Chosen once,
// when a GradientEngine is made (one path through the code, the backend chosen
// at one place).
#include <string>

#include <nlohmann/json.hpp>

namespace eqaug {

struct Device {
  enum class Kind { Cpu, Cuda };
  Kind kind = Kind::Cpu;
  int index = 0;      // cuda:N
  bool tf32 = false;  // let cuBLAS round float32 products to TF32 on tensor cores (--tf32)
  bool cuda() const { return kind == Kind::Cuda; }
  std::string name() const { return cuda() ? "cuda:" + std::to_string(index) : "cpu"; }
};

/// "cpu", "cuda" (GPU 0) or "cuda:N"; anything else is an Error naming the option.
Device parse_device(const std::string& text);

/// Whether this build has the CUDA backend.
bool cuda_built();

/// What a manifest records of the device: for a GPU its name, compute capability, memory,
/// driver, CUDA runtime and cuBLAS versions, and whether TF32 was allowed.
nlohmann::json describe(const Device& d);

}  // namespace eqaug
