// What the engine adapters (clients/cpp is wrapped by the Unreal plugin) lean on, against a real
// server: named sliders as edit states, async GetModel, Encode, parts (parts_checks.cc), and
// Shutdown, which an engine calls when play stops so that no callback runs into freed objects.
// Run by with_server.sh with the address and the Python that runs the server; prints every
// failed check and a closing "N passed, N failed" line.
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "avatarforge/client.h"
#include "check.h"
#include "avatarforge/pixels.h"
#include "avatarforge/sliders.h"
#include "parts_checks.h"

using namespace avatarforge;
using namespace std::chrono_literals;

namespace {

using avatarforge_test::Check;
using avatarforge_test::Describe;
using avatarforge_test::failed;
using avatarforge_test::passed;


constexpr int CANCELLED = 1, INVALID_ARGUMENT = 3;

void TestSlidersAlone() {
  Sliders s;
  Check(s.State().edits.empty() && !s.State().truncation_psi, "Sliders: a new creator sends no edits");
  Check(s.Set("smile", 1.5f) && s.Set("age", -0.5f) && s.Set("glasses", 2.0f), "Sliders: Set accepts values");
  s.Set("smile", 0.75f);  // the same slider again: replaced, not added
  EditState st = s.State();
  Check(st.edits.size() == 3 && st.edits[0].direction == "age" && st.edits[1].direction == "glasses" &&
            st.edits[2].direction == "smile" && st.edits[2].strength == 0.75f,
        "Sliders: one edit per slider, ordered by name, newest value");
  s.Set("glasses", 0.0f);
  Check(s.State().edits.size() == 2 && s.Get("glasses") == 0.0f, "Sliders: 0 removes the edit");
  Check(!s.Set("", 1.0f) && !s.Set("age", std::nanf("")) && !s.Set("age", INFINITY) && s.Get("age") == -0.5f,
        "Sliders: an empty name or a non-finite value is refused and changes nothing");
  s.SetTruncation(0.7f);
  Check(s.State().truncation_psi == 0.7f, "Sliders: truncation travels with the state");
  s.SetPart("top", "BOB");
  s.SetPart("hair_color", "BLONDE");
  s.SetPart("hair_color", "RED");
  st = s.State();
  Check(st.set_parts.size() == 2 && st.set_parts[0].part == "hair_color" && st.set_parts[0].value == "RED" &&
            st.set_parts[1].part == "top" && st.edits.size() == 2,
        "Sliders: one entry per part, ordered by name, newest value, beside the edits");
  s.Reset();
  Check(s.State().edits.empty() && s.State().set_parts.empty() && !s.State().truncation_psi,
        "Sliders: Reset clears everything");
}

void TestPixelsAlone() {
  Image img;  // 2x3, 12-byte stride (4 bytes of padding a row), row r filled with r+1
  img.format = ImageFormat::RawBgra8;
  img.width = 2, img.height = 3, img.row_stride = 12;
  for (int r = 0; r < 3; ++r) img.data.insert(img.data.end(), 12, uint8_t(r + 1));
  Bytes out(24, 0);
  Check(PackedSize(img) == 24 && CopyPackedRows(img, true, out.data(), out.size()) &&
            out == Bytes{1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
        "CopyPackedRows: stride padding dropped, rows in order");
  Check(CopyPackedRows(img, false, out.data(), out.size()) && out[0] == 3 && out[23] == 1,
        "CopyPackedRows: top-down to bottom-up flips the rows");
  img.bottom_up = true;
  Check(CopyPackedRows(img, true, out.data(), out.size()) && out[0] == 3 && out[23] == 1,
        "CopyPackedRows: bottom-up to top-down flips the rows");
  Check(!CopyPackedRows(img, true, out.data(), 23), "CopyPackedRows: refuses a short destination");
  Image bad = img;
  bad.data.resize(12 * 2 + 7);
  Check(PackedSize(bad) == 0 && !CopyPackedRows(bad, true, out.data(), out.size()), "PackedSize: short data refused");
  bad = img, bad.row_stride = 7;
  Check(PackedSize(bad) == 0, "PackedSize: a stride under width*4 refused");
  bad = img, bad.format = ImageFormat::Png;
  Check(PackedSize(bad) == 0, "PackedSize: an encoded file is not raw");
  bad = img, bad.width = -2;
  Check(PackedSize(bad) == 0, "PackedSize: a negative width refused");
}

// The server's bottom-up BGRA, repacked top-down, is exactly its top-down BGRA (what the plugin
// uploads into a PF_B8G8R8A8 texture).
void TestPixelsFromServer(Client& af) {
  GenerateRequest req;
  req.seeds = {5};
  req.output.format = ImageFormat::RawBgra8;
  auto top = af.Generate(req);
  req.output.bottom_up = true;
  auto bottom = af.Generate(req);
  if (!top.ok() || !bottom.ok() || top.value.empty() || bottom.value.empty())
    return Check(false, "Generate BGRA both ways: " + Describe(top.status) + Describe(bottom.status));
  const Image& img = bottom.value[0].image;
  Bytes texture(PackedSize(img));
  Check(!texture.empty() && CopyPackedRows(img, true, texture.data(), texture.size()) &&
            texture == top.value[0].image.data,
        "CopyPackedRows: server bottom-up BGRA -> top-down == server top-down BGRA");
}

// What the plugin's GenerateFaces/StartEditSession nodes do: an async GetModel for the slider names,
// then named sliders driving a session.
void TestSlidersDriveSession(Client& af) {
  std::promise<Result<ModelInfo>> got;
  auto call = af.GetModelAsync("", [&](const Result<ModelInfo>& r) { got.set_value(r); });
  Result<ModelInfo> model = got.get_future().get();
  Check(model.ok() && model.value.directions.size() >= 2 && call.result.get().ok(),
        "GetModelAsync: callback and future both see the model: " + Describe(model.status));
  if (model.value.directions.size() < 2) return;
  auto faces = af.Generate([] { GenerateRequest r; r.seeds = {7}; return r; }());
  if (!faces.ok() || faces.value.empty()) return Check(false, "Generate seed 7: " + Describe(faces.status));

  std::mutex mu;
  std::condition_variable cv;
  int64_t last_seq = 0;
  Bytes last_image;
  ItemError error;
  Output bgra;
  bgra.format = ImageFormat::RawBgra8;
  auto session = af.StartEdit(faces.value[0].dna, [&](const EditEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (e.kind == EditEvent::Kind::Preview) last_seq = e.seq, last_image = e.image.data;
    if (e.kind == EditEvent::Kind::Error) error = e.error;
    cv.notify_all();
  }, bgra);
  const DirectionInfo &a = model.value.directions[0], &b = model.value.directions[1];
  Sliders sliders;
  sliders.Set(a.name, a.strength_max);
  sliders.Set(b.name, b.strength_min);
  int64_t seq = session->Update(sliders.State());
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 30s, [&] { return last_seq == seq || !error.ok(); });
  }
  Check(error.ok() && last_seq == seq, "Sliders -> Update: the server renders the named state: " + Describe(error));

