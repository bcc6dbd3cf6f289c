// Between the public plain types (types.h, client.h) and the generated protobuf messages.
// Kept in one place so a contract change touches one file.
#pragma once

#include "avatarforge/client.h"
#include "avatarforge/v1/avatarforge.grpc.pb.h"

namespace avatarforge {
namespace pb = ::avatarforge::v1;

Status FromGrpc(const grpc::Status& s);

// DNA travels as opaque bytes in the API; these parse or write the CharacterDna message.
bool ParseDna(const Dna& bytes, pb::CharacterDna* out);
Dna SerializeDna(const pb::CharacterDna& dna);

void ToProto(const Output& in, pb::OutputSpec* out);
void ToProto(const DirectionEdit& in, pb::DirectionEdit* out);
void ToProto(const PartValue& in, pb::PartValue* out);
void ToProto(const Image& in, pb::FaceImage* out);
// False when `in.other` is not a DNA message.
bool ToProto(const MixSpec& in, pb::MixSpec* out);

Image FromProto(const pb::FaceImage& in);
Timing FromProto(const pb::RenderTiming& in);
Face FromProto(const pb::FaceResult& in);
ModelInfo FromProto(const pb::ModelInfo& in);
BatchProgress FromProto(const pb::BatchProgress& in);
BatchSummary FromProto(const pb::BatchSummary& in);
ItemError FromProto(const pb::ItemError& in);
FaceParts FromProto(const pb::FaceParts& in);

}  // namespace avatarforge
