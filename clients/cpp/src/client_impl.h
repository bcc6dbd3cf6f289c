// What a Client shares with its calls: the channel, the stub, the defaults, and the calls in flight
// (so that destroying the Client cancels them instead of leaving them to call back later).
#pragma once

#include <mutex>
#include <vector>

#include "convert.h"

namespace avatarforge {

struct Client::Impl {
  explicit Impl(ClientOptions options);

  // A context for one call: deadline (per call, else the client's default for unary or streaming
  // calls), auth metadata, and tracked so CancelAll reaches it.
  std::shared_ptr<grpc::ClientContext> NewContext(const CallOptions& call, bool streaming);
  void CancelAll();

  ClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::AvatarForge::Stub> stub;

 private:
  std::mutex mu_;
  std::vector<std::weak_ptr<grpc::ClientContext>> live_;
};

}  // namespace avatarforge