  RenderPreviewRequest same;  // the unary path with the same edits gives the same pixels
  same.dna = faces.value[0].dna;
  same.edits = sliders.State().edits;
  same.output = bgra;
  auto preview = af.RenderPreview(same);
  std::lock_guard<std::mutex> lock(mu);
  Check(preview.ok() && preview.value.image.data == last_image,
        "Sliders: EditSession preview == RenderPreview of the same edits: " + Describe(preview.status));
  session->Finish();
}

// "Make an avatar from my picture": a PNG of an avatars64 face (served beside the tiny default
// model, see CMakeLists) comes back as a DNA that re-renders to the reconstruction, with scores;
// a model without an encoder refuses with INVALID_ARGUMENT saying what to do.
void TestEncode(Client& tiny, const std::string& address) {
  ClientOptions opts;
  opts.address = address;
  opts.model = "avatars64";
  Client af(opts);
  GenerateRequest png;
  png.seeds = {3};
  png.output.format = ImageFormat::Png;
  auto photo = af.Generate(png);
  if (!photo.ok() || photo.value.empty()) return Check(false, "Generate a PNG to encode: " + Describe(photo.status));
  EncodeRequest req;
  req.images = {photo.value[0].image};
  req.output.format = ImageFormat::RawBgra8;
  std::atomic<bool> called{false};
  auto r = af.EncodeAsync(req, [&](const Result<EncodeResponse>&) { called = true; }).result.get();
  Check(r.ok() && called && !r.value.dna.empty() && r.value.image.format == ImageFormat::RawBgra8 &&
            r.value.image.data.size() == size_t(r.value.image.row_stride) * r.value.image.height,
        "Encode: DNA and a raw BGRA8 reconstruction: " + Describe(r.status));
  Check(r.value.psnr_db > 25 && r.value.attribute_agreement.has_value() && r.value.refine_steps_done == 0,
        "Encode: a clean render reconstructs above 25 dB, with attribute agreement: " +
            std::to_string(r.value.psnr_db));
  GenerateRequest again;
  again.dnas = {r.value.dna};
  again.output.format = ImageFormat::RawBgra8;
  auto rendered = af.Generate(again);
  Check(rendered.ok() && rendered.value.size() == 1 && rendered.value[0].image.data == r.value.image.data,
        "Encode: the DNA re-renders to the reconstruction it came with");
  req.refine_steps = 3;
  req.refine_budget_ms = 5000;
  auto refined = af.Encode(req);
  Check(refined.ok() && refined.value.refine_steps_done >= 1 && refined.value.refine_steps_done <= 3,
        "Encode with refinement: steps done reported within the asked 3: " + Describe(refined.status));
  auto none = tiny.Encode(req);
  Check(none.status.code == INVALID_ARGUMENT && none.status.message.find("encoder") != std::string::npos,
        "Encode on a model without an encoder: INVALID_ARGUMENT saying so: " + Describe(none.status));
}

