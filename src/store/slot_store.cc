#include "store/slot_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "core/protocol.h"

namespace ob {
namespace {

constexpr std::array<std::uint8_t, 8> kIndexMagic = {'O', 'B', 'S', 'L', 'O', 'T', '0', '1'};
constexpr std::size_t kIndexHeaderSize = 24;
constexpr std::size_t kIndexFlushBytes = 64 * 1024;
constexpr std::string_view kStagingPrefix = ".staging-";
constexpr std::string_view kTrashPrefix = ".trash-";

constexpr std::string_view kBlocksExt = ".blocks";
constexpr std::string_view kIndexExt = ".index";

std::string blocks_name(std::uint32_t i) { return std::to_string(i) + std::string(kBlocksExt); }
std::string index_name(std::uint32_t i) { return std::to_string(i) + std::string(kIndexExt); }

// "<i>.blocks" or "<i>.index" with i in canonical decimal (no sign, no leading zero) below 255:
// the slot index and the extension. Anything else is not a slot file.
std::optional<std::pair<std::uint32_t, std::string_view>> parse_slot_file(std::string_view name) {
  std::string_view ext;
  if (name.ends_with(kBlocksExt)) {
    ext = kBlocksExt;
  } else if (name.ends_with(kIndexExt)) {
    ext = kIndexExt;
  } else {
    return std::nullopt;
  }
  const std::string_view number = name.substr(0, name.size() - ext.size());
  if (number.empty() || number.size() > 3 || (number.size() > 1 && number[0] == '0')) return std::nullopt;
  std::uint32_t value = 0;
  const auto [end, err] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (err != std::errc() || end != number.data() + number.size() || value >= protocol::kMaxSlots) {
    return std::nullopt;
  }
  return std::pair{value, ext};
}

// Removes the orphan .blocks files of one file directory (a crash between the two renames of a
// slot commit), then the directory if nothing is left in it. Returns whether the directory was
// removed. Errors (io).
Result<bool> remove_orphans(const std::filesystem::path& file_dir) {
  std::error_code ec;
  std::error_code ignored;
  std::vector<std::filesystem::path> orphans;
  bool empty = true;
  for (const auto& entry : std::filesystem::directory_iterator(file_dir, ec)) {
    const std::string name = entry.path().filename().string();
    auto parsed = parse_slot_file(name);
    if (parsed && parsed->second == kBlocksExt &&
        !std::filesystem::exists(file_dir / index_name(parsed->first), ignored)) {
      orphans.push_back(entry.path());
    } else {
      empty = false;
    }
  }
  if (ec) return fail(Errc::io, "cannot list ", file_dir.string(), ": ", ec.message());
  for (const auto& orphan : orphans) {
    if (::unlink(orphan.c_str()) != 0 && errno != ENOENT) {
      return std::unexpected(fileio::errno_error("cannot remove", orphan, errno));
    }
  }
  if (!orphans.empty()) OB_TRY_VOID(fileio::sync_dir(file_dir));
  if (empty && ::rmdir(file_dir.c_str()) == 0) return true;
  return false;
}

void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int b = 0; b < 4; ++b) p[b] = static_cast<std::uint8_t>(v >> (8 * b));
}
void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int b = 0; b < 8; ++b) p[b] = static_cast<std::uint8_t>(v >> (8 * b));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int b = 0; b < 4; ++b) v |= std::uint32_t{p[b]} << (8 * b);
  return v;
}
std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int b = 0; b < 8; ++b) v |= std::uint64_t{p[b]} << (8 * b);
  return v;
}

std::uint64_t file_size_or_zero(const std::filesystem::path& p) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(p, ec);
  return ec ? 0 : size;
}

}  // namespace

// --- SlotReader -------------------------------------------------------------------------------

Result<void> SlotReader::read_block(std::uint64_t j, MutableByteView out) const {
  if (j >= block_count_ || out.size() != block_size_) {
    return fail(Errc::invalid_argument, "block ", j, " of slot ", slot_index_, " out of range");
  }
  return fileio::pread_exact(blocks_.get(), out, j * block_size_, blocks_path_);
}

