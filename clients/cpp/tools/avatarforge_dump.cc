// Faces' pixels and DNA to files, the C++ side of the cross-client check (Python, C++ and C#
// must write identical bytes for the same seeds). Files are named as `avatarforge generate
// --format raw` names them, so `diff -r` compares the folders:
//   avatarforge_dump [--seeds 0-7,42] [--size N] [--format raw|raw_bgra|png] [--model M]
//                    [--set PART=VALUE,...] --out DIR HOST:PORT
//   -> DIR/seed000042.rgba (.bgra, .png) and DIR/seed000042.dna (a serialized CharacterDna)
// --set writes each seed's face with those parts set (RenderPreview's set_parts) instead: what
// `avatarforge edit --seed 42 --set PART=VALUE` commits.
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "avatarforge/client.h"

using namespace avatarforge;

namespace {

// "0-9,20" -> 0..9, 20 (order kept, duplicates dropped), as the Python CLI reads it.
std::vector<int64_t> ParseSeeds(const std::string& text) {
  std::vector<int64_t> seeds;
  std::set<int64_t> seen;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) {
      size_t dash = part.find('-');
      int64_t lo = std::stoll(part.substr(0, dash));
      int64_t hi = dash == std::string::npos ? lo : std::stoll(part.substr(dash + 1));
      for (int64_t s = lo; s <= hi; ++s)
        if (seen.insert(s).second) seeds.push_back(s);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return seeds;
}

// "hair_color=RED,top=BOB" -> {hair_color, RED}, {top, BOB}, in order; empty on a malformed entry.
std::vector<PartValue> ParseParts(const std::string& text) {
  std::vector<PartValue> parts;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    std::string entry = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t eq = entry.find('=');
    if (eq == 0 || eq == std::string::npos || eq + 1 == entry.size()) return {};
    parts.push_back({entry.substr(0, eq), entry.substr(eq + 1)});
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

bool WriteFile(const std::string& path, const Bytes& data) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  const std::map<std::string, std::pair<ImageFormat, std::string>> formats{
      {"raw", {ImageFormat::RawRgba8, ".rgba"}}, {"raw_bgra", {ImageFormat::RawBgra8, ".bgra"}}, {"png", {ImageFormat::Png, ".png"}}};
  std::map<std::string, std::string> opt{{"--seeds", "0-7"}, {"--size", "0"}, {"--format", "raw"}, {"--model", ""}};
  for (int i = 1; i + 1 < argc; i += 2) opt[argv[i]] = argv[i + 1];
  const std::vector<PartValue> set_parts = ParseParts(opt.count("--set") ? opt["--set"] : "");
  if (argc % 2 != 0 || !opt.count("--out") || !formats.count(opt["--format"]) ||
      (opt.count("--set") && set_parts.empty())) {
    std::fprintf(stderr, "usage: avatarforge_dump [--seeds 0-7,42] [--size N] [--format raw|raw_bgra|png] [--model M] "
                         "[--set PART=VALUE,...] --out DIR HOST:PORT\n");
    return 2;
  }
  const auto& [format, extension] = formats.at(opt["--format"]);
  BatchRequest request;
  request.seeds = ParseSeeds(opt["--seeds"]);
  request.output.format = format;
  request.output.size = std::stoi(opt["--size"]);

  ClientOptions options;
  options.address = argv[argc - 1];
  options.model = opt["--model"];
  Client af(options);
  const std::string dir = opt["--out"];
  // DIR/seed000042<extension> and DIR/seed000042.dna
  auto Write = [&dir, &extension = extension](const Face& face) {
    char stem[64];
    std::snprintf(stem, sizeof stem, "/seed%06lld", static_cast<long long>(face.seed.value_or(-1)));
    return WriteFile(dir + stem + extension, face.image.data) && WriteFile(dir + stem + ".dna", face.dna);
  };
  int written = 0, failed = 0;
  std::vector<Face> faces;  // with --set: the seeds' faces, to edit once the stream has ended
  auto summary = af.GenerateBatch(request, [&](const BatchEvent& e) {
    if (e.kind != BatchEvent::Kind::Item) return true;
    const Face& face = e.item;
    if (!face.error.ok()) {
      std::fprintf(stderr, "seed %lld: %s\n", static_cast<long long>(face.seed.value_or(-1)), face.error.message.c_str());
      ++failed;
      return true;
    }
    if (!set_parts.empty()) {  // edited once the stream has ended: a handler makes no blocking call
      faces.push_back(face);
      return true;
    }
    bool ok = Write(face);
    ok ? ++written : ++failed;
    return ok;  // a full disk stops the stream: nothing is half-reported as written
  });
  if (!summary.ok()) {
    std::fprintf(stderr, "avatarforge_dump: [%d] %s\n", summary.status.code, summary.status.message.c_str());
    return 1;
  }
  for (Face& face : faces) {
    RenderPreviewRequest edit;
    edit.dna = face.dna;
    edit.set_parts = set_parts;
    edit.output = request.output;
    auto edited = af.RenderPreview(edit);
    if (!edited.ok()) {
      std::fprintf(stderr, "seed %lld: [%d] %s\n", static_cast<long long>(face.seed.value_or(-1)), edited.status.code,
                   edited.status.message.c_str());
      ++failed;
      continue;
    }
    face.image = std::move(edited.value.image);
    face.dna = std::move(edited.value.dna);
    Write(face) ? ++written : ++failed;
  }
  std::printf("wrote %d faces to %s%s\n", written, dir.c_str(), failed ? " (some failed)" : "");
  return failed == 0 ? 0 : 1;
}
