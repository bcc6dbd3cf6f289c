// GenerateBatch: one server stream read on the caller's thread (or, for the async variant, on a
// thread of its own), each event handed to the caller's handler as it arrives.
#include <thread>

#include <grpcpp/grpcpp.h>

#include "client_impl.h"

namespace avatarforge {
namespace {

pb::GenerateBatchRequest BuildBatch(const BatchRequest& in, const std::string& model, const CallOptions& call) {
  pb::GenerateBatchRequest out;
  out.set_request_id(call.request_id);
  out.set_model(model);
  if (in.seeds.empty()) {
    out.mutable_range()->set_base_seed(in.base_seed);
    out.mutable_range()->set_count(in.count);
  } else {
    for (int64_t s : in.seeds) out.mutable_list()->add_seeds(s);
  }
  out.set_start_index(in.start_index);
  if (in.truncation_psi) out.set_truncation_psi(*in.truncation_psi);
  ToProto(in.output, out.mutable_output());
  out.set_progress_every(in.progress_every);
  return out;
}

// Reads the stream to its end. The handler returning false cancels the call: the server stops
// producing, and the result is CANCELLED.
Result<BatchSummary> RunBatch(Client::Impl& impl, grpc::ClientContext* ctx, const pb::GenerateBatchRequest& req,
                              const BatchHandler& on_event) {
  auto reader = impl.stub->GenerateBatch(ctx, req);
  Result<BatchSummary> out;
  pb::GenerateBatchEvent ev;
  BatchEvent event;
  while (reader->Read(&ev)) {
    switch (ev.event_case()) {
      case pb::GenerateBatchEvent::kItem:
        event.kind = BatchEvent::Kind::Item;
        event.item = FromProto(ev.item());
        break;
      case pb::GenerateBatchEvent::kProgress:
        event.kind = BatchEvent::Kind::Progress;
        event.progress = FromProto(ev.progress());
        break;
      case pb::GenerateBatchEvent::kSummary:
        event.kind = BatchEvent::Kind::Summary;
        event.summary = out.value = FromProto(ev.summary());
        break;
      default:
        continue;  // an event kind newer than this client: skip it
    }
    if (on_event && !on_event(event)) {
      ctx->TryCancel();
      while (reader->Read(&ev)) {}  // drain what was already on its way
      break;
    }
  }
  out.status = FromGrpc(reader->Finish());
  return out;
}

}  // namespace

Result<BatchSummary> Client::GenerateBatch(const BatchRequest& request, const BatchHandler& on_event,
                                           const CallOptions& call) {
  auto ctx = impl_->NewContext(call, true);
  return RunBatch(*impl_, ctx.get(), BuildBatch(request, impl_->options.model, call), on_event);
}

AsyncCall<BatchSummary> Client::GenerateBatchAsync(const BatchRequest& request, BatchHandler on_event,
                                                   const CallOptions& call) {
  auto ctx = impl_->NewContext(call, true);
  auto promise = std::make_shared<std::promise<Result<BatchSummary>>>();
  auto future = promise->get_future();
  // A thread per batch: a build script runs a handful at most. It holds the Impl, so the channel
  // outlives the Client if the caller drops it mid-batch (its destructor cancels the call).
  impl_->Enter();
  std::thread([impl = impl_, ctx, req = BuildBatch(request, impl_->options.model, call),
               on_event = std::move(on_event), promise]() mutable {
    auto result = RunBatch(*impl, ctx.get(), req, on_event);
    on_event = nullptr;  // the caller's handler is gone before Shutdown can return
    promise->set_value(std::move(result));
    impl->Leave();
  }).detach();
  std::weak_ptr<grpc::ClientContext> weak_ctx = ctx;
  return {std::move(future), [weak_ctx] {
            if (auto c = weak_ctx.lock()) c->TryCancel();
          }};
}

}  // namespace avatarforge