Result<void> SlotReader::verify_index(const merkle::Hash& expected_root) const {
  merkle::RootBuilder builder;
  std::vector<merkle::Hash> chunk(kIndexFlushBytes / sizeof(merkle::Hash));
  for (std::uint64_t j = 0; j < block_count_; j += chunk.size()) {
    const std::size_t count = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), block_count_ - j));
    MutableByteView bytes(reinterpret_cast<std::uint8_t*>(chunk.data()), count * sizeof(merkle::Hash));
    OB_TRY_VOID(fileio::pread_exact(index_.get(), bytes, kIndexHeaderSize + j * sizeof(merkle::Hash),
                                    index_path_));
    for (std::size_t e = 0; e < count; ++e) builder.add(chunk[e]);
  }
  auto root = builder.root();
  if (!root || *root != expected_root) {
    return fail(Errc::corrupt, "slot ", slot_index_, " index does not match the manifest's slot root");
  }
  return {};
}

Result<merkle::Hash> SlotReader::root_at(std::uint64_t j) const {
  if (j >= block_count_) return fail(Errc::invalid_argument, "block ", j, " of slot ", slot_index_, " out of range");
  if (window_.empty() || j < window_start_ || j >= window_start_ + window_.size()) {
    const std::uint64_t count = std::min<std::uint64_t>(kIndexFlushBytes / sizeof(merkle::Hash), block_count_ - j);
    window_.resize(static_cast<std::size_t>(count));
    MutableByteView bytes(reinterpret_cast<std::uint8_t*>(window_.data()), window_.size() * sizeof(merkle::Hash));
    if (auto ok = fileio::pread_exact(index_.get(), bytes, kIndexHeaderSize + j * sizeof(merkle::Hash), index_path_);
        !ok) {
      window_.clear();
      return std::unexpected(ok.error());
    }
    window_start_ = j;
  }
  return window_[static_cast<std::size_t>(j - window_start_)];
}

Result<merkle::Proof> SlotReader::prove(std::uint64_t j) const {
  if (j >= block_count_) return fail(Errc::invalid_argument, "block ", j, " of slot ", slot_index_, " out of range");
  merkle::Proof proof{j, block_count_, {}};
  // Level h of the tree has ceil(n / 2^h) nodes; node q covers leaves [q * 2^h, (q + 1) * 2^h)
  // clipped to n, and its hash is the root of those leaves under the same rules (the range
  // starts on a multiple of 2^h, so pairing and promotion inside it match the whole tree's).
  std::uint64_t position = j;
  std::uint64_t size = block_count_;
  for (unsigned height = 0; size > 1; ++height) {
    std::optional<std::uint64_t> sibling;
    if ((position & 1) != 0) {
      sibling = position - 1;
    } else if (position + 1 < size) {
      sibling = position + 1;
    }
    if (sibling) {
      const std::uint64_t first = *sibling << height;
      const std::uint64_t width = std::uint64_t{1} << height;
      const std::uint64_t end = first + std::min(width, block_count_ - first);
      merkle::RootBuilder subtree;
      for (std::uint64_t x = first; x < end; ++x) {
        OB_TRY(merkle::Hash leaf, root_at(x));
        subtree.add(leaf);
      }
      OB_TRY(merkle::Hash hash, subtree.root());
      proof.siblings.push_back(hash);
    }
    position >>= 1;
    size = size / 2 + (size & 1);
  }
  return proof;
}

// --- SlotSetWriter ----------------------------------------------------------------------------

SlotSetWriter::SlotSetWriter(SlotSetWriter&& other) noexcept
    : root_(std::move(other.root_)),
      staging_(std::move(other.staging_)),
      block_size_(other.block_size_),
      whole_file_(other.whole_file_),
      slots_(std::move(other.slots_)),
      committed_(std::exchange(other.committed_, true)) {}

SlotSetWriter::~SlotSetWriter() {
  if (!committed_ && !staging_.empty()) {
    slots_.clear();  // close descriptors before removing
    std::error_code ignored;
    std::filesystem::remove_all(staging_, ignored);
  }
}

