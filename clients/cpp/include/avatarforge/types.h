// Plain value types of the AvatarForge C++ client: no gRPC or protobuf types, so a game (or the
// Unreal plugin) includes these without pulling either into its build.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace avatarforge {

using Bytes = std::vector<uint8_t>;

// The outcome of a call. `code` is a gRPC status code (0 OK, 1 CANCELLED, 3 INVALID_ARGUMENT,
// 4 DEADLINE_EXCEEDED, 5 NOT_FOUND, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE, ...); `message` is the
// server's text, written to be shown to a developer.
struct Status {
  int code = 0;
  std::string message;
  // INVALID_ARGUMENT: the request field at fault (e.g. "output.size", "edits[1].strength"), so a
  // creator UI can mark it; empty when the server named none.
  std::string field;
  bool ok() const { return code == 0; }
};

// A value or the reason there is none. Nothing in this API throws.
template <class T>
struct Result {
  Status status;
  T value{};
  bool ok() const { return status.ok(); }
};

// A failure of one item inside a call that went on (a stream item, an edit state).
struct ItemError : Status {
  int64_t seq = 0;  // EditSession: the state it rejects; 0 when not about a state
};

enum class ImageFormat {
  Png = 1,
  Jpeg = 2,
  Webp = 3,
  RawRgba8 = 4,  // R G B A per pixel
  RawBgra8 = 5,  // B G R A per pixel: Unreal's PF_B8G8R8A8
};

// How images come back. The default is raw 8-bit pixels at the model's native size: the server
// lays them out as the texture wants them, so they copy into it without a decoder or a swizzle.
struct Output {
  ImageFormat format = ImageFormat::RawRgba8;
  int size = 0;            // square edge in pixels; 0 = native. ModelInfo::supported_sizes lists the rest.
  int quality = 0;         // JPEG/WebP 1..100; 0 = server default
  bool bottom_up = false;  // raw rows bottom first (Unity's LoadRawTextureData)
};

// One image. Raw: `data` is height rows of row_stride bytes (width*4, no padding), 4 bytes a pixel
// in the format's order, alpha 255. Otherwise `data` is the encoded file (PNG/JPEG/WebP bytes),
// to be decoded by the engine.
struct Image {
  ImageFormat format = ImageFormat::RawRgba8;
  int width = 0;
  int height = 0;
  int row_stride = 0;      // raw only
  bool bottom_up = false;  // raw only: the first row in `data` is the bottom one
  Bytes data;
  bool empty() const { return data.empty(); }
  bool raw() const { return format == ImageFormat::RawRgba8 || format == ImageFormat::RawBgra8; }
};

// Where the time of a request went, in microseconds.
struct Timing {
  int64_t queue_us = 0;
  int64_t compute_us = 0;
  int64_t encode_us = 0;
  int batch_size = 0;
};

// DNA is the serialized avatarforge.v1.CharacterDna: store it (e.g. as seed000042.dna), send it
// back to re-render or edit the face. The client never needs to look inside.
using Dna = Bytes;

// One produced face, or the reason this one item failed (the call itself went on).
struct Face {
  int64_t index = 0;             // position in the request
  std::optional<int64_t> seed;   // when it came from a seed
  Dna dna;
  Image image;
  ItemError error;               // !error.ok(): dna and image are empty
  Timing timing;
};

// A named direction of the model at a strength (signed, in W units; 0 = no change).
struct DirectionEdit {
  std::string direction;
  float strength = 0;
};

struct DirectionInfo {
  std::string name;         // "smile", or "sefa/0" for an unsupervised component
  std::string description;
  std::string kind;         // "supervised" | "sefa"
  int layer_start = 0, layer_end = 0;
  float strength_min = 0, strength_max = 0, default_strength = 0;
};

// One part of the faces a model draws (hair colour, top, accessory ...) and the values it takes.
struct PartInfo {
  std::string name;                 // e.g. "hair_color"
  std::vector<std::string> values;  // e.g. "AUBURN", "BLACK", ...: what set_parts accepts for it
  // Held-out accuracy of the classifier head that reads this part off a render: how far a
  // PartsSource::Classifier reading of it can be trusted (low for eyes, mouth, eyebrows).
  std::optional<float> classifier_accuracy;
};

// One part set to one value by name, e.g. {"hair_color", "RED"}: an entry of set_parts.
struct PartValue {
  std::string part;   // a PartInfo::name
  std::string value;  // one of that part's PartInfo::values
};

struct ModelInfo {
  std::string name, version, description, generator_sha256, data_licence;
  int resolution = 0, z_dim = 0, w_dim = 0, num_ws = 0;
  std::vector<int> supported_sizes;
  std::string backend, device, precision;
  std::vector<DirectionInfo> directions;
  std::vector<PartInfo> parts;     // the parts vocabulary; empty when the model draws no parts
  float default_truncation_psi = 1;
  int max_unary_items = 0;         // characters per Generate call
  int64_t max_stream_items = 0;    // items per GenerateBatch call
  int64_t max_message_bytes = 0;   // the server's message size limit
};

// How a face's parts were found.
enum class PartsSource {
  Unspecified = 0,
  Seed = 1,        // what the mapping drew from the seed, with the parts set since: exact
  Classifier = 2,  // the attribute classifier's reading of the render (encoded, mixed, edited faces)
};

struct ReadPart {
  std::string part, value;
  float confidence = 0;  // 1 for PartsSource::Seed; the classifier's probability of `value` otherwise
};

// One face's parts, every part of ModelInfo::parts in that order.
struct FaceParts {
  int64_t index = 0;  // position in the request (seeds first, then DNAs)
  PartsSource source = PartsSource::Unspecified;
  std::vector<ReadPart> parts;
  // The value read for `part`; empty when the reply has no such part.
  std::string Value(const std::string& part) const {
    for (const ReadPart& p : parts)
      if (p.part == part) return p.value;
    return {};
  }
};

// Per-call settings; the defaults come from ClientOptions.
struct CallOptions {
  // Time the call may take; negative = the client's default for this kind of call, 0 = no limit.
  std::chrono::milliseconds deadline{-1};
  std::string request_id;  // echoed by the server; shows up in its logs
};

}  // namespace avatarforge
