// Client: the channel, per-call contexts, and the unary RPCs. Every unary call runs on gRPC's
// callback API; the blocking variants wait on the async one's future, so each RPC has one path.
#include <algorithm>

#include <grpcpp/grpcpp.h>

#include "client_impl.h"

namespace avatarforge {

Client::Impl::Impl(ClientOptions opts) : options(std::move(opts)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_receive_bytes);
  if (options.keepalive_time.count() > 0) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options.keepalive_time.count()));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options.keepalive_timeout.count()));
    // grpcio's server allows 2 pings without data per 5 min before "too_many_pings" (GOAWAY, the
    // calls fail UNAVAILABLE); 0 here would mean unlimited and trips it after ~30 s of quiet.
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 2);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  }
  const bool tls = options.tls || !options.tls_root_certs_pem.empty() || !options.tls_client_cert_pem.empty();
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_root_certs_pem;
    ssl.pem_cert_chain = options.tls_client_cert_pem;
    ssl.pem_private_key = options.tls_client_key_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  channel = grpc::CreateCustomChannel(options.address, credentials, args);
  stub = pb::AvatarForge::NewStub(channel);
}

std::shared_ptr<grpc::ClientContext> Client::Impl::NewContext(const CallOptions& call, bool streaming) {
  auto ctx = std::make_shared<grpc::ClientContext>();
  auto deadline = call.deadline.count() >= 0 ? call.deadline
                                              : (streaming ? options.stream_deadline : options.unary_deadline);
  if (deadline.count() > 0) ctx->set_deadline(std::chrono::system_clock::now() + deadline);
  if (!options.auth_token.empty()) ctx->AddMetadata("authorization", "Bearer " + options.auth_token);
  std::lock_guard<std::mutex> lock(mu_);
  live_.erase(std::remove_if(live_.begin(), live_.end(), [](auto& w) { return w.expired(); }), live_.end());
  live_.push_back(ctx);
  return ctx;
}

void Client::Impl::CancelAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& w : live_)
    if (auto ctx = w.lock()) ctx->TryCancel();
}

void Client::Impl::Enter() {
  std::lock_guard<std::mutex> lock(mu_);
  ++busy_;
}

void Client::Impl::Leave() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--busy_ == 0) idle_.notify_all();
}

bool Client::Impl::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_.wait_for(lock, timeout, [this] { return busy_ == 0; });
}

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}

// Calls still in flight end CANCELLED; their callbacks still run (on gRPC threads), so an engine
// adapter must not let them touch objects that are gone.
Client::~Client() { impl_->CancelAll(); }

bool Client::Shutdown(std::chrono::milliseconds wait) {
  impl_->CancelAll();
  return impl_->WaitIdle(wait);
}

namespace {

Status InvalidArgument(std::string message) {
  return {static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT), std::move(message), {}};
}

template <class T>
AsyncCall<T> Failed(Status status, const Callback<T>& done) {
  std::promise<Result<T>> p;
  Result<T> r{std::move(status), {}};
  if (done) done(r);
  p.set_value(std::move(r));
  return {p.get_future(), [] {}};
}

