// What a Client shares with its calls: the channel, the stub, the defaults, the calls in flight
// (so that destroying the Client cancels them instead of leaving them to call back later), and a
// count of the places where caller code may still run (so Shutdown can wait for them).
#pragma once

#include <condition_variable>
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

  // Around every stretch in which a caller's callback or handler may run (a unary call from start
  // to its callback, an async batch's thread, an edit session's reader): Enter before it starts,
  // Leave once the caller's code has returned and been destroyed. WaitIdle waits for the count 0.
  void Enter();
  void Leave();
  bool WaitIdle(std::chrono::milliseconds timeout);

  ClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::AvatarForge::Stub> stub;

 private:
  std::mutex mu_;
  std::vector<std::weak_ptr<grpc::ClientContext>> live_;
  std::condition_variable idle_;
  int busy_ = 0;
};

}  // namespace avatarforge
