#include "store/block_store.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstring>

#include "coding/block.h"

namespace ob {
namespace {

constexpr char kBlockPrefix = 'b';
const std::string kUsedKey = "qused";

std::string block_key(const Cid& cid) {
  const Bytes bytes = cid.to_bytes();
  std::string key(1, kBlockPrefix);
  key.append(as_chars(bytes));
  return key;
}

rocksdb::Slice slice(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::string encode_u64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
  return out;
}

std::uint64_t decode_u64(const std::string& s) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < s.size(); ++i) {
    v |= std::uint64_t{static_cast<unsigned char>(s[i])} << (8 * i);
  }
  return v;
}

Error rocks_error(std::string_view what, const rocksdb::Status& s) {
  return Error{Errc::io, std::string(what) + ": " + s.ToString()};
}

}  // namespace

BlockStore::BlockStore(std::unique_ptr<rocksdb::DB> db, Options options, std::uint64_t used)
    : db_(std::move(db)), options_(options), used_(used) {}

BlockStore::~BlockStore() = default;

Result<std::unique_ptr<BlockStore>> BlockStore::open(const std::filesystem::path& dir,
                                                     Options options) {
  rocksdb::Options rocks;
  rocks.create_if_missing = true;
  rocks.paranoid_checks = true;
  // Blocks are already compressed-looking ciphertext; compressing them only costs CPU.
  rocks.compression = rocksdb::kNoCompression;
  rocks.max_open_files = 256;
  rocks.keep_log_file_num = 4;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(rocks, dir.string(), &raw);
  if (!s.ok()) return std::unexpected(rocks_error("cannot open block store " + dir.string(), s));
  std::unique_ptr<rocksdb::DB> db(raw);

  std::string used;
  const rocksdb::Status g = db->Get(rocksdb::ReadOptions(), kUsedKey, &used);
  if (!g.ok() && !g.IsNotFound()) return std::unexpected(rocks_error("cannot read block store usage", g));
  return std::unique_ptr<BlockStore>(new BlockStore(std::move(db), options, decode_u64(used)));
}

Result<void> BlockStore::put(const Cid& cid, ByteView data) {
  OB_TRY_VOID(check_block(cid, data));
  const std::string key = block_key(cid);
  std::lock_guard lock(mutex_);
  std::string existing;
  if (db_->Get(rocksdb::ReadOptions(), key, &existing).ok()) return {};
  if (options_.quota_bytes != 0 && used_ + data.size() > options_.quota_bytes) {
    return fail(Errc::quota_exceeded, "block store quota of ", options_.quota_bytes,
                " bytes would be exceeded (", used_, " used, block of ", data.size(), ")");
  }
  rocksdb::WriteBatch batch;
  batch.Put(key, slice(data));
  batch.Put(kUsedKey, encode_u64(used_ + data.size()));
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  const rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) return std::unexpected(rocks_error("cannot store block " + cid.to_string(), s));
  used_ += data.size();
  return {};
}

Result<Bytes> BlockStore::get(const Cid& cid) const {
  rocksdb::PinnableSlice value;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), block_key(cid), &value);
  if (s.IsNotFound()) return fail(Errc::not_found, "block ", cid.to_string(), " is not stored here");
  if (!s.ok()) return std::unexpected(rocks_error("cannot read block " + cid.to_string(), s));
  const auto* p = reinterpret_cast<const std::uint8_t*>(value.data());
  return Bytes(p, p + value.size());
}

Result<bool> BlockStore::has(const Cid& cid) const {
  std::string ignored;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), block_key(cid), &ignored);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return std::unexpected(rocks_error("cannot look up block " + cid.to_string(), s));
  return true;
}

Result<bool> BlockStore::remove(const Cid& cid) {
  const std::string key = block_key(cid);
  std::lock_guard lock(mutex_);
  std::string existing;
  const rocksdb::Status g = db_->Get(rocksdb::ReadOptions(), key, &existing);
  if (g.IsNotFound()) return false;
  if (!g.ok()) return std::unexpected(rocks_error("cannot look up block " + cid.to_string(), g));
  const std::uint64_t used = used_ >= existing.size() ? used_ - existing.size() : 0;
  rocksdb::WriteBatch batch;
  batch.Delete(key);
  batch.Put(kUsedKey, encode_u64(used));
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  const rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) return std::unexpected(rocks_error("cannot remove block " + cid.to_string(), s));
  used_ = used;
  return true;
}

Result<std::vector<Cid>> BlockStore::list(std::optional<std::uint64_t> codec) const {
  std::vector<Cid> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(std::string(1, kBlockPrefix)); it->Valid() && it->key().starts_with(std::string(1, kBlockPrefix));
       it->Next()) {
    const rocksdb::Slice key = it->key();
    auto cid = Cid::from_bytes(ByteView(reinterpret_cast<const std::uint8_t*>(key.data()) + 1, key.size() - 1));
    if (!cid) return fail(Errc::corrupt, "block store holds an unreadable key: ", cid.error().message);
    if (!codec || cid->codec() == *codec) out.push_back(std::move(*cid));
  }
  if (!it->status().ok()) return std::unexpected(rocks_error("cannot list blocks", it->status()));
  return out;
}

std::uint64_t BlockStore::used_bytes() const {
  std::lock_guard lock(mutex_);
  return used_;
}

}  // namespace ob
