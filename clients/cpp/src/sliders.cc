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

bool Sliders::SetPart(const std::string& part, const std::string& value) {
  if (part.empty()) return false;
  if (value.empty())
    parts_.erase(part);
  else
    parts_[part] = value;
  return true;
}

std::string Sliders::GetPart(const std::string& part) const {
  auto it = parts_.find(part);
  return it == parts_.end() ? std::string() : it->second;
}

void Sliders::Reset() {
  strengths_.clear();
  parts_.clear();
  truncation_psi_.reset();
}

EditState Sliders::State() const {
  EditState state;
  state.edits.reserve(strengths_.size());
  for (const auto& [direction, strength] : strengths_) state.edits.push_back({direction, strength});
  state.set_parts.reserve(parts_.size());
  for (const auto& [part, value] : parts_) state.set_parts.push_back({part, value});
  state.truncation_psi = truncation_psi_;
  return state;
}

}  // namespace avatarforge