std::vector<std::uint32_t> SlotSetWriter::slots() const {
  std::vector<std::uint32_t> out;
  out.reserve(slots_.size());
  for (const Slot& s : slots_) out.push_back(s.index);
  return out;
}

Result<void> SlotSetWriter::open_slots(std::span<const std::uint32_t> indices) {
  slots_.resize(indices.size());
  for (std::size_t p = 0; p < indices.size(); ++p) {
    Slot& s = slots_[p];
    s.index = indices[p];
    OB_TRY(s.blocks, fileio::open_fd(staging_ / blocks_name(s.index), O_WRONLY | O_CREAT | O_EXCL));
    OB_TRY(s.index_file, fileio::open_fd(staging_ / index_name(s.index), O_WRONLY | O_CREAT | O_EXCL));
    // Room for the header, written at commit when the count is known.
    if (::lseek(s.index_file.get(), kIndexHeaderSize, SEEK_SET) < 0) {
      return std::unexpected(fileio::errno_error("cannot seek", staging_ / index_name(s.index), errno));
    }
    s.index_buffer.reserve(kIndexFlushBytes + sizeof(merkle::Hash));
  }
  return {};
}

SlotSetWriter::Slot* SlotSetWriter::find(std::uint32_t slot) {
  auto it = std::lower_bound(slots_.begin(), slots_.end(), slot,
                             [](const Slot& s, std::uint32_t i) { return s.index < i; });
  return it != slots_.end() && it->index == slot ? &*it : nullptr;
}

Result<void> SlotSetWriter::flush_index(Slot& s) {
  OB_TRY_VOID(fileio::write_all(s.index_file.get(), s.index_buffer, staging_ / index_name(s.index)));
  s.index_buffer.clear();
  return {};
}

Result<void> SlotSetWriter::append(std::uint32_t slot, ByteView block, const merkle::Hash& root) {
  Slot* s = find(slot);
  if (s == nullptr || block.size() != block_size_) {
    return fail(Errc::invalid_argument, "slot ", slot, " / block of ", block.size(), " bytes does not fit this writer");
  }
  OB_TRY_VOID(fileio::write_all(s->blocks.get(), block, staging_ / blocks_name(slot)));
  s->index_buffer.insert(s->index_buffer.end(), root.begin(), root.end());
  ++s->count;
  if (s->index_buffer.size() >= kIndexFlushBytes) OB_TRY_VOID(flush_index(*s));
  return {};
}

// Completes every staged slot on disk: remaining roots, the index header, fsync of each file and
// of the staging directory. Shared by both ways of publishing.
Result<void> SlotSetWriter::seal() {
  for (Slot& s : slots_) {
    OB_TRY_VOID(flush_index(s));
    std::array<std::uint8_t, kIndexHeaderSize> header{};
    std::memcpy(header.data(), kIndexMagic.data(), kIndexMagic.size());
    put_u32(header.data() + 8, s.index);
    put_u32(header.data() + 12, block_size_);
    put_u64(header.data() + 16, s.count);
    const std::filesystem::path index_path = staging_ / index_name(s.index);
    if (::pwrite(s.index_file.get(), header.data(), header.size(), 0) != static_cast<ssize_t>(header.size())) {
      return std::unexpected(fileio::errno_error("cannot write", index_path, errno));
    }
    OB_TRY_VOID(fileio::sync_fd(s.blocks.get(), staging_ / blocks_name(s.index)));
    OB_TRY_VOID(fileio::sync_fd(s.index_file.get(), index_path));
  }
  return fileio::sync_dir(staging_);
}

Result<void> SlotSetWriter::publish_file(const Cid& file_cid) {
  const std::filesystem::path target = root_ / file_cid.to_string();
  // rename(2) onto an existing non-empty directory fails with ENOTEMPTY/EEXIST: never replaces.
  if (::rename(staging_.c_str(), target.c_str()) != 0) {
    if (errno == ENOTEMPTY || errno == EEXIST) {
      return fail(Errc::already_exists, "file ", file_cid.to_string(), " is already stored");
    }
    return std::unexpected(fileio::errno_error("cannot publish slots", target, errno));
  }
  committed_ = true;
  return fileio::sync_dir(root_);
}

