// EditSession: the character creator's bidirectional stream, latest wins on the client side.
//
// Update() only replaces `pending_` (one slot) and wakes the writer; it never blocks and never
// queues. The writer thread sends the start, then whatever is newest each time the previous Write
// has returned, so while gRPC flow control holds a Write (slow network, busy server) any number of
// slider moves collapse into one state. A commit is written after the newest state, with its seq.
// The reader thread hands every event to the handler. Finish() closes the sending side once
// everything waiting is sent and waits for the server to end the stream.
#include <condition_variable>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "client_impl.h"

namespace avatarforge {
namespace {

EditEvent FromProto(const pb::EditEvent& ev) {
  EditEvent out;
  switch (ev.event_case()) {
    case pb::EditEvent::kStarted:
      out.kind = EditEvent::Kind::Started;
      out.image = avatarforge::FromProto(ev.started().image());
      break;
    case pb::EditEvent::kPreview:
      out.kind = EditEvent::Kind::Preview;
      out.seq = ev.preview().seq();
      out.skipped = ev.preview().skipped();
      out.image = avatarforge::FromProto(ev.preview().image());
      out.timing = avatarforge::FromProto(ev.preview().timing());
      break;
    case pb::EditEvent::kCommitted:
      out.kind = EditEvent::Kind::Committed;
      out.seq = ev.committed().seq();
      out.dna = SerializeDna(ev.committed().dna());
      break;
    default:  // kError, or an event kind newer than this client
      out.kind = EditEvent::Kind::Error;
      out.error = avatarforge::FromProto(ev.error());
      break;
  }
  return out;
}

class EditSessionImpl final : public EditSession {
 public:
  EditSessionImpl(std::shared_ptr<Client::Impl> impl, std::shared_ptr<grpc::ClientContext> ctx, pb::EditRequest start,
                  EditHandler on_event)
      : impl_(std::move(impl)), ctx_(std::move(ctx)), on_event_(std::move(on_event)) {
    stream_ = impl_->stub->EditSession(ctx_.get());
    impl_->Enter();  // left by the reader, after the last event it hands over
    writer_ = std::thread([this, start = std::move(start)] { WriteLoop(start); });
    reader_ = std::thread([this] { ReadLoop(); });
  }

  ~EditSessionImpl() override {
    if (!finished_) {
      Cancel();
      Finish();
    }
  }

  int64_t Update(EditState state) override {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = std::move(state);  // an unsent older state is dropped here: latest wins
    pending_seq_ = ++next_seq_;
    wake_.notify_one();
    return pending_seq_;
  }

  void Commit() override {
    std::lock_guard<std::mutex> lock(mu_);
    commit_ = true;
    wake_.notify_one();
  }

  Status Finish() override {
    if (finished_) return status_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
      wake_.notify_one();
    }
    writer_.join();
    reader_.join();
    status_ = FromGrpc(stream_->Finish());
    finished_ = true;
    return status_;
  }

  void Cancel() override { ctx_->TryCancel(); }

  int64_t StatesSent() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return states_sent_;
  }

 private:
  void WriteLoop(const pb::EditRequest& start) {
    bool alive = stream_->Write(start);
    while (alive) {
      pb::EditRequest req;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [this] { return pending_ || commit_ || closing_; });
        if (pending_) {
          pb::EditState* s = req.mutable_state();
          s->set_seq(pending_seq_);
          for (const auto& e : pending_->edits) ToProto(e, s->add_edits());
          if (pending_->mix && !ToProto(*pending_->mix, s->mutable_mix())) s->clear_mix();  // bad DNA: server says so
          if (pending_->truncation_psi) s->set_truncation_psi(*pending_->truncation_psi);
          for (const auto& p : pending_->set_parts) ToProto(p, s->add_set_parts());
          sent_seq_ = pending_seq_;
          ++states_sent_;
          pending_.reset();
        } else if (commit_) {
          req.mutable_commit()->set_seq(sent_seq_);  // the newest state, already written above
          commit_ = false;
        } else {
          break;  // closing, nothing left to send
        }
      }
      alive = stream_->Write(req);  // may block on flow control; Update keeps replacing meanwhile
    }
    stream_->WritesDone();
  }

  void ReadLoop() {
    pb::EditEvent ev;
    while (stream_->Read(&ev))
      if (on_event_) on_event_(FromProto(ev));
    impl_->Leave();
  }

  std::shared_ptr<Client::Impl> impl_;
  std::shared_ptr<grpc::ClientContext> ctx_;
  EditHandler on_event_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::EditRequest, pb::EditEvent>> stream_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::optional<EditState> pending_;  // the newest state not yet written (at most one)
  int64_t pending_seq_ = 0, next_seq_ = 0, sent_seq_ = 0, states_sent_ = 0;
  bool commit_ = false, closing_ = false;

  std::thread writer_, reader_;
  bool finished_ = false;  // Finish and the destructor run on the owner's thread
  Status status_;
};

}  // namespace

std::unique_ptr<EditSession> Client::StartEdit(const Dna& dna, EditHandler on_event, Output output,
                                               const CallOptions& call) {
  pb::EditRequest start;
  pb::EditStart* s = start.mutable_start();
  s->set_request_id(call.request_id);
  s->set_model(impl_->options.model);
  // Unparseable bytes go as an empty DNA; the server answers with an Error event naming the field.
  if (!ParseDna(dna, s->mutable_dna())) s->clear_dna();
  ToProto(output, s->mutable_output());
  return std::make_unique<EditSessionImpl>(impl_, impl_->NewContext(call, true), std::move(start), std::move(on_event));
}

}  // namespace avatarforge
