// AvatarForge C++ client core: StyleGAN2 faces from an AvatarForge server over gRPC.
//
//   avatarforge::Client af({"127.0.0.1:50051"});
//   avatarforge::GenerateRequest request;
//   request.seeds = {42};
//   auto faces = af.Generate(request);
//   if (faces.ok()) upload(faces.value[0].image);      // raw RGBA8, rows top to bottom
//   else log(faces.status.message);
//
// Nothing throws across this API: every call returns a Status (and a value). Async variants return
// an AsyncCall (a std::future plus Cancel) and may also take a callback. Callbacks run on a gRPC or
// client thread, never the game thread: marshal results yourself, and never call a blocking method
// of the client from inside one (it would hold the thread its answer needs). One Client is safe to
// share between threads; it holds one HTTP/2 connection that every call multiplexes over.
#pragma once

#include <functional>
#include <future>
#include <memory>

#include "avatarforge/types.h"

namespace avatarforge {

struct ClientOptions {
  std::string address = "127.0.0.1:50051";
  // Sent as "authorization: Bearer <token>" on every call when not empty (an API key made with
  // `avatarforge keys add`; send it over TLS beyond loopback).
  std::string auth_token;
  // TLS, on when `tls` is set or any PEM below is given. PEM text rather than paths: a game
  // reads its own files (or pak entries) and hands the contents over.
  bool tls = false;
  std::string tls_root_certs_pem;   // the CA that signed the server's certificate; empty = system roots
  std::string tls_client_cert_pem;  // mutual TLS (server started with --tls-client-ca): this
  std::string tls_client_key_pem;   // client's certificate chain and private key
  std::string model;  // the model calls use; empty = the server's default
  std::chrono::milliseconds unary_deadline{30000};  // default per unary call; 0 = none
  std::chrono::milliseconds stream_deadline{0};     // default for GenerateBatch/Interpolate/EditSession
  // One raw 1024x1024 RGBA image is 4 MiB, gRPC's default limit; the server allows 64 MiB.
  int max_receive_bytes = 64 * 1024 * 1024;
  // HTTP/2 keepalive pings while a call is open, to notice a dead connection (e.g. a laptop that
  // slept) in seconds rather than minutes. grpcio servers answer more than 2 pings without data
  // per 5 minutes with GOAWAY "too_many_pings", so the client sends at most 2 between data
  // frames and never pings an idle connection. 0 = no keepalive.
  std::chrono::milliseconds keepalive_time{30000};
  std::chrono::milliseconds keepalive_timeout{10000};
};

// A call in flight. `result` becomes ready once, when the call ends (Cancel makes it CANCELLED).
template <class T>
struct AsyncCall {
  std::future<Result<T>> result;
  std::function<void()> cancel;  // safe to call at any time, also after the call ended
  void Cancel() const { if (cancel) cancel(); }
};
template <class T>
using Callback = std::function<void(const Result<T>&)>;

// ---------------------------------------------------------------- requests

struct GenerateRequest {
  std::vector<int64_t> seeds;            // 0 .. 2^32-1
  std::vector<Dna> dnas;                 // stored faces, re-rendered (after the seeds, in order)
  std::optional<float> truncation_psi;   // for seeds only; unset = the model's default
  Output output;
};

struct BatchRequest {
  // Seeds: a range [base_seed, base_seed + count) or, when `seeds` is not empty, that list.
  int64_t base_seed = 0;
  int64_t count = 0;
  std::vector<int64_t> seeds;
  int64_t start_index = 0;  // resume: items with a smaller index are skipped
  std::optional<float> truncation_psi;
  Output output;
  int progress_every = 0;   // a progress event after this many items; 0 = every micro-batch
};

struct BatchProgress {
  int64_t completed = 0;  // including items skipped by start_index
  int64_t failed = 0;
  int64_t total = 0;
};

struct BatchSummary {
  int64_t total = 0, skipped = 0, produced = 0, failed = 0;
  int64_t wall_us = 0;
  Timing timing;
};

// One event of a GenerateBatch stream. An item may carry an error (item.error) instead of an image.
struct BatchEvent {
  enum class Kind { Item, Progress, Summary } kind = Kind::Item;
  Face item;
  BatchProgress progress;
  BatchSummary summary;
};
// Called for each event, in order, on the thread reading the stream. Return false to cancel.
using BatchHandler = std::function<bool(const BatchEvent&)>;

// How a second face is blended into the edited one.
struct MixSpec {
  Dna other;
  std::optional<float> weight;    // 0 = only the current face, 1 (or unset) = only `other`
  int layer_start = 0, layer_end = 0;  // W+ layers mixed; 0,0 = all
};

struct RenderPreviewRequest {
  Dna dna;
  std::vector<DirectionEdit> edits;
  std::optional<MixSpec> mix;
  std::optional<float> truncation_psi;
  // Parts set exactly (ModelInfo::parts names them), each part at most once; applied first, and
  // recorded in the edited DNA as "part/<part>/<VALUE>".
  std::vector<PartValue> set_parts;
  Output output;
};

struct RenderPreviewResponse {
  Image image;
  Dna dna;  // the edited face
  Timing timing;
};

struct InterpolateRequest {
  Dna source, target;
  std::vector<Dna> via;  // faces visited in order between source and target
  int frames = 2;        // >= 2, including both ends
  bool slerp = false;    // false: linear in W+
  Output output;
};

struct Frame {
  int index = 0;
  float t = 0;  // 0 = source, 1 = target
  Image image;
  Dna dna;
};

struct MixParent {
  Dna dna;
  float weight = 1;                    // blend: relative weight
  int layer_start = 0, layer_end = 0;  // style mix: the W+ layers taken from this parent
};

struct MixRequest {
  std::vector<MixParent> parents;  // two or more
  bool style = false;              // false: weighted blend; true: per-layer style mix
  Output output;
};

struct MutateRequest {
  Dna dna;
  int count = 1;        // variations
  float strength = 0.5f;  // step size in W, relative to the model's spread
  int64_t seed = 0;     // same seed, same variations
  Output output;
};

// Faces whose parts to read: seeds (exact) and/or stored DNA, together at most
// ModelInfo::max_unary_items; the reply lists the seeds' faces first, then the DNAs'.
struct GetPartsRequest {
  std::vector<int64_t> seeds;  // 0 .. 2^32-1
  std::vector<Dna> dnas;
};

struct EncodeRequest {
  // Pictures of one character (ModelInfo limits say how many and how large): encoded files need
  // only `format` and `data`; raw ones also width and height. Any framing: the server aligns it.
  std::vector<Image> images;
  Output output;              // for the rendered reconstruction
  int refine_steps = 0;       // optimise the code against the pictures afterwards; 0 = feed-forward only
  int refine_budget_ms = 0;   // ... for at most this long; 0 = the server's default
};

struct EncodeResponse {
  Dna dna;      // its edits record where it came from ("encode/<picture hash>", "refine")
  Image image;  // the DNA rendered, to show the player what was understood
  Timing timing;
  float psnr_db = 0;               // reconstruction vs the aligned pictures (mean)
  std::optional<float> attribute_agreement;  // share of the classifier's parts read alike; unset without one
  float spread = 0;                // how far apart several pictures' codes were (W std units)
  int refine_steps_done = 0;
};

// ---------------------------------------------------------------- edit sessions

struct EditEvent {
  enum class Kind { Started, Preview, Committed, Error } kind = Kind::Preview;
  int64_t seq = 0;      // Preview/Committed: the state it answers
  int64_t skipped = 0;  // Preview: states the server skipped since the previous preview
  Image image;          // Started (the start face) and Preview
  Dna dna;              // Committed
  ItemError error;      // Error: a bad state (error.seq) or start; the session stays open
  Timing timing;
};
using EditHandler = std::function<void(const EditEvent&)>;

struct EditState {
  std::vector<DirectionEdit> edits;  // absolute slider values, never deltas
  std::optional<MixSpec> mix;
  std::optional<float> truncation_psi;
  std::vector<PartValue> set_parts;  // absolute too: the parts set on the start face, as RenderPreviewRequest's
};

// The character creator's stream. Slider moves call Update as often as they like: the newest state
// replaces any state not yet sent (latest wins, never a queue), a writer thread sends only the
// newest, and the server in turn renders only the newest it has. Events arrive on a reader thread.
class EditSession {
 public:
  virtual ~EditSession() = default;  // cancels the stream if Finish was not called
  // Queues `state` as the newest; returns its seq (1, 2, 3, ...), which previews echo.
  virtual int64_t Update(EditState state) = 0;
  // Asks for the DNA of the newest state (sent first if it is still waiting): a Committed event.
  // The server commits only the newest state it accepted, so if that one was rejected (an Error
  // event), the commit is answered with an Error too: fix the state, then commit again.
  virtual void Commit() = 0;
  // Sends what is waiting, closes the sending side, waits for the server's last events.
  virtual Status Finish() = 0;
  virtual void Cancel() = 0;
  // States actually written; the rest were replaced before they left (for stats and tests).
  virtual int64_t StatesSent() const = 0;
};

// ---------------------------------------------------------------- client

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<std::vector<ModelInfo>> ListModels(const CallOptions& call = {});
  Result<ModelInfo> GetModel(const std::string& model = "", const CallOptions& call = {});
  AsyncCall<ModelInfo> GetModelAsync(const std::string& model = "", Callback<ModelInfo> done = {},
                                     const CallOptions& call = {});