// An engine stopping play: Shutdown must not return while a callback is still running, and no
// handler may run after it returns.
void TestShutdownDrains(const std::string& address) {
  ClientOptions opts;
  opts.address = address;
  Client af(opts);
  std::atomic<bool> in_callback{false}, callback_done{false};
  GenerateRequest one;
  one.seeds = {1};
  af.GenerateAsync(one, [&](const Result<std::vector<Face>>&) {
    in_callback = true;
    std::this_thread::sleep_for(300ms);  // a slow game-side handler
    callback_done = true;
  });
  std::atomic<int> batch_events{0};
  BatchRequest big;
  big.count = 20000;
  auto batch = af.GenerateBatchAsync(big, [&](const BatchEvent&) { ++batch_events; return true; });
  std::atomic<int> edit_events{0};
  auto session = af.StartEdit({}, [&](const EditEvent&) { ++edit_events; });
  while (!in_callback) std::this_thread::sleep_for(1ms);

  auto t0 = std::chrono::steady_clock::now();
  bool idle = af.Shutdown(10s);
  auto waited = std::chrono::steady_clock::now() - t0;
  Check(idle && callback_done, "Shutdown returns only after the running callback has returned");
  Check(waited < 5s, "Shutdown: cancelled calls end promptly");
  int events_then = batch_events, edits_then = edit_events;
  std::this_thread::sleep_for(200ms);
  Check(batch_events == events_then && edit_events == edits_then, "Shutdown: no handler runs after it returns");
  Check(batch.result.get().status.code == CANCELLED, "Shutdown: the batch in flight ends CANCELLED");
  session.reset();

  std::atomic<bool> slow_done{false};
  af.GenerateAsync(one, [&](const Result<std::vector<Face>>&) {
    std::this_thread::sleep_for(1s);
    slow_done = true;
  });
  std::this_thread::sleep_for(200ms);  // the reply is in and the callback is sleeping
  Check(!af.Shutdown(50ms), "Shutdown: false when a callback outlasts the wait");
  Check(af.Shutdown(5s) && slow_done, "Shutdown: true once it has returned");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: engine_support_test HOST:PORT PYTHON\n");
    return 2;
  }
  TestSlidersAlone();
  TestPixelsAlone();
  ClientOptions opts;
  opts.address = argv[1];
  Client af(opts);
  TestPixelsFromServer(af);
  TestSlidersDriveSession(af);
  TestEncode(af, argv[1]);
  RunPartsChecks(argv[1], argv[2]);  // counts into the same tally (check.h)
  TestShutdownDrains(argv[1]);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
