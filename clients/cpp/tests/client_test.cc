// The C++ client against a real AvatarForge server (tiny seeded bundle, 32 px) on loopback:
// what a game or build script does, and what it sees. Run by with_server.sh, which passes the
// address. Prints every failed check and a closing "N passed, N failed" line.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "avatarforge/client.h"
#include "check.h"

using namespace avatarforge;
using namespace std::chrono_literals;

namespace {

using avatarforge_test::Check;
using avatarforge_test::Describe;
using avatarforge_test::failed;
using avatarforge_test::passed;


constexpr int CANCELLED = 1, INVALID_ARGUMENT = 3, DEADLINE_EXCEEDED = 4, NOT_FOUND = 5,
              RESOURCE_EXHAUSTED = 8, OUT_OF_RANGE = 11;

GenerateRequest Seeds(std::vector<int64_t> seeds, Output output = {}) {
  GenerateRequest r;
  r.seeds = std::move(seeds);
  r.output = output;
  return r;
}

void TestModels(Client& af, ModelInfo* model) {
  auto m = af.GetModel();
  Check(m.ok(), "GetModel: " + Describe(m.status));
  *model = m.value;
  Check(m.value.name == "tiny" && m.value.resolution == 32, "GetModel: tiny at 32 px, got " + m.value.name);
  Check(m.value.supported_sizes == std::vector<int>{16, 32, 64, 128}, "GetModel: sizes 16..128");
  Check(m.value.num_ws > 0 && m.value.w_dim == 32 && m.value.backend == "torch", "GetModel: shape and backend");
  Check(!m.value.directions.empty() && m.value.max_unary_items > 0, "GetModel: directions and limits");
  auto all = af.ListModels();
  Check(all.ok() && all.value.size() == 1 && all.value[0].name == "tiny", "ListModels: one model");
}

void TestGenerate(Client& af, std::vector<Face>* faces) {
  auto r = af.Generate(Seeds({1, 2, 3}));
  Check(r.ok() && r.value.size() == 3, "Generate 3 seeds: " + Describe(r.status));
  if (r.value.size() != 3) return;
  *faces = r.value;
  for (size_t i = 0; i < 3; ++i) {
    const Face& f = r.value[i];
    Check(f.error.ok() && f.index == int64_t(i) && f.seed == int64_t(i + 1), "Generate: index and seed echoed");
    Check(f.image.format == ImageFormat::RawRgba8 && f.image.width == 32 && f.image.height == 32 &&
              f.image.row_stride == 32 * 4 && !f.image.bottom_up && f.image.data.size() == 32 * 32 * 4,
          "Generate: raw RGBA8 32x32, top row first");
    Check(!f.dna.empty(), "Generate: DNA returned");
  }
  Check(r.value[0].image.data != r.value[1].image.data, "Generate: different seeds, different faces");

  GenerateRequest again;
  again.dnas = {r.value[1].dna};
  auto d = af.Generate(again);
  Check(d.ok() && d.value.size() == 1 && d.value[0].image.data == r.value[1].image.data,
        "Generate from DNA: the same image bytes as from its seed");

  auto png = af.Generate(Seeds({1}, {ImageFormat::Png, 64, 0}));
  const Bytes sig = {0x89, 'P', 'N', 'G'};
  Check(png.ok() && png.value[0].image.width == 64 &&
            Bytes(png.value[0].image.data.begin(), png.value[0].image.data.begin() + 4) == sig,
        "Generate PNG at 64: a PNG file");

  // The layouts engines want: BGRA (Unreal) and bottom-up rows (Unity), same pixels.
  Output bgra_up;
  bgra_up.format = ImageFormat::RawBgra8;
  bgra_up.bottom_up = true;
  auto other = af.Generate(Seeds({1}, bgra_up));
  bool same = other.ok() && other.value[0].image.data.size() == 32 * 32 * 4 && other.value[0].image.bottom_up;
  for (int y = 0; same && y < 32; ++y)
    for (int x = 0; same && x < 32; ++x) {
      const uint8_t* rgba = &r.value[0].image.data[(y * 32 + x) * 4];
      const uint8_t* bgra = &other.value[0].image.data[((31 - y) * 32 + x) * 4];
      same = rgba[0] == bgra[2] && rgba[1] == bgra[1] && rgba[2] == bgra[0] && rgba[3] == bgra[3];
    }
  Check(same, "Generate raw BGRA8 bottom-up: the same pixels, swizzled and flipped: " + Describe(other.status));

  // Async: the callback and the future both see the result.
  std::atomic<bool> called{false};
  auto call = af.GenerateAsync(Seeds({1}), [&](const Result<std::vector<Face>>& res) { called = res.ok(); });
  auto res = call.result.get();
  Check(res.ok() && called && res.value[0].image.data == r.value[0].image.data, "GenerateAsync: callback + future");
}

void TestBatch(Client& af, const std::vector<Face>& faces) {
  BatchRequest req;
  req.base_seed = 0;
  req.count = 100;
  req.progress_every = 10;
  std::set<int64_t> indices;
  int progress = 0, summaries = 0, item_errors = 0;
  Bytes seed2;
  BatchProgress last_progress;
  auto r = af.GenerateBatch(req, [&](const BatchEvent& e) {
    if (e.kind == BatchEvent::Kind::Item) {
      indices.insert(e.item.index);
      item_errors += !e.item.error.ok();
      if (e.item.seed == 2) seed2 = e.item.image.data;
    } else if (e.kind == BatchEvent::Kind::Progress) {
      ++progress;
      last_progress = e.progress;
    } else {
      ++summaries;
    }
    return true;
  });
  Check(r.ok(), "GenerateBatch 100: " + Describe(r.status));
  Check(indices.size() == 100 && *indices.begin() == 0 && *indices.rbegin() == 99, "GenerateBatch: items 0..99 once");
  // Progress comes at the start and then per micro-batch (every >= 10 items).
  Check(progress >= 2 && last_progress.completed == 100 && last_progress.total == 100,
        "GenerateBatch: progress events up to 100/100, got " + std::to_string(progress));
  Check(summaries == 1 && r.value.total == 100 && r.value.produced == 100 && r.value.failed == 0 && item_errors == 0,
        "GenerateBatch: summary 100 produced");
  Check(faces.size() == 3 && seed2 == faces[1].image.data, "GenerateBatch: seed 2 in a batch = seed 2 alone");

  // Resume after a "crash": only what is left, nothing twice.
  req.start_index = 60;
  int64_t first = -1, count = 0;
  r = af.GenerateBatch(req, [&](const BatchEvent& e) {
    if (e.kind == BatchEvent::Kind::Item) {
      if (first < 0) first = e.item.index;
      ++count;
    }
    return true;
  });
  Check(r.ok() && count == 40 && first == 60 && r.value.skipped == 60 && r.value.produced == 40,
        "GenerateBatch resume at 60: 40 items from index 60, 60 skipped");

  // The handler stops the stream mid-way.
  req.start_index = 0;
  req.count = 20000;
  count = 0;
  r = af.GenerateBatch(req, [&](const BatchEvent& e) { return !(e.kind == BatchEvent::Kind::Item && ++count == 10); });
  Check(r.status.code == CANCELLED && count == 10, "GenerateBatch: handler returns false -> CANCELLED: " +
                                                       Describe(r.status));

  // Async, cancelled from another thread.
  std::atomic<int> items{0};
  auto call = af.GenerateBatchAsync(req, [&](const BatchEvent& e) {
    items += e.kind == BatchEvent::Kind::Item;
    return true;
  });
  while (items < 5) std::this_thread::sleep_for(1ms);
  call.Cancel();
  auto ar = call.result.get();
  Check(ar.status.code == CANCELLED && items < 20000, "GenerateBatchAsync: Cancel -> CANCELLED after " +
                                                         std::to_string(items.load()) + " items");

  // Seeds past 2^32-1 fail one by one; the stream goes on.
  BatchRequest edge;
  edge.base_seed = (int64_t(1) << 32) - 2;
  edge.count = 4;
  int ok_items = 0, bad_items = 0;
  ItemError item_error;
  r = af.GenerateBatch(edge, [&](const BatchEvent& e) {
    if (e.kind == BatchEvent::Kind::Item) {
      if (e.item.error.ok()) ++ok_items;
      else { ++bad_items; item_error = e.item.error; }
    }
    return true;
  });
  Check(r.ok() && ok_items == 2 && bad_items == 2 && item_error.code == OUT_OF_RANGE && !item_error.message.empty() &&
            r.value.failed == 2,
        "GenerateBatch: seeds past 2^32-1 -> per-item OUT_OF_RANGE, stream OK: " + Describe(item_error));
}

void TestErrors(Client& af, const std::string& address) {
  ClientOptions opts;
  opts.address = address;
  opts.model = "no-such-model";
  Client other(opts);
  auto m = other.GetModel();
  Check(m.status.code == NOT_FOUND && m.status.message.find("no-such-model") != std::string::npos,
        "unknown model -> NOT_FOUND naming it: " + Describe(m.status));
  auto g = af.Generate(Seeds({1}, {ImageFormat::RawRgba8, 33, 0}));
  Check(g.status.code == INVALID_ARGUMENT && !g.status.message.empty() && g.status.field == "output.size",
        "size 33 -> INVALID_ARGUMENT naming output.size: " + Describe(g.status));
  GenerateRequest bad;
  bad.dnas = {Bytes{0xff, 0xff, 0xff}};
  g = af.Generate(bad);
  Check(g.status.code == INVALID_ARGUMENT, "garbage DNA -> INVALID_ARGUMENT before sending: " + Describe(g.status));

  CallOptions quick;
  quick.deadline = 1ms;
  BatchRequest big;
  big.count = 20000;
  auto b = af.GenerateBatch(big, [](const BatchEvent&) { return true; }, quick);
  Check(b.status.code == DEADLINE_EXCEEDED, "GenerateBatch with 1 ms deadline -> DEADLINE_EXCEEDED: " + Describe(b.status));
  quick.deadline = 300ms;
  b = af.GenerateBatch(big, [](const BatchEvent&) { return true; }, quick);
  Check(b.status.code == DEADLINE_EXCEEDED, "20000-item batch, 300 ms deadline -> DEADLINE_EXCEEDED: " +
                                                Describe(b.status));
}

void TestLargeRaw(Client& af, const std::string& address) {
  auto r = af.Generate(Seeds({7}, {ImageFormat::RawRgba8, 128, 0}));  // 4x native: the largest size
  Check(r.ok() && r.value[0].image.width == 128 && r.value[0].image.data.size() == 128 * 128 * 4,
        "Generate raw at 4x native (128 px, 64 KiB): " + Describe(r.status));
  // The receive limit is what lets it through: a client with a smaller one is refused.
  ClientOptions opts;
  opts.address = address;
  opts.max_receive_bytes = 32 * 1024;
  Client small(opts);
  auto s = small.Generate(Seeds({7}, {ImageFormat::RawRgba8, 128, 0}));
  Check(s.status.code == RESOURCE_EXHAUSTED, "same call with a 32 KiB receive limit -> RESOURCE_EXHAUSTED: " +
                                                 Describe(s.status));
}

void TestEditSession(Client& af, const ModelInfo& model, const std::vector<Face>& faces) {
  if (faces.empty() || model.directions.empty()) return Check(false, "EditSession: needs faces and directions");
  const DirectionInfo& dir = model.directions[0];
  std::mutex mu;
  std::condition_variable cv;
  int started = 0, previews = 0, errors = 0;
  int64_t last_seq = 0, skipped = 0;
  Bytes last_image;
  Dna committed;
  Status error;
  auto session = af.StartEdit(faces[0].dna, [&](const EditEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    switch (e.kind) {
      case EditEvent::Kind::Started: ++started; break;
      case EditEvent::Kind::Preview:
        ++previews;
        last_seq = e.seq;
        skipped += e.skipped;
        last_image = e.image.data;
        break;
      case EditEvent::Kind::Committed: committed = e.dna; break;
      case EditEvent::Kind::Error: ++errors; error = e.error; break;
    }
    cv.notify_all();
  });
  // 100 slider moves, one a millisecond: a fast drag, faster than the server renders.
  float strength = 0;
  int64_t seq = 0;
  for (int i = 1; i <= 100; ++i) {
    strength = dir.strength_min + (dir.strength_max - dir.strength_min) * i / 100.0f;
    EditState state;
    state.edits = {{dir.name, strength}};
    seq = session->Update(state);
    std::this_thread::sleep_for(1ms);
  }
  {  // wait for seq 100 to be rendered, so the burst below starts from a quiet stream
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 30s, [&] { return last_seq == 100 || errors > 0; });
  }
  int64_t sent_spaced = session->StatesSent();
  // Then 100 more with no pause at all: most never leave the client (latest wins in the writer).
  for (int i = 1; i <= 100; ++i) {
    strength = dir.strength_max - (dir.strength_max - dir.strength_min) * i / 100.0f;
    EditState state;
    state.edits = {{dir.name, strength}};
    seq = session->Update(state);
  }
  session->Commit();
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 30s, [&] { return !committed.empty() || errors > 0; });
  }
  Status finished = session->Finish();
  Check(finished.ok(), "EditSession: Finish OK: " + Describe(finished));
  Check(errors == 0, "EditSession: no error events: " + Describe(error));
  Check(started == 1 && seq == 200, "EditSession: started once, 200 states numbered 1..200");
  int64_t sent = session->StatesSent();
  Check(previews >= 2 && previews <= 100, "EditSession: 200 updates -> far fewer previews, got " + std::to_string(previews));
  Check(sent <= 200 && previews + skipped == sent, "EditSession: previews + server skips = states sent (" +
                                                       std::to_string(sent) + ")");
  Check(last_seq == 200, "EditSession: the last preview renders seq 200, got " + std::to_string(last_seq));
  Check(!committed.empty(), "EditSession: commit returns DNA");
  std::printf("EditSession: 100 updates 1 ms apart + 100 in a burst -> %lld + %lld sent -> %d previews "
              "(server skipped %lld)\n", (long long)sent_spaced, (long long)(sent - sent_spaced), previews, (long long)skipped);

  // RenderPreview (the unary path WebGL uses) with the same final state renders the same image,
  // and its DNA renders it too.
  RenderPreviewRequest pr;
  pr.dna = faces[0].dna;
  pr.edits = {{dir.name, strength}};
  auto p = af.RenderPreview(pr);
  Check(p.ok() && p.value.image.data == last_image, "RenderPreview: same image as the session's last preview: " +
                                                        Describe(p.status));
  GenerateRequest again;
  again.dnas = {committed};
  auto g = af.Generate(again);
  Check(g.ok() && g.value[0].image.data == last_image, "committed DNA renders the edited face");
}