  // A few faces in one reply (at most ModelInfo::max_unary_items), in request order.
  Result<std::vector<Face>> Generate(const GenerateRequest& request, const CallOptions& call = {});
  AsyncCall<std::vector<Face>> GenerateAsync(const GenerateRequest& request, Callback<std::vector<Face>> done = {},
                                             const CallOptions& call = {});

  // Bulk generation: `on_event` sees every item, progress and the summary; the result is the
  // summary. After a crash, call again with start_index = the first index not stored.
  Result<BatchSummary> GenerateBatch(const BatchRequest& request, const BatchHandler& on_event,
                                     const CallOptions& call = {});
  AsyncCall<BatchSummary> GenerateBatchAsync(const BatchRequest& request, BatchHandler on_event,
                                             const CallOptions& call = {});

  Result<RenderPreviewResponse> RenderPreview(const RenderPreviewRequest& request, const CallOptions& call = {});
  AsyncCall<RenderPreviewResponse> RenderPreviewAsync(const RenderPreviewRequest& request,
                                                      Callback<RenderPreviewResponse> done = {},
                                                      const CallOptions& call = {});
  Result<std::vector<Frame>> Interpolate(const InterpolateRequest& request, const CallOptions& call = {});
  Result<std::vector<Face>> Mix(const MixRequest& request, const CallOptions& call = {});
  Result<std::vector<Face>> Mutate(const MutateRequest& request, const CallOptions& call = {});

