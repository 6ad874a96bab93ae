#include "chain/transaction.h"

#include <vector>

#include "chain/rlp.h"

namespace ob::chain {
namespace {

constexpr std::uint8_t kType = 0x02;  // EIP-2718 type of EIP-1559 transactions

/// The nine unsigned fields, RLP-encoded, in order.
std::vector<Bytes> fields(const Eip1559Transaction& tx) {
  std::vector<Bytes> out;
  out.reserve(12);
  out.push_back(rlp::encode_uint(tx.chain_id));
  out.push_back(rlp::encode_uint(tx.nonce));
  out.push_back(rlp::encode_uint(tx.max_priority_fee_per_gas));
  out.push_back(rlp::encode_uint(tx.max_fee_per_gas));
  out.push_back(rlp::encode_uint(tx.gas_limit));
  out.push_back(tx.to ? rlp::encode_bytes(tx.to->bytes()) : rlp::encode_bytes({}));
  out.push_back(rlp::encode_uint(tx.value));
  out.push_back(rlp::encode_bytes(tx.data));
  out.push_back(rlp::encode_list({}));  // access list
  return out;
}

Bytes typed(const std::vector<Bytes>& items) {
  Bytes out{kType};
  const Bytes list = rlp::encode_list(items);
  out.insert(out.end(), list.begin(), list.end());
  return out;
}

/// A 32-byte signature scalar from its minimal RLP bytes.
Result<std::array<std::uint8_t, 32>> scalar(const rlp::Item& item) {
  OB_TRY(wallet::U256 value, rlp::decode_uint(item));
  return value.to_be_bytes();
}

Result<std::uint64_t> small(const rlp::Item& item, const char* what) {
  OB_TRY(wallet::U256 value, rlp::decode_uint(item));
  const auto v = value.to_u64();
  if (!v) return fail(Errc::invalid_argument, "transaction ", what, " does not fit 64 bits");
  return *v;
}

}  // namespace

wallet::Hash32 Eip1559Transaction::signing_hash() const { return wallet::keccak256(typed(fields(*this))); }

Result<SignedTransaction> Eip1559Transaction::sign(const wallet::PrivateKey& key) const {
  std::vector<Bytes> items = fields(*this);
  OB_TRY(wallet::Signature signature, key.sign(wallet::keccak256(typed(items))));
  items.push_back(rlp::encode_uint(signature.y_parity));
  // r and s are integers: minimal big-endian, like every other number.
  items.push_back(rlp::encode_uint(*wallet::U256::from_be_bytes(signature.r)));
  items.push_back(rlp::encode_uint(*wallet::U256::from_be_bytes(signature.s)));
  SignedTransaction out;
  out.raw = typed(items);
  out.hash = wallet::keccak256(out.raw);
  out.signature = signature;
  return out;
}

std::optional<wallet::U256> Eip1559Transaction::max_cost() const {
  const auto gas = max_fee_per_gas.checked_mul(gas_limit);
  if (!gas) return std::nullopt;
  return gas->checked_add(value);
}

Result<DecodedTransaction> decode_signed_transaction(ByteView raw) {
  if (raw.empty() || raw[0] != kType) return fail(Errc::invalid_argument, "not an EIP-1559 (type 2) transaction");
  OB_TRY(rlp::Item list, rlp::decode(raw.subspan(1)));
  if (!list.is_list || list.items.size() != 12) {
    return fail(Errc::invalid_argument, "an EIP-1559 transaction is a list of 12 fields");
  }
  const auto& f = list.items;
  DecodedTransaction out;
  OB_TRY(out.tx.chain_id, small(f[0], "chain ID"));
  OB_TRY(out.tx.nonce, small(f[1], "nonce"));
  OB_TRY(out.tx.max_priority_fee_per_gas, rlp::decode_uint(f[2]));
  OB_TRY(out.tx.max_fee_per_gas, rlp::decode_uint(f[3]));
  OB_TRY(out.tx.gas_limit, small(f[4], "gas limit"));
  if (f[5].is_list || (f[5].bytes.size() != 0 && f[5].bytes.size() != 20)) {
    return fail(Errc::invalid_argument, "transaction 'to' is not an address");
  }
  if (f[5].bytes.size() == 20) {
    wallet::Address::Bytes20 to{};
    std::copy(f[5].bytes.begin(), f[5].bytes.end(), to.begin());
    out.tx.to = wallet::Address(to);
  }
  OB_TRY(out.tx.value, rlp::decode_uint(f[6]));
  if (f[7].is_list) return fail(Errc::invalid_argument, "transaction data is not a byte string");
  out.tx.data = f[7].bytes;
  if (!f[8].is_list || !f[8].items.empty()) return fail(Errc::invalid_argument, "transaction access lists are not supported");
  OB_TRY(std::uint64_t parity, small(f[9], "y parity"));
  if (parity > 1) return fail(Errc::invalid_argument, "transaction y parity is not 0 or 1");
  out.signature.y_parity = static_cast<std::uint8_t>(parity);
  OB_TRY(out.signature.r, scalar(f[10]));
  OB_TRY(out.signature.s, scalar(f[11]));
  OB_TRY(out.from, wallet::recover_signer(out.tx.signing_hash(), out.signature));
  out.hash = wallet::keccak256(raw);
  return out;
}

}  // namespace ob::chain