// A bad slider state is answered with an error that names the state and the field; the session
// goes on and renders the next good state.
void TestEditErrors(Client& af, const ModelInfo& model, const std::vector<Face>& faces) {
  if (faces.empty() || model.directions.empty()) return Check(false, "EditSession errors: needs faces and directions");
  std::mutex mu;
  std::condition_variable cv;
  std::vector<EditEvent> events;
  auto session = af.StartEdit(faces[0].dna, [&](const EditEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(e);
    cv.notify_all();
  });
  auto seen = [&](EditEvent::Kind kind) {
    for (const auto& e : events)
      if (e.kind == kind) return &e;
    return static_cast<const EditEvent*>(nullptr);
  };
  EditState bad;
  bad.edits = {{"no-such-direction", 1.0f}};
  int64_t bad_seq = session->Update(bad);
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 30s, [&] { return seen(EditEvent::Kind::Error) != nullptr; });
  }
  EditState good;
  good.edits = {{model.directions[0].name, model.directions[0].default_strength}};
  int64_t good_seq = session->Update(good);
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 30s, [&] { return seen(EditEvent::Kind::Preview) != nullptr; });
  }
  Status finished = session->Finish();
  const EditEvent* err = seen(EditEvent::Kind::Error);
  Check(err && err->error.code == INVALID_ARGUMENT && err->error.seq == bad_seq && err->error.field == "edits[0].direction",
        "EditSession: unknown direction -> error naming seq and field: " +
            (err ? Describe(err->error) + " field=" + err->error.field + " seq=" + std::to_string(err->error.seq) : "none"));
  const EditEvent* preview = seen(EditEvent::Kind::Preview);
  Check(preview && preview->seq == good_seq && finished.ok(), "EditSession: the session goes on after a bad state");
}

