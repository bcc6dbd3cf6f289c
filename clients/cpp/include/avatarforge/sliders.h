// A character creator's slider positions, kept as the absolute EditState an EditSession wants.
//
//   avatarforge::Sliders sliders;
//   sliders.Set("smile", 1.5f);          // the player drags the "smile" slider
//   session->Update(sliders.State());    // every slider's value, never a delta
//
// Engine adapters (the Unreal plugin's SetSlider) hold one of these per session, so the mapping
// from named sliders to DirectionEdits lives here, where CI tests it, and not in engine code.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "avatarforge/client.h"

namespace avatarforge {

class Sliders {
 public:
  // One direction's strength (a DirectionInfo::name). 0 removes it: that axis is left unchanged.
  // Returns false, changing nothing, for an empty name or a value that is not finite.
  bool Set(const std::string& direction, float strength);
  float Get(const std::string& direction) const;  // 0 when not set
  // Pulls the face toward the model's average; unset = the session's own.
  void SetTruncation(std::optional<float> psi) { truncation_psi_ = psi; }
  void Reset();  // every slider back to 0, truncation unset

  // The non-zero sliders ordered by name, so equal positions always give equal states.
  EditState State() const;

 private:
  std::map<std::string, float> strengths_;
  std::optional<float> truncation_psi_;
};

}  // namespace avatarforge