Result<void> SlotSetWriter::publish_slots(const Cid& file_cid) {
  const std::filesystem::path target = root_ / file_cid.to_string();
  std::error_code ec;
  for (const Slot& s : slots_) {
    if (std::filesystem::exists(target / index_name(s.index), ec)) {
      return fail(Errc::already_exists, "slot ", s.index, " of ", file_cid.to_string(), " is already stored");
    }
  }
  if (::mkdir(target.c_str(), 0700) == 0) {
    OB_TRY_VOID(fileio::sync_dir(root_));
  } else if (errno != EEXIST) {
    return std::unexpected(fileio::errno_error("cannot create", target, errno));
  }
  // Each slot appears when its .index does, and only after its .blocks is in place. An orphan
  // .blocks (a crash between the two renames) is replaced; an existing .index is never.
  std::vector<std::uint32_t> moved;
  Result<void> ok;
  for (const Slot& s : slots_) {
    const std::filesystem::path blocks_to = target / blocks_name(s.index);
    const std::filesystem::path index_to = target / index_name(s.index);
    if (::rename((staging_ / blocks_name(s.index)).c_str(), blocks_to.c_str()) != 0) {
      ok = std::unexpected(fileio::errno_error("cannot publish", blocks_to, errno));
      break;
    }
    if (::renameat2(AT_FDCWD, (staging_ / index_name(s.index)).c_str(), AT_FDCWD, index_to.c_str(),
                    RENAME_NOREPLACE) != 0) {
      const int err = errno;
      ::unlink(blocks_to.c_str());
      ok = err == EEXIST ? fail(Errc::already_exists, "slot ", s.index, " of ", file_cid.to_string(),
                                " is already stored")
                         : std::unexpected(fileio::errno_error("cannot publish", index_to, err));
      break;
    }
    moved.push_back(s.index);
  }
  if (ok) ok = fileio::sync_dir(target);
  if (!ok) {
    // Take back what this commit published, so that a failed commit stores nothing.
    for (std::uint32_t i : moved) {
      ::unlink((target / index_name(i)).c_str());
      ::unlink((target / blocks_name(i)).c_str());
    }
    (void)fileio::sync_dir(target);
    if (::rmdir(target.c_str()) == 0) (void)fileio::sync_dir(root_);
    return ok;
  }
  committed_ = true;
  ::rmdir(staging_.c_str());  // empty now; removed at the next open otherwise
  return {};
}

Result<void> SlotSetWriter::commit(const Cid& file_cid) {
  if (committed_) return fail(Errc::invalid_argument, "slots already committed");
  OB_TRY_VOID(seal());
  for (Slot& s : slots_) {  // the files are complete: close them, keep the indices
    s.blocks = fileio::Fd();
    s.index_file = fileio::Fd();
    s.index_buffer = Bytes();
  }
  return whole_file_ ? publish_file(file_cid) : publish_slots(file_cid);
}

// --- SlotStore --------------------------------------------------------------------------------

Result<SlotStore> SlotStore::open(const std::filesystem::path& dir) {
  OB_TRY_VOID(fileio::create_private_directories(dir));
  // Staging and trash are leftovers of an interrupted put or rm: neither is a stored file.
  OB_TRY_VOID(fileio::remove_leftovers(
      dir, [](std::string_view name) { return name.starts_with(kStagingPrefix) || name.starts_with(kTrashPrefix); }));
  std::error_code ec;
  bool removed_dir = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (Cid::parse(entry.path().filename().string())) {
      OB_TRY(bool emptied, remove_orphans(entry.path()));
      removed_dir = removed_dir || emptied;
    }
  }
  if (removed_dir) OB_TRY_VOID(fileio::sync_dir(dir));
  return SlotStore(dir);
}