void TestInterpolateMixMutate(Client& af, const std::vector<Face>& faces) {
  if (faces.size() < 3) return Check(false, "Interpolate/Mix/Mutate: needs faces");
  InterpolateRequest ir;
  ir.source = faces[0].dna;
  ir.target = faces[1].dna;
  ir.frames = 5;
  auto frames = af.Interpolate(ir);
  Check(frames.ok() && frames.value.size() == 5, "Interpolate: 5 frames: " + Describe(frames.status));
  if (frames.value.size() == 5) {
    Check(frames.value[0].t == 0 && frames.value[4].t == 1, "Interpolate: t from 0 to 1");
    Check(frames.value[0].image.data == faces[0].image.data && frames.value[4].image.data == faces[1].image.data,
          "Interpolate: the ends are the two faces");
  }

  MixRequest mr;
  mr.parents = {{faces[0].dna, 1}, {faces[2].dna, 1}};
  auto mixed = af.Mix(mr);
  Check(mixed.ok() && mixed.value.size() == 1 && mixed.value[0].image.data.size() == 32 * 32 * 4 &&
            mixed.value[0].image.data != faces[0].image.data,
        "Mix: one child, unlike its parent: " + Describe(mixed.status));

  MutateRequest mu;
  mu.dna = faces[0].dna;
  mu.count = 3;
  mu.seed = 5;
  auto a = af.Mutate(mu), b = af.Mutate(mu);
  Check(a.ok() && a.value.size() == 3 && a.value[0].image.data != a.value[1].image.data,
        "Mutate: 3 different variations: " + Describe(a.status));
  Check(b.ok() && b.value.size() == 3 && b.value[2].image.data == a.value[2].image.data, "Mutate: same seed, same faces");
}

