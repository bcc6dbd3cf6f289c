#include "convert.h"

#include <google/protobuf/unknown_field_set.h>

namespace avatarforge {

namespace {

// The field named by a google.rpc.BadRequest in a status's details (grpc-status-details-bin), read
// with protobuf's generic wire parser so the client needs no googleapis code:
//   google.rpc.Status {3: repeated Any details}  Any {1: type_url, 2: value}
//   BadRequest {1: repeated FieldViolation}  FieldViolation {1: field, 2: description}
std::string BadRequestField(const std::string& details) {
  using google::protobuf::UnknownField;
  using google::protobuf::UnknownFieldSet;
  auto bytes_field = [](const UnknownFieldSet& set, int number) -> const std::string* {
    for (int i = 0; i < set.field_count(); ++i)
      if (set.field(i).number() == number && set.field(i).type() == UnknownField::TYPE_LENGTH_DELIMITED)
        return &set.field(i).length_delimited();
    return nullptr;
  };
  UnknownFieldSet status;
  if (details.empty() || !status.ParseFromString(details)) return {};
  for (int i = 0; i < status.field_count(); ++i) {
    const UnknownField& f = status.field(i);
    if (f.number() != 3 || f.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    UnknownFieldSet any, bad_request, violation;
    if (!any.ParseFromString(f.length_delimited())) continue;
    const std::string* type_url = bytes_field(any, 1);
    const std::string* value = bytes_field(any, 2);
    const std::string suffix = "/google.rpc.BadRequest";
    if (!type_url || !value || type_url->size() < suffix.size() ||
        type_url->compare(type_url->size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    if (!bad_request.ParseFromString(*value)) continue;
    const std::string* first = bytes_field(bad_request, 1);
    if (first && violation.ParseFromString(*first))
      if (const std::string* field = bytes_field(violation, 1)) return *field;
  }
  return {};
}

}  // namespace

Status FromGrpc(const grpc::Status& s) {
  return {static_cast<int>(s.error_code()), s.error_message(), BadRequestField(s.error_details())};
}

bool ParseDna(const Dna& bytes, pb::CharacterDna* out) {
  return out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

Dna SerializeDna(const pb::CharacterDna& dna) {
  Dna out(dna.ByteSizeLong());
  dna.SerializeWithCachedSizesToArray(out.data());
  return out;
}

void ToProto(const Output& in, pb::OutputSpec* out) {
  out->set_format(static_cast<pb::ImageFormat>(in.format));  // same numbers as the proto enum
  out->set_size(in.size);
  out->set_quality(in.quality);
  out->set_bottom_up(in.bottom_up);
}

void ToProto(const DirectionEdit& in, pb::DirectionEdit* out) {
  out->set_direction(in.direction);
  out->set_strength(in.strength);
}

void ToProto(const PartValue& in, pb::PartValue* out) {
  out->set_part(in.part);
  out->set_value(in.value);
}

void ToProto(const Image& in, pb::FaceImage* out) {
  out->set_data(in.data.data(), in.data.size());
  out->set_format(static_cast<pb::ImageFormat>(in.format));
  out->set_width(in.width);
  out->set_height(in.height);
  out->set_row_stride(in.row_stride);
  out->set_bottom_up(in.bottom_up);
}

bool ToProto(const MixSpec& in, pb::MixSpec* out) {
  if (in.weight) out->set_weight(*in.weight);
  out->set_layer_start(in.layer_start);
  out->set_layer_end(in.layer_end);
  return ParseDna(in.other, out->mutable_other());
}

Image FromProto(const pb::FaceImage& in) {
  Image out;
  out.format = static_cast<ImageFormat>(in.format());
  out.width = in.width();
  out.height = in.height();
  out.row_stride = in.row_stride();
  out.bottom_up = in.bottom_up();
  out.data.assign(in.data().begin(), in.data().end());
  return out;
}

Timing FromProto(const pb::RenderTiming& in) {
  return {in.queue_us(), in.compute_us(), in.encode_us(), in.batch_size()};
}

ItemError FromProto(const pb::ItemError& in) {
  ItemError out;
  out.code = in.code();
  out.message = in.message();
  out.field = in.field();
  out.seq = in.seq();
  return out;
}

Face FromProto(const pb::FaceResult& in) {
  Face out;
  out.index = in.index();
  if (in.has_seed()) out.seed = in.seed();
  if (in.has_error() && in.error().code() != 0) out.error = FromProto(in.error());
  if (in.has_dna()) out.dna = SerializeDna(in.dna());
  if (in.has_image()) out.image = FromProto(in.image());
  out.timing = FromProto(in.timing());
  return out;
}

ModelInfo FromProto(const pb::ModelInfo& in) {
  ModelInfo out;
  out.name = in.name();
  out.version = in.version();
  out.description = in.description();
  out.generator_sha256 = in.generator_sha256();
  out.data_licence = in.data_licence();
  out.resolution = in.resolution();
  out.z_dim = in.z_dim();
  out.w_dim = in.w_dim();
  out.num_ws = in.num_ws();
  out.supported_sizes.assign(in.supported_sizes().begin(), in.supported_sizes().end());
  out.backend = in.backend().backend();
  out.device = in.backend().device();
  out.precision = in.backend().precision();
  for (const auto& d : in.directions()) {
    out.directions.push_back({d.name(), d.description(), d.kind(), d.layer_start(),
                              d.layer_end(), d.strength_min(), d.strength_max(),
                              d.default_strength()});
  }
  for (const auto& p : in.parts()) {
    PartInfo& part = out.parts.emplace_back();
    part.name = p.name();
    part.values.assign(p.values().begin(), p.values().end());
    if (p.has_classifier_accuracy()) part.classifier_accuracy = p.classifier_accuracy();
  }
  out.default_truncation_psi = in.default_truncation_psi();
  out.max_unary_items = in.limits().max_unary_items();
  out.max_stream_items = in.limits().max_stream_items();
  out.max_message_bytes = in.limits().max_message_bytes();
  return out;
}

FaceParts FromProto(const pb::FaceParts& in) {
  FaceParts out;
  out.index = in.index();
  out.source = static_cast<PartsSource>(in.source());  // same numbers as the proto enum
  for (const auto& p : in.parts()) out.parts.push_back({p.part(), p.value(), p.confidence()});
  return out;
}

BatchProgress FromProto(const pb::BatchProgress& in) { return {in.completed(), in.failed(), in.total()}; }

BatchSummary FromProto(const pb::BatchSummary& in) {
  return {in.total(), in.skipped(), in.produced(), in.failed(), in.wall_us(),
          FromProto(in.timing())};
}

}  // namespace avatarforge
