#include "exchange/block_stream.h"

#include "exchange/exchange_service.h"

namespace ob::exchange {

namespace pb = openbucket::p2p::v1;

BlockStream::BlockStream(const PeerClient& peer, std::string file_cid, std::uint32_t slot, std::uint64_t first,
                         std::shared_ptr<const std::vector<merkle::Hash>> roots, std::size_t block_size,
                         Deliver deliver, Stopped stopped)
    : address_(peer.address()),
      file_cid_(std::move(file_cid)),
      slot_(slot),
      roots_(std::move(roots)),
      block_size_(block_size),
      deliver_(std::move(deliver)),
      stopped_(std::move(stopped)),
      received_end_(first),
      requested_end_(first),
      idle_since_(Clock::now().time_since_epoch().count()) {
  // No deadline: the stream lives as long as the transfer; the owner cancels it when it stalls.
  stream_ = peer.stub().Blocks(&context_);
  reader_ = std::thread([this] { read_loop(); });
}

BlockStream::~BlockStream() {
  cancel();
  // The call was cancelled or has ended: Finish returns at once and releases it.
  if (!finished_) (void)stream_->Finish();
}

void BlockStream::cancel() {
  State expected = State::running;
  state_.compare_exchange_strong(expected, State::cancelled);
  context_.TryCancel();
  if (reader_.joinable()) reader_.join();
}

std::optional<Error> BlockStream::failure() const {
  std::lock_guard lock(failure_mutex_);
  return failure_;
}

void BlockStream::set_failed(Error error) {
  {
    std::lock_guard lock(failure_mutex_);
    State expected = State::running;
    if (!state_.compare_exchange_strong(expected, State::failed)) return;  // cancelled meanwhile
    failure_ = std::move(error);
  }
  context_.TryCancel();
  if (stopped_) stopped_();
}

Result<void> BlockStream::want(std::uint64_t end) {
  std::lock_guard lock(call_mutex_);
  if (state() != State::running) return fail(Errc::io, address_, ": the stream of slot ", slot_, " is closed");
  if (end <= requested_end()) return {};
  if (received_end() == requested_end()) touch();  // nothing was owed until now
  pb::BlocksWant message;
  message.set_slot(slot_);
  while (requested_end() < end) {
    const std::uint64_t first = requested_end();
    const auto count = static_cast<std::uint32_t>(std::min<std::uint64_t>(kMaxBlocksPerWant, end - first));
    if (!sent_file_) message.set_file_cid(file_cid_);
    message.set_first(first);
    message.set_count(count);
    // Raised before the want leaves, so that the reader accepts an answer arriving at once.
    requested_end_.store(first + count);
    if (!stream_->Write(message)) return fail(Errc::io, address_, ": the stream of slot ", slot_, " broke");
    sent_file_ = true;
    message.clear_file_cid();
  }
  return {};
}

void BlockStream::read_loop() {
  pb::BlockBatch batch;
  std::uint64_t next = received_end();
  const std::vector<merkle::Hash>& roots = *roots_;
  while (stream_->Read(&batch)) {
    const std::size_t size = batch.data().size();
    const std::uint64_t count = size / block_size_;
    if (batch.slot() != slot_ || batch.first() != next || count == 0 || size % block_size_ != 0 ||
        count > requested_end() - next) {
      set_failed(Error{Errc::corrupt, address_ + ": sent blocks [" + std::to_string(batch.first()) + ", +" +
                                    std::to_string(size) + " bytes) of slot " + std::to_string(batch.slot()) +
                                    ", which were not asked for (slot " + std::to_string(slot_) + ", block " +
                                    std::to_string(next) + " next)"});
      return;
    }
    const auto* data = reinterpret_cast<const std::uint8_t*>(batch.data().data());
    for (std::uint64_t b = 0; b < count; ++b, ++next) {
      const ByteView block(data + b * block_size_, block_size_);
      if (merkle::block_root(block) != roots[next]) {
        set_failed(Error{Errc::corrupt, address_ + ": sent a wrong block " + std::to_string(next) + " of slot " +
                                      std::to_string(slot_)});
        return;
      }
      deliver_(next, block);
      received_end_.store(next + 1);
      bytes_.fetch_add(block_size_);
      touch();
    }
  }
  if (state() != State::running) return;  // cancelled, or failed by want()
  grpc::Status status;
  {
    std::lock_guard lock(call_mutex_);
    status = stream_->Finish();
    finished_ = true;
  }
  if (!status.ok()) {
    set_failed(Error{Errc::io, address_ + ": blocks of slot " + std::to_string(slot_) + ": " + status.error_message() +
                             " (" + std::to_string(static_cast<int>(status.error_code())) + ")"});
  } else {
    set_failed(Error{Errc::io, address_ + ": ended the stream of slot " + std::to_string(slot_) + " before block " +
                             std::to_string(next)});
  }
}

}  // namespace ob::exchange
