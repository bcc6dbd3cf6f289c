// A character creator's slider positions and part picks, kept as the absolute EditState an
// EditSession wants.
//
//   avatarforge::Sliders sliders;
//   sliders.Set("smile", 1.5f);            // the player drags the "smile" slider
//   sliders.SetPart("hair_color", "RED");  // and picks from a parts dropdown (ModelInfo::parts)
//   session->Update(sliders.State());      // every slider's value and pick, never a delta
//
// Engine adapters (the Unreal plugin's SetSlider, SetPart) hold one of these per session, so the
// mapping from named sliders and picks to an EditState lives here, where CI tests it, and not in
// engine code.
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
  // One part set to a value (a PartInfo::name and one of its values; the server checks them and
  // names the field when one is wrong). An empty value removes it: the face keeps its own.
  // Returns false, changing nothing, for an empty part name.
  bool SetPart(const std::string& part, const std::string& value);
  std::string GetPart(const std::string& part) const;  // empty when not set
  // Pulls the face toward the model's average; unset = the session's own.
  void SetTruncation(std::optional<float> psi) { truncation_psi_ = psi; }
  void Reset();  // every slider back to 0, every part unset, truncation unset

  // The non-zero sliders and the set parts, each ordered by name, so equal positions always give
  // equal states.
  EditState State() const;

 private:
  std::map<std::string, float> strengths_;
  std::map<std::string, std::string> parts_;
  std::optional<float> truncation_psi_;
};

}  // namespace avatarforge