// Starts one unary call. `invoke(async_stub, ctx, req, resp, on_done)` picks the RPC; `convert`
// turns the reply into the public value. The state lives until gRPC has called back.
template <class T, class Req, class Resp, class Invoke, class Convert>
AsyncCall<T> StartUnary(const std::shared_ptr<Client::Impl>& impl, Req request, const CallOptions& call,
                        Invoke invoke, Convert convert, Callback<T> done) {
  struct State {
    std::shared_ptr<Client::Impl> impl;  // keeps the channel alive until the call ends
    std::shared_ptr<grpc::ClientContext> ctx;
    Req request;
    Resp response;
    Callback<T> done;
    std::promise<Result<T>> promise;
  };
  auto state = std::make_shared<State>();
  state->impl = impl;
  state->ctx = impl->NewContext(call, false);
  state->request = std::move(request);
  state->done = std::move(done);
  auto future = state->promise.get_future();
  std::weak_ptr<grpc::ClientContext> weak_ctx = state->ctx;
  impl->Enter();
  invoke(impl->stub->async(), state->ctx.get(), &state->request, &state->response,
         std::function<void(grpc::Status)>([state, convert](grpc::Status s) {
           Result<T> r;
           r.status = FromGrpc(s);
           if (s.ok()) r.value = convert(state->response);
           {
             // Destroyed here, not whenever gRPC drops this lambda: after Leave, Shutdown may
             // return and the caller may unload the code the callback came from.
             Callback<T> done = std::move(state->done);
             if (done) done(r);
           }
           state->promise.set_value(std::move(r));
           state->impl->Leave();
         }));
  return {std::move(future), [weak_ctx] {
            if (auto ctx = weak_ctx.lock()) ctx->TryCancel();
          }};
}

std::vector<Face> Faces(const pb::GenerateResponse& resp) {
  std::vector<Face> faces;
  faces.reserve(resp.results_size());
  for (const auto& r : resp.results()) faces.push_back(FromProto(r));
  return faces;
}

// Seeds, then stored DNA, as a request's characters (Generate and GetParts take the same list).
Status AddCharacters(const std::vector<int64_t>& seeds, const std::vector<Dna>& dnas,
                     google::protobuf::RepeatedPtrField<pb::CharacterSource>* out) {
  for (int64_t seed : seeds) out->Add()->set_seed(seed);
  for (size_t i = 0; i < dnas.size(); ++i)
    if (!ParseDna(dnas[i], out->Add()->mutable_dna()))
      return InvalidArgument("dnas[" + std::to_string(i) + "] is not a CharacterDna message");
  return {};
}

Status BuildGenerate(const GenerateRequest& in, const std::string& model, const CallOptions& call,
                     pb::GenerateRequest* out) {
  out->set_request_id(call.request_id);
  out->set_model(model);
  if (Status s = AddCharacters(in.seeds, in.dnas, out->mutable_characters()); !s.ok()) return s;
  if (in.truncation_psi) out->set_truncation_psi(*in.truncation_psi);
  ToProto(in.output, out->mutable_output());
  return {};
}

Status BuildPreview(const RenderPreviewRequest& in, const std::string& model, const CallOptions& call,
                    pb::RenderPreviewRequest* out) {
  out->set_request_id(call.request_id);
  out->set_model(model);
  if (!ParseDna(in.dna, out->mutable_dna())) return InvalidArgument("dna is not a CharacterDna message");
  for (const auto& e : in.edits) ToProto(e, out->add_edits());
  if (in.mix && !ToProto(*in.mix, out->mutable_mix())) return InvalidArgument("mix.other is not a CharacterDna message");
  if (in.truncation_psi) out->set_truncation_psi(*in.truncation_psi);
  for (const auto& p : in.set_parts) ToProto(p, out->add_set_parts());
  ToProto(in.output, out->mutable_output());
  return {};
}

Status BuildGetParts(const GetPartsRequest& in, const std::string& model, const CallOptions& call,
                     pb::GetPartsRequest* out) {
  out->set_request_id(call.request_id);
  out->set_model(model);
  return AddCharacters(in.seeds, in.dnas, out->mutable_characters());
}

}  // namespace

Result<std::vector<ModelInfo>> Client::ListModels(const CallOptions& call) {
  return StartUnary<std::vector<ModelInfo>, pb::ListModelsRequest, pb::ListModelsResponse>(
             impl_, {}, call, [](auto* a, auto... args) { a->ListModels(args...); },
             [](const pb::ListModelsResponse& r) {
               std::vector<ModelInfo> out;
               for (const auto& m : r.models()) out.push_back(FromProto(m));
               return out;
             },
             {})
      .result.get();
}