Result<SlotSetWriter> SlotStore::start_writer(std::span<const std::uint32_t> indices, std::uint32_t block_size,
                                              bool whole_file) {
  const std::filesystem::path staging = dir_ / (std::string(kStagingPrefix) + fileio::random_suffix());
  if (::mkdir(staging.c_str(), 0700) != 0) {
    return std::unexpected(fileio::errno_error("cannot create", staging, errno));
  }
  SlotSetWriter writer(dir_, staging, block_size, whole_file);
  OB_TRY_VOID(writer.open_slots(indices));
  return writer;
}

Result<SlotSetWriter> SlotStore::begin(std::uint32_t n, std::uint32_t block_size) {
  std::vector<std::uint32_t> all(n);
  for (std::uint32_t i = 0; i < n; ++i) all[i] = i;
  return start_writer(all, block_size, /*whole_file=*/true);
}

Result<SlotSetWriter> SlotStore::begin_slots(std::span<const std::uint32_t> indices, std::uint32_t block_size) {
  std::vector<std::uint32_t> sorted(indices.begin(), indices.end());
  std::sort(sorted.begin(), sorted.end());
  if (sorted.empty()) return fail(Errc::invalid_argument, "no slot to write");
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return fail(Errc::invalid_argument, "slot ", *std::adjacent_find(sorted.begin(), sorted.end()), " named twice");
  }
  if (sorted.back() >= protocol::kMaxSlots) {
    return fail(Errc::invalid_argument, "slot ", sorted.back(), " is out of range (at most ", protocol::kMaxSlots,
                " slots)");
  }
  return start_writer(sorted, block_size, /*whole_file=*/false);
}

Result<SlotReader> SlotStore::open_slot(const Cid& file, std::uint32_t i) const {
  SlotReader reader;
  reader.blocks_path_ = file_dir(file) / blocks_name(i);
  reader.index_path_ = file_dir(file) / index_name(i);
  auto index = fileio::open_fd(reader.index_path_, O_RDONLY);
  if (!index) {
    if (index.error().code == Errc::not_found) return fail(Errc::not_found, "slot ", i, " is missing");
    return std::unexpected(index.error());
  }
  auto blocks = fileio::open_fd(reader.blocks_path_, O_RDONLY);
  if (!blocks) {
    if (blocks.error().code == Errc::not_found) return fail(Errc::not_found, "slot ", i, " is missing");
    return std::unexpected(blocks.error());
  }
  reader.index_ = std::move(*index);
  reader.blocks_ = std::move(*blocks);

  std::array<std::uint8_t, kIndexHeaderSize> header;
  if (auto ok = fileio::pread_exact(reader.index_.get(), header, 0, reader.index_path_); !ok) {
    return fail(Errc::corrupt, "slot ", i, " index header is unreadable");
  }
  if (std::memcmp(header.data(), kIndexMagic.data(), kIndexMagic.size()) != 0 ||
      get_u32(header.data() + 8) != i) {
    return fail(Errc::corrupt, "slot ", i, " index header is damaged");
  }
  reader.slot_index_ = i;
  reader.block_size_ = get_u32(header.data() + 12);
  reader.block_count_ = get_u64(header.data() + 16);
  struct stat st {};
  if (::fstat(reader.blocks_.get(), &st) != 0) {
    return std::unexpected(fileio::errno_error("cannot stat", reader.blocks_path_, errno));
  }
  if (reader.block_size_ == 0 ||
      static_cast<std::uint64_t>(st.st_size) / reader.block_size_ != reader.block_count_ ||
      static_cast<std::uint64_t>(st.st_size) % reader.block_size_ != 0) {
    return fail(Errc::corrupt, "slot ", i, " holds ", st.st_size, " bytes, not ",
                reader.block_count_, " blocks of ", reader.block_size_);
  }
  return reader;
}

bool SlotStore::has_file(const Cid& file) const {
  std::error_code ec;
  return std::filesystem::is_directory(file_dir(file), ec);
}

std::vector<Cid> SlotStore::list() const {
  std::vector<Cid> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (auto cid = Cid::parse(entry.path().filename().string())) out.push_back(std::move(*cid));
  }
  return out;
}

