// The input format of the service targets (rest_fuzz, tracker_fuzz, exchange_fuzz): a sequence
// of frames, each one call of the service:
//
//   frame := op (1 byte) ‖ arg (1 byte) ‖ length (2 bytes, little-endian) ‖ payload (length bytes)
//
// `op` picks the call (taken modulo the target's number of calls), `arg` is a small parameter
// of the target's choosing (a caller, a clock step, an outcome), the payload is the request (a
// serialized protobuf message, or a JSON body). A frame cut short by the end of the input gets
// what is left as its payload. make_seeds writes seed corpora in this format (write_frame).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ob::fuzz {

/// One call of a service target.
struct Frame {
  std::uint8_t op = 0;
  std::uint8_t arg = 0;
  std::string_view payload;
};

/// Reads frames from a fuzzer's input; the views point into it.
class FrameReader {
 public:
  FrameReader(const std::uint8_t* data, std::size_t size)
      : data_(reinterpret_cast<const char*>(data)), size_(size) {}

  /// The next frame; false at the end of the input (fewer than 4 bytes left).
  bool next(Frame& frame) {
    if (size_ - offset_ < 4) return false;
    frame.op = static_cast<std::uint8_t>(data_[offset_]);
    frame.arg = static_cast<std::uint8_t>(data_[offset_ + 1]);
    const std::size_t length = static_cast<std::uint8_t>(data_[offset_ + 2]) |
                               (std::size_t{static_cast<std::uint8_t>(data_[offset_ + 3])} << 8);
    offset_ += 4;
    const std::size_t take = length < size_ - offset_ ? length : size_ - offset_;
    frame.payload = std::string_view(data_ + offset_, take);
    offset_ += take;
    return true;
  }

 private:
  const char* data_;
  std::size_t size_;
  std::size_t offset_ = 0;
};

/// Appends one frame to `out` (payloads over 65535 bytes are cut there).
inline void write_frame(std::string& out, std::uint8_t op, std::uint8_t arg, std::string_view payload) {
  const std::size_t length = payload.size() < 0xffff ? payload.size() : 0xffff;
  out.push_back(static_cast<char>(op));
  out.push_back(static_cast<char>(arg));
  out.push_back(static_cast<char>(length & 0xff));
  out.push_back(static_cast<char>(length >> 8));
  out.append(payload.substr(0, length));
}

}  // namespace ob::fuzz