AsyncCall<ModelInfo> Client::GetModelAsync(const std::string& model, Callback<ModelInfo> done,
                                           const CallOptions& call) {
  pb::GetModelRequest req;
  req.set_model(model.empty() ? impl_->options.model : model);
  return StartUnary<ModelInfo, pb::GetModelRequest, pb::ModelInfo>(
      impl_, std::move(req), call, [](auto* a, auto... args) { a->GetModel(args...); },
      [](const pb::ModelInfo& m) { return FromProto(m); }, std::move(done));
}

Result<ModelInfo> Client::GetModel(const std::string& model, const CallOptions& call) {
  return GetModelAsync(model, {}, call).result.get();
}

AsyncCall<std::vector<Face>> Client::GenerateAsync(const GenerateRequest& request, Callback<std::vector<Face>> done,
                                                   const CallOptions& call) {
  pb::GenerateRequest req;
  if (Status s = BuildGenerate(request, impl_->options.model, call, &req); !s.ok()) return Failed(std::move(s), done);
  return StartUnary<std::vector<Face>, pb::GenerateRequest, pb::GenerateResponse>(
      impl_, std::move(req), call, [](auto* a, auto... args) { a->Generate(args...); }, Faces, std::move(done));
}

Result<std::vector<Face>> Client::Generate(const GenerateRequest& request, const CallOptions& call) {
  return GenerateAsync(request, {}, call).result.get();
}

AsyncCall<RenderPreviewResponse> Client::RenderPreviewAsync(const RenderPreviewRequest& request,
                                                            Callback<RenderPreviewResponse> done,
                                                            const CallOptions& call) {
  pb::RenderPreviewRequest req;
  if (Status s = BuildPreview(request, impl_->options.model, call, &req); !s.ok()) return Failed(std::move(s), done);
  return StartUnary<RenderPreviewResponse, pb::RenderPreviewRequest, pb::RenderPreviewResponse>(
      impl_, std::move(req), call, [](auto* a, auto... args) { a->RenderPreview(args...); },
      [](const pb::RenderPreviewResponse& r) {
        return RenderPreviewResponse{FromProto(r.image()), SerializeDna(r.dna()), FromProto(r.timing())};
      },
      std::move(done));
}

Result<RenderPreviewResponse> Client::RenderPreview(const RenderPreviewRequest& request, const CallOptions& call) {
  return RenderPreviewAsync(request, {}, call).result.get();
}

AsyncCall<std::vector<FaceParts>> Client::GetPartsAsync(const GetPartsRequest& request,
                                                        Callback<std::vector<FaceParts>> done, const CallOptions& call) {
  pb::GetPartsRequest req;
  if (Status s = BuildGetParts(request, impl_->options.model, call, &req); !s.ok()) return Failed(std::move(s), done);
  return StartUnary<std::vector<FaceParts>, pb::GetPartsRequest, pb::GetPartsResponse>(
      impl_, std::move(req), call, [](auto* a, auto... args) { a->GetParts(args...); },
      [](const pb::GetPartsResponse& r) {
        std::vector<FaceParts> faces;
        for (const auto& f : r.faces()) faces.push_back(FromProto(f));
        return faces;
      },
      std::move(done));
}

Result<std::vector<FaceParts>> Client::GetParts(const GetPartsRequest& request, const CallOptions& call) {
  return GetPartsAsync(request, {}, call).result.get();
}

AsyncCall<EncodeResponse> Client::EncodeAsync(const EncodeRequest& request, Callback<EncodeResponse> done,
                                              const CallOptions& call) {
  pb::EncodeRequest req;
  req.set_request_id(call.request_id);
  req.set_model(impl_->options.model);
  for (const Image& image : request.images) ToProto(image, req.add_images());
  ToProto(request.output, req.mutable_output());
  req.set_refine_steps(request.refine_steps);
  req.set_refine_budget_ms(request.refine_budget_ms);
  return StartUnary<EncodeResponse, pb::EncodeRequest, pb::EncodeResponse>(
      impl_, std::move(req), call, [](auto* a, auto... args) { a->Encode(args...); },
      [](const pb::EncodeResponse& r) {
        EncodeResponse out;
        out.dna = SerializeDna(r.dna());
        out.image = FromProto(r.image());
        out.timing = FromProto(r.timing());
        const pb::EncodeScores& s = r.scores();
        out.psnr_db = s.psnr_db();
        if (s.has_attribute_agreement()) out.attribute_agreement = s.attribute_agreement();
        out.spread = s.spread();
        out.refine_steps_done = s.refine_steps();
        return out;
      },
      std::move(done));
}

