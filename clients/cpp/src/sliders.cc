#include "avatarforge/sliders.h"

#include <cmath>

namespace avatarforge {

bool Sliders::Set(const std::string& direction, float strength) {
  if (direction.empty() || !std::isfinite(strength)) return false;
  if (strength == 0.0f)
    strengths_.erase(direction);
  else
    strengths_[direction] = strength;
  return true;
}

float Sliders::Get(const std::string& direction) const {
  auto it = strengths_.find(direction);
  return it == strengths_.end() ? 0.0f : it->second;
}

void Sliders::Reset() {
  strengths_.clear();
  truncation_psi_.reset();
}

EditState Sliders::State() const {
  EditState state;
  state.edits.reserve(strengths_.size());
  for (const auto& [direction, strength] : strengths_) state.edits.push_back({direction, strength});
  state.truncation_psi = truncation_psi_;
  return state;
}

}  // namespace avatarforge
