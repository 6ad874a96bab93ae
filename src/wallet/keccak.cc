#include "wallet/keccak.h"

#include <cryptopp/keccak.h>

namespace ob::wallet {

Hash32 keccak256(ByteView data) { return keccak256(data, {}); }

Hash32 keccak256(ByteView a, ByteView b) {
  CryptoPP::Keccak_256 hash;
  hash.Update(a.data(), a.size());
  hash.Update(b.data(), b.size());
  Hash32 out;
  hash.Final(out.data());
  return out;
}

}  // namespace ob::wallet