  // Personalisation: one to three photos or drawings (PNG/JPEG/WebP files, or raw RGBA8) to the
  // DNA of a face like them, with that DNA rendered. Servers without the encoder answer UNIMPLEMENTED.
  Result<EncodeResponse> Encode(const EncodeRequest& request, const CallOptions& call = {});
  AsyncCall<EncodeResponse> EncodeAsync(const EncodeRequest& request, Callback<EncodeResponse> done = {},
                                        const CallOptions& call = {});

  // The parts of faces (a creator's dropdowns when it opens a face), for a model whose
  // ModelInfo::parts is not empty; other models answer INVALID_ARGUMENT. Exact for seeds and for
  // seed faces whose only edits are set parts (PartsSource::Seed), the classifier's reading of
  // the render otherwise (PartsSource::Classifier).
  Result<std::vector<FaceParts>> GetParts(const GetPartsRequest& request, const CallOptions& call = {});
  AsyncCall<std::vector<FaceParts>> GetPartsAsync(const GetPartsRequest& request,
                                                  Callback<std::vector<FaceParts>> done = {},
                                                  const CallOptions& call = {});

  // Opens an edit session on `dna`; the first event is Started (the face) or Error.
  std::unique_ptr<EditSession> StartEdit(const Dna& dna, EditHandler on_event, Output output = {},
                                         const CallOptions& call = {});

  // For an owner about to go away (an engine subsystem, a level): cancels every call in flight and
  // waits, at most `wait`, until no callback, batch handler or edit-session handler of this client
  // is running or can still start; edit sessions count until they are destroyed or their stream
  // has ended. True when it got there in time. Call it from a thread no callback waits on.
  bool Shutdown(std::chrono::milliseconds wait);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace avatarforge
