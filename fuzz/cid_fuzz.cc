// Fuzz target: Cid::from_bytes and Cid::parse (and the varints and multihashes inside them) on
// arbitrary input. CIDs arrive from peers, the tracker and the command line.
//
// Beyond "no crash, no sanitizer report", it checks:
//   - failures are invalid_argument with a message (cid.h's contract);
//   - what from_bytes accepts is canonical: to_bytes() gives back exactly the input;
//   - what parse accepts is canonical text: to_string() in the input's base gives back exactly
//     the input (v0: the "Qm..." text), so one CID has one spelling;
//   - every accepted CID survives to_bytes/from_bytes and to_string/parse in both bases, and the
//     copies compare and hash equal;
//   - a varint that decodes re-encodes to the bytes it took.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/cid.h"
#include "core/varint.h"
#include "fuzz_check.h"

namespace {

using ob::Bytes;
using ob::ByteView;
using ob::Cid;
using ob::multibase::Base;

template <typename T>
void check_failure(const ob::Result<T>& r) {
  OB_FUZZ_CHECK(r.error().code == ob::Errc::invalid_argument);
  OB_FUZZ_CHECK(!r.error().message.empty());
}

void check_round_trips(const Cid& cid) {
  OB_FUZZ_CHECK(cid.version() == 0 || cid.version() == 1);

  const Bytes bytes = cid.to_bytes();
  auto from_bytes = Cid::from_bytes(bytes);
  OB_FUZZ_CHECK(from_bytes.has_value());
  OB_FUZZ_CHECK(*from_bytes == cid);
  OB_FUZZ_CHECK((*from_bytes <=> cid) == 0);
  OB_FUZZ_CHECK(std::hash<Cid>{}(*from_bytes) == std::hash<Cid>{}(cid));

  for (Base base : {Base::base32, Base::base58btc}) {
    auto parsed = Cid::parse(cid.to_string(base));
    OB_FUZZ_CHECK(parsed.has_value());
    OB_FUZZ_CHECK(*parsed == cid);
  }
  auto parsed = Cid::parse(cid.to_string());
  OB_FUZZ_CHECK(parsed.has_value());
  OB_FUZZ_CHECK(*parsed == cid);

  auto hash = ob::Multihash::parse(cid.hash().encode());
  OB_FUZZ_CHECK(hash.has_value());
  OB_FUZZ_CHECK(*hash == cid.hash());
}

void check_varint(ByteView in) {
  auto decoded = ob::varint::decode(in);
  if (!decoded) {
    check_failure(decoded);
    return;
  }
  OB_FUZZ_CHECK(decoded->size >= 1 && decoded->size <= ob::varint::kMaxBytes);
  OB_FUZZ_CHECK(ob::varint::encoded_size(decoded->value) == decoded->size);
  Bytes out;
  ob::varint::append(out, decoded->value);
  OB_FUZZ_CHECK(out == Bytes(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(decoded->size)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView in(data, size);
  check_varint(in);

  if (auto cid = Cid::from_bytes(in)) {
    OB_FUZZ_CHECK(cid->to_bytes() == Bytes(in.begin(), in.end()));
    check_round_trips(*cid);
  } else {
    check_failure(cid);
  }

  const std::string_view text = ob::as_chars(in);
  if (auto cid = Cid::parse(text)) {
    const std::string canonical =
        cid->version() == 0 ? cid->to_string() : cid->to_string(static_cast<Base>(text.front()));
    OB_FUZZ_CHECK(canonical == text);
    check_round_trips(*cid);
  } else {
    check_failure(cid);
  }
  return 0;
}