void TestClientGoneMidCall(const std::string& address) {
  ClientOptions opts;
  opts.address = address;
  AsyncCall<BatchSummary> call;
  {
    Client af(opts);
    BatchRequest req;
    req.count = 20000;
    call = af.GenerateBatchAsync(req, [](const BatchEvent&) { return true; });
  }  // destroyed with the batch in flight
  auto r = call.result.get();
  Check(r.status.code == CANCELLED, "Client destroyed mid-batch -> the batch ends CANCELLED: " + Describe(r.status));
}

// An edit session left idle for 40 s (a player reading a tooltip) while the client pings every 5 s:
// grpcio answers a client that keeps pinging without data with GOAWAY "too_many_pings" after
// about 30 s, so this fails if the keepalive settings ever allow unlimited pings. Slow: ctest -L slow.
void TestKeepaliveIdleSession(const std::string& address, const std::vector<Face>& faces, const ModelInfo& model) {
  if (faces.empty() || model.directions.empty()) return Check(false, "keepalive: needs faces and directions");
  ClientOptions opts;
  opts.address = address;
  opts.keepalive_time = 5s;
  opts.keepalive_timeout = 5s;
  Client af(opts);
  std::mutex mu;
  std::condition_variable cv;
  int previews = 0;
  ItemError error;
  auto session = af.StartEdit(faces[0].dna, [&](const EditEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    previews += e.kind == EditEvent::Kind::Preview;
    if (e.kind == EditEvent::Kind::Error) error = e.error;
    cv.notify_all();
  });
  std::this_thread::sleep_for(40s);
  EditState state;
  state.edits = {{model.directions[0].name, model.directions[0].default_strength}};
  session->Update(state);
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 30s, [&] { return previews > 0; });
  }
  Status finished = session->Finish();
  Check(previews == 1 && error.ok() && finished.ok(),
        "keepalive 5 s, session idle 40 s: still answers (no too_many_pings): " + Describe(finished));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: client_test HOST:PORT [slow]\n");
    return 2;
  }
  ClientOptions opts;
  opts.address = argv[1];
  opts.auth_token = "test-token";  // the server ignores it today; it must not break anything
  Client af(opts);
  ModelInfo model;
  std::vector<Face> faces;
  TestModels(af, &model);
  TestGenerate(af, &faces);
  if (argc > 2 && std::string(argv[2]) == "slow") {  // only the slow checks
    TestKeepaliveIdleSession(argv[1], faces, model);
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
  }
  TestBatch(af, faces);
  TestErrors(af, argv[1]);
  TestLargeRaw(af, argv[1]);
  TestEditSession(af, model, faces);
  TestEditErrors(af, model, faces);
  TestInterpolateMixMutate(af, faces);
  TestClientGoneMidCall(argv[1]);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