Result<bool> SlotStore::remove(const Cid& file) {
  const std::filesystem::path trash = dir_ / (std::string(kTrashPrefix) + fileio::random_suffix());
  if (::rename(file_dir(file).c_str(), trash.c_str()) != 0) {
    if (errno == ENOENT) return false;
    return std::unexpected(fileio::errno_error("cannot remove", file_dir(file), errno));
  }
  OB_TRY_VOID(fileio::sync_dir(dir_));
  std::error_code ec;
  std::filesystem::remove_all(trash, ec);  // leftovers are removed at the next open
  return true;
}

std::uint64_t SlotStore::file_bytes(const Cid& file) const {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(file_dir(file), ec)) {
    if (entry.path().extension() == ".blocks") total += file_size_or_zero(entry.path());
  }
  return total;
}

std::vector<std::uint32_t> SlotStore::slots_of(const Cid& file) const {
  std::vector<std::uint32_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(file_dir(file), ec)) {
    const std::string name = entry.path().filename().string();
    if (auto parsed = parse_slot_file(name); parsed && parsed->second == kIndexExt) out.push_back(parsed->first);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::uint64_t SlotStore::slot_bytes(const Cid& file, std::uint32_t i) const {
  std::error_code ec;
  if (!std::filesystem::exists(file_dir(file) / index_name(i), ec)) return 0;
  return file_size_or_zero(file_dir(file) / blocks_name(i));
}

Result<bool> SlotStore::remove_slot(const Cid& file, std::uint32_t i) {
  const std::filesystem::path dir = file_dir(file);
  const std::filesystem::path index = dir / index_name(i);
  const std::filesystem::path blocks = dir / blocks_name(i);
  bool present = true;
  if (::unlink(index.c_str()) != 0) {
    if (errno != ENOENT) return std::unexpected(fileio::errno_error("cannot remove", index, errno));
    present = false;
  }
  bool removed_blocks = true;
  if (::unlink(blocks.c_str()) != 0) {  // an orphan, if the slot was not present
    if (errno != ENOENT) return std::unexpected(fileio::errno_error("cannot remove", blocks, errno));
    removed_blocks = false;
  }
  if (!present && !removed_blocks) return false;
  OB_TRY_VOID(fileio::sync_dir(dir));
  if (::rmdir(dir.c_str()) == 0) {
    OB_TRY_VOID(fileio::sync_dir(dir_));
  } else if (errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT) {
    return std::unexpected(fileio::errno_error("cannot remove", dir, errno));
  }
  return present;
}

Result<void> SlotStore::damage(const Cid& file, std::uint32_t i, bool corrupt) {
  const std::filesystem::path blocks = file_dir(file) / blocks_name(i);
  const std::filesystem::path index = file_dir(file) / index_name(i);
  std::error_code ec;
  if (!std::filesystem::exists(blocks, ec) && !std::filesystem::exists(index, ec)) {
    return fail(Errc::not_found, "slot ", i, " of ", file.to_string(), " is not stored here");
  }
  if (!corrupt) {
    std::filesystem::remove(blocks, ec);
    std::filesystem::remove(index, ec);
    return fileio::sync_dir(file_dir(file));
  }
  OB_TRY(fileio::Fd fd, fileio::open_fd(blocks, O_RDWR));
  const std::uint64_t size = file_size_or_zero(blocks);
  if (size == 0) return fail(Errc::not_found, "slot ", i, " has no blocks to corrupt");
  const std::uint64_t offset = size / 2;
  std::array<std::uint8_t, 1> byte{};
  OB_TRY_VOID(fileio::pread_exact(fd.get(), byte, offset, blocks));
  byte[0] ^= 0x01;
  if (::pwrite(fd.get(), byte.data(), 1, static_cast<off_t>(offset)) != 1) {
    return std::unexpected(fileio::errno_error("cannot write", blocks, errno));
  }
  return fileio::sync_fd(fd.get(), blocks);
}

}  // namespace ob
