// A face's parts through the C++ client, as a character creator's dropdowns use them, against a
// real server with the tiny default model (no parts) and avatars64 (parts): the vocabulary from
// GetModel, GetParts (equal to the Python client's reading), set_parts in RenderPreview and in an
// EditSession driven by Sliders, and the errors. Linked into engine_support_test, whose server
// already serves both models: a server start is most of a suite's time.
#include "parts_checks.h"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "avatarforge/client.h"
#include "check.h"
#include "avatarforge/sliders.h"

using namespace avatarforge;
using namespace std::chrono_literals;

namespace {

using avatarforge_test::Check;
using avatarforge_test::Describe;
using avatarforge_test::failed;
using avatarforge_test::passed;


constexpr int CANCELLED = 1, INVALID_ARGUMENT = 3, DEADLINE_EXCEEDED = 4;
constexpr int64_t SEED = 42;

// "part=value;..." in reply order: the form both clients' readings are compared in.
std::string Joined(const FaceParts& face) {
  std::string out;
  for (const ReadPart& p : face.parts) out += (out.empty() ? "" : ";") + p.part + "=" + p.value;
  return out;
}

// The Python client's reading of one seed's parts from the same server, in the same form.
std::string PythonReading(const std::string& python, const std::string& address, int64_t seed) {
  const std::string cmd = "'" + python + "' -c '"
      "import sys\n"
      "from avatarforge.client import AvatarForgeClient, parts_dict\n"
      "with AvatarForgeClient(sys.argv[1]) as af:\n"
      "    face = af.get_parts(seeds=[int(sys.argv[2])], model=\"avatars64\").faces[0]\n"
      "    print(\";\".join(f\"{k}={v}\" for k, v in parts_dict(face).items()))\n"
      "' " + address + " " + std::to_string(seed);
  std::string out;
  if (FILE* pipe = popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf;
    while (fgets(buf.data(), buf.size(), pipe)) out += buf.data();
    pclose(pipe);
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// True when the serialized DNA records `text` (an edit's direction is stored as plain bytes).
bool Records(const Dna& dna, const std::string& text) {
  return std::search(dna.begin(), dna.end(), text.begin(), text.end()) != dna.end();
}

const PartInfo* FindPart(const ModelInfo& model, const std::string& name) {
  for (const PartInfo& p : model.parts)
    if (p.name == name) return &p;
  return nullptr;
}

// A value of `part` other than `current`: what a player picks from the dropdown.
std::string OtherValue(const PartInfo& part, const std::string& current) {
  for (const std::string& v : part.values)
    if (v != current) return v;
  return {};
}

// The tiny model's mapping draws no parts: no vocabulary, and reading or setting parts is refused.
void TestModelWithoutParts(Client& tiny) {
  auto model = tiny.GetModel();
  Check(model.ok() && model.value.name == "tiny" && model.value.parts.empty(),
        "GetModel(tiny): no parts vocabulary: " + Describe(model.status));
  auto read = tiny.GetParts({{1}, {}});
  Check(read.status.code == INVALID_ARGUMENT && read.status.field == "model" &&
            read.status.message.find("parts") != std::string::npos,
        "GetParts on a model without parts: INVALID_ARGUMENT, field model: " + Describe(read.status));
  auto face = tiny.Generate([] { GenerateRequest r; r.seeds = {1}; return r; }());
  if (!face.ok() || face.value.empty()) return Check(false, "Generate tiny seed 1: " + Describe(face.status));
  RenderPreviewRequest req;
  req.dna = face.value[0].dna;
  req.set_parts = {{"hair_color", "RED"}};
  auto set = tiny.RenderPreview(req);
  Check(set.status.code == INVALID_ARGUMENT && set.status.field == "set_parts",
        "set_parts on a model without parts: INVALID_ARGUMENT, field set_parts: " + Describe(set.status));
}

void TestVocabularyAndReading(Client& af, const ModelInfo& model, const Dna& dna, const std::string& python,
                              const std::string& address) {
  const PartInfo* hair = FindPart(model, "hair_color");
  Check(model.parts.size() >= 10 && hair && std::count(hair->values.begin(), hair->values.end(), "RED") == 1 &&
            std::all_of(model.parts.begin(), model.parts.end(),
                        [](const PartInfo& p) { return p.values.size() >= 2 && p.classifier_accuracy > 0.f; }),
        "GetModel(avatars64): parts with values (hair_color has RED) and classifier accuracies");

  GetPartsRequest req;
  req.seeds = {SEED};
  req.dnas = {dna};
  auto read = af.GetParts(req);
  if (!read.ok() || read.value.size() != 2) return Check(false, "GetParts seed + its DNA: " + Describe(read.status));
  const FaceParts &by_seed = read.value[0], &by_dna = read.value[1];
  bool in_vocabulary = by_seed.parts.size() == model.parts.size();
  for (size_t i = 0; in_vocabulary && i < by_seed.parts.size(); ++i) {
    const PartInfo& p = model.parts[i];
    in_vocabulary = by_seed.parts[i].part == p.name && by_seed.parts[i].confidence == 1.f &&
                    std::count(p.values.begin(), p.values.end(), by_seed.parts[i].value) == 1;
  }
  Check(in_vocabulary && by_seed.index == 0 && by_seed.source == PartsSource::Seed,
        "GetParts(seed): every part in GetModel's order, a value of its vocabulary, exact (source Seed, confidence 1)");
  Check(by_dna.index == 1 && by_dna.source == PartsSource::Seed && Joined(by_dna) == Joined(by_seed),
        "GetParts(the seed's DNA): the same exact parts");
  const std::string py = PythonReading(python, address, SEED);
  Check(!py.empty() && py == Joined(by_seed), "GetParts(seed " + std::to_string(SEED) +
                                                  ") == the Python client's reading: C++ " + Joined(by_seed) + " / Python " + py);

  std::promise<Result<std::vector<FaceParts>>> got;
  auto call = af.GetPartsAsync({{SEED}, {}}, [&](const Result<std::vector<FaceParts>>& r) { got.set_value(r); });
  auto seen = got.get_future().get();
  auto future = call.result.get();
  Check(seen.ok() && future.ok() && future.value.size() == 1 && Joined(future.value[0]) == Joined(by_seed),
        "GetPartsAsync: callback and future both see the seed's parts: " + Describe(future.status));

  auto bad = af.GetParts({{}, {Bytes{0xff, 0xff, 0xff}}});
  Check(bad.status.code == INVALID_ARGUMENT, "GetParts of garbage DNA: INVALID_ARGUMENT before sending: " +
                                                 Describe(bad.status));
}

// A dropdown pick on a seed face: the preview's DNA records it and reads back exactly.
Dna TestRenderPreviewSetsPart(Client& af, const ModelInfo& model, const Dna& dna, std::string* value) {
  const PartInfo* hair = FindPart(model, "hair_color");
  auto before = af.GetParts({{SEED}, {}});
  if (!hair || !before.ok() || before.value.empty()) {
    Check(false, "RenderPreview set_parts: needs hair_color and the seed's parts: " + Describe(before.status));
    return {};
  }
  *value = OtherValue(*hair, before.value[0].Value("hair_color"));
  RenderPreviewRequest req;
  req.dna = dna;
  req.set_parts = {{"hair_color", *value}};
  auto preview = af.RenderPreview(req);
  Check(preview.ok() && Records(preview.value.dna, "part/hair_color/" + *value),
        "RenderPreview hair_color=" + *value + ": the DNA records part/hair_color/" + *value + ": " + Describe(preview.status));
  auto after = af.GetParts({{}, {preview.value.dna}});
  bool exact = after.ok() && after.value.size() == 1 && after.value[0].source == PartsSource::Seed &&
               after.value[0].Value("hair_color") == *value;
  for (size_t i = 0; exact && i < before.value[0].parts.size(); ++i)
    if (before.value[0].parts[i].part != "hair_color")
      exact = after.value[0].parts[i].value == before.value[0].parts[i].value;
  Check(exact, "GetParts(the preview's DNA): hair_color " + *value + ", the other parts the seed's, exact: " +
                   Describe(after.status));

  req.set_parts = {{"hair_colour", "RED"}};
  auto part = af.RenderPreview(req);
  Check(part.status.code == INVALID_ARGUMENT && part.status.field == "set_parts[0].part" &&
            part.status.message.find("hair_color") != std::string::npos,
        "unknown part: INVALID_ARGUMENT, field set_parts[0].part, listing the parts: " + Describe(part.status));
  req.set_parts = {{"hair_color", *value}, {"accessory", "PRESCRIPTION_02"}};
  auto val = af.RenderPreview(req);
  Check(val.status.code == INVALID_ARGUMENT && val.status.field == "set_parts[1].value" &&
            val.status.message.find("PRESCRIPTION_2") != std::string::npos,
        "unknown value: INVALID_ARGUMENT, field set_parts[1].value, listing the values: " + Describe(val.status));

  // A direction edit is read by the classifier (a render and a classifier pass): long enough to
  // cancel in flight.
  req.set_parts.clear();
  if (!model.directions.empty()) req.edits = {{model.directions[0].name, model.directions[0].default_strength}};
  auto edited = af.RenderPreview(req);
  if (!edited.ok() || req.edits.empty()) {
    Check(false, "RenderPreview with a direction: " + Describe(edited.status));
    return preview.value.dna;
  }
  auto call = af.GetPartsAsync({{}, {edited.value.dna}});
  call.Cancel();
  auto cancelled = call.result.get();
  Check(cancelled.status.code == CANCELLED, "GetPartsAsync cancelled in flight: CANCELLED: " + Describe(cancelled.status));
  // Eight classifier readings (eight renders) cannot finish in 1 ms; a seed's parts could.
  CallOptions quick;
  quick.deadline = 1ms;
  auto late = af.GetParts({{}, std::vector<Dna>(8, edited.value.dna)}, quick);
  Check(late.status.code == DEADLINE_EXCEEDED, "GetParts of 8 edited faces with a 1 ms deadline: DEADLINE_EXCEEDED: " +
                                                   Describe(late.status));
  return preview.value.dna;
}

// The same pick through an EditSession driven by Sliders: the preview equals RenderPreview's, the
// committed DNA records the part, and a wrong value is an error event naming the field.
void TestSessionSetsPart(Client& af, const Dna& dna, const Dna& preview_dna, const std::string& value) {
  std::mutex mu;
  std::condition_variable cv;
  int64_t last_seq = 0;
  Bytes last_image;
  Dna committed;
  ItemError error;
  auto session = af.StartEdit(dna, [&](const EditEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (e.kind == EditEvent::Kind::Preview) last_seq = e.seq, last_image = e.image.data;
    if (e.kind == EditEvent::Kind::Committed) committed = e.dna;
    if (e.kind == EditEvent::Kind::Error) error = e.error;
    cv.notify_all();
  });
  Sliders sliders;
  Check(sliders.SetPart("accessory", "MONOCLE") && !sliders.SetPart("", "RED"), "Sliders::SetPart: a part, not an empty name");
  int64_t bad_seq = session->Update(sliders.State());
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 30s, [&] { return !error.ok(); });
  }
  Check(error.code == INVALID_ARGUMENT && error.seq == bad_seq && error.field == "set_parts[0].value",
        "EditSession accessory=MONOCLE: an error event naming seq and set_parts[0].value: " + Describe(error));

  sliders.SetPart("accessory", "");
  sliders.SetPart("hair_color", value);
  EditState state = sliders.State();
  Check(state.set_parts.size() == 1 && sliders.GetPart("hair_color") == value && sliders.GetPart("accessory").empty(),
        "Sliders: an empty value unsets a part");
  int64_t seq = session->Update(state);
  session->Commit();
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 30s, [&] { return !committed.empty(); });
  }
  Status finished = session->Finish();
  RenderPreviewRequest same;
  same.dna = dna;
  same.set_parts = state.set_parts;
  auto preview = af.RenderPreview(same);
  std::lock_guard<std::mutex> lock(mu);
  Check(finished.ok() && last_seq == seq && preview.ok() && preview.value.image.data == last_image,
        "EditSession hair_color=" + value + ": the session goes on; its preview == RenderPreview's: " + Describe(finished));
  Check(committed == preview_dna && Records(committed, "part/hair_color/" + value),
        "EditSession commit: the same DNA as RenderPreview's, recording part/hair_color/" + value);
  auto read = af.GetParts({{}, {committed}});
  Check(read.ok() && read.value.size() == 1 && read.value[0].source == PartsSource::Seed &&
            read.value[0].Value("hair_color") == value,
        "GetParts(the committed DNA): hair_color " + value + ", exact: " + Describe(read.status));
}

}  // namespace

void RunPartsChecks(const std::string& address, const std::string& python) {
  ClientOptions opts;
  opts.address = address;
  opts.auth_token = "test-token";  // carried as on every call; the test server ignores it
  Client tiny(opts);
  TestModelWithoutParts(tiny);

  opts.model = "avatars64";
  Client af(opts);
  auto model = af.GetModel();
  auto face = af.Generate([] { GenerateRequest r; r.seeds = {SEED}; return r; }());
  if (!model.ok() || !face.ok() || face.value.empty()) {
    Check(false, "avatars64: GetModel and Generate: " + Describe(model.status) + Describe(face.status));
    return;
  }
  const Dna& dna = face.value[0].dna;
  TestVocabularyAndReading(af, model.value, dna, python, address);
  std::string value;
  Dna preview_dna = TestRenderPreviewSetsPart(af, model.value, dna, &value);
  if (!value.empty()) TestSessionSetsPart(af, dna, preview_dna, value);
}