Result<EncodeResponse> Client::Encode(const EncodeRequest& request, const CallOptions& call) {
  return EncodeAsync(request, {}, call).result.get();
}

Result<std::vector<Face>> Client::Mix(const MixRequest& request, const CallOptions& call) {
  pb::MixRequest req;
  req.set_request_id(call.request_id);
  req.set_model(impl_->options.model);
  req.set_mode(request.style ? pb::MIX_MODE_STYLE : pb::MIX_MODE_BLEND);
  for (size_t i = 0; i < request.parents.size(); ++i) {
    const MixParent& in = request.parents[i];
    pb::MixParent* p = req.add_parents();
    if (!ParseDna(in.dna, p->mutable_dna()))
      return {InvalidArgument("parents[" + std::to_string(i) + "].dna is not a CharacterDna message"), {}};
    p->set_weight(in.weight);
    p->set_layer_start(in.layer_start);
    p->set_layer_end(in.layer_end);
  }
  ToProto(request.output, req.mutable_output());
  return StartUnary<std::vector<Face>, pb::MixRequest, pb::GenerateResponse>(
             impl_, std::move(req), call, [](auto* a, auto... args) { a->Mix(args...); }, Faces, {})
      .result.get();
}

Result<std::vector<Face>> Client::Mutate(const MutateRequest& request, const CallOptions& call) {
  pb::MutateRequest req;
  req.set_request_id(call.request_id);
  req.set_model(impl_->options.model);
  if (!ParseDna(request.dna, req.mutable_dna())) return {InvalidArgument("dna is not a CharacterDna message"), {}};
  req.set_count(request.count);
  req.set_strength(request.strength);
  req.set_seed(request.seed);
  ToProto(request.output, req.mutable_output());
  return StartUnary<std::vector<Face>, pb::MutateRequest, pb::GenerateResponse>(
             impl_, std::move(req), call, [](auto* a, auto... args) { a->Mutate(args...); }, Faces, {})
      .result.get();
}

// Server streaming, but a morph is a few dozen frames: collected into one result.
Result<std::vector<Frame>> Client::Interpolate(const InterpolateRequest& request, const CallOptions& call) {
  pb::InterpolateRequest req;
  req.set_model(impl_->options.model);
  req.set_request_id(call.request_id);
  if (!ParseDna(request.source, req.mutable_source()) || !ParseDna(request.target, req.mutable_target()))
    return {InvalidArgument("source or target is not a CharacterDna message"), {}};
  for (const Dna& v : request.via)
    if (!ParseDna(v, req.add_via())) return {InvalidArgument("a via face is not a CharacterDna message"), {}};
  req.set_frames(request.frames);
  req.set_space(request.slerp ? pb::INTERPOLATION_SPACE_W_PLUS_SLERP : pb::INTERPOLATION_SPACE_W_PLUS_LINEAR);
  ToProto(request.output, req.mutable_output());

  auto ctx = impl_->NewContext(call, true);
  auto reader = impl_->stub->Interpolate(ctx.get(), req);
  Result<std::vector<Frame>> out;
  pb::InterpolateFrame f;
  while (reader->Read(&f))
    out.value.push_back({f.index(), f.t(), FromProto(f.image()), SerializeDna(f.dna())});
  out.status = FromGrpc(reader->Finish());
  return out;
}

}  // namespace avatarforge
