// Fuzz target: multibase decoding (prefixed text, and bare base32 / base58btc bodies) of
// arbitrary input, and encoding of arbitrary bytes.
//
// Beyond "no crash, no sanitizer report", it checks:
//   - failures are invalid_argument with a message (multibase.h's contract);
//   - what decodes is canonical: encoding the bytes again in the same base gives back exactly
//     the text (base32 refuses padding, upper case and non-zero trailing bits; base58btc's
//     leading '1's are leading zero bytes), so one byte string has one text per base;
//   - any bytes encode in both bases and decode back to themselves.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/multibase.h"
#include "fuzz_check.h"

namespace {

using ob::Bytes;
using ob::ByteView;
namespace multibase = ob::multibase;

void check_failure(const ob::Result<Bytes>& r) {
  OB_FUZZ_CHECK(r.error().code == ob::Errc::invalid_argument);
  OB_FUZZ_CHECK(!r.error().message.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView in(data, size);
  const std::string_view text = ob::as_chars(in);

  if (auto bytes = multibase::decode(text)) {
    OB_FUZZ_CHECK(multibase::encode(static_cast<multibase::Base>(text.front()), *bytes) == text);
  } else {
    check_failure(bytes);
  }
  if (auto bytes = multibase::decode_base32(text)) {
    OB_FUZZ_CHECK(multibase::encode_base32(*bytes) == text);
  } else {
    check_failure(bytes);
  }
  if (auto bytes = multibase::decode_base58btc(text)) {
    OB_FUZZ_CHECK(multibase::encode_base58btc(*bytes) == text);
  } else {
    check_failure(bytes);
  }

  const Bytes original(in.begin(), in.end());
  for (multibase::Base base : {multibase::Base::base32, multibase::Base::base58btc}) {
    auto decoded = multibase::decode(multibase::encode(base, in));
    OB_FUZZ_CHECK(decoded.has_value());
    OB_FUZZ_CHECK(*decoded == original);
  }
  return 0;
}
