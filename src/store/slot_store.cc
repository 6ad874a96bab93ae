#include "store/slot_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

namespace ob {
namespace {

constexpr std::array<std::uint8_t, 8> kIndexMagic = {'O', 'B', 'S', 'L', 'O', 'T', '0', '1'};
constexpr std::size_t kIndexHeaderSize = 24;
constexpr std::size_t kIndexFlushBytes = 64 * 1024;
constexpr std::string_view kStagingPrefix = ".staging-";
constexpr std::string_view kTrashPrefix = ".trash-";

std::string blocks_name(std::uint32_t i) { return std::to_string(i) + ".blocks"; }
std::string index_name(std::uint32_t i) { return std::to_string(i) + ".index"; }

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

// --- SlotSetWriter ----------------------------------------------------------------------------

SlotSetWriter::SlotSetWriter(SlotSetWriter&& other) noexcept
    : root_(std::move(other.root_)),
      staging_(std::move(other.staging_)),
      block_size_(other.block_size_),
      slots_(std::move(other.slots_)),
      committed_(std::exchange(other.committed_, true)) {}

SlotSetWriter::~SlotSetWriter() {
  if (!committed_ && !staging_.empty()) {
    slots_.clear();  // close descriptors before removing
    std::error_code ignored;
    std::filesystem::remove_all(staging_, ignored);
  }
}

Result<void> SlotSetWriter::flush_index(std::uint32_t slot) {
  Slot& s = slots_[slot];
  OB_TRY_VOID(fileio::write_all(s.index.get(), s.index_buffer, staging_ / index_name(slot)));
  s.index_buffer.clear();
  return {};
}

Result<void> SlotSetWriter::append(std::uint32_t slot, ByteView block, const merkle::Hash& root) {
  if (slot >= slots_.size() || block.size() != block_size_) {
    return fail(Errc::invalid_argument, "slot ", slot, " / block of ", block.size(), " bytes does not fit this file");
  }
  Slot& s = slots_[slot];
  OB_TRY_VOID(fileio::write_all(s.blocks.get(), block, staging_ / blocks_name(slot)));
  s.index_buffer.insert(s.index_buffer.end(), root.begin(), root.end());
  ++s.count;
  if (s.index_buffer.size() >= kIndexFlushBytes) OB_TRY_VOID(flush_index(slot));
  return {};
}

Result<void> SlotSetWriter::commit(const Cid& file_cid) {
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    OB_TRY_VOID(flush_index(i));
    std::array<std::uint8_t, kIndexHeaderSize> header{};
    std::memcpy(header.data(), kIndexMagic.data(), kIndexMagic.size());
    put_u32(header.data() + 8, i);
    put_u32(header.data() + 12, block_size_);
    put_u64(header.data() + 16, s.count);
    const std::filesystem::path index_path = staging_ / index_name(i);
    if (::pwrite(s.index.get(), header.data(), header.size(), 0) != static_cast<ssize_t>(header.size())) {
      return std::unexpected(fileio::errno_error("cannot write", index_path, errno));
    }
    OB_TRY_VOID(fileio::sync_fd(s.blocks.get(), staging_ / blocks_name(i)));
    OB_TRY_VOID(fileio::sync_fd(s.index.get(), index_path));
  }
  slots_.clear();
  OB_TRY_VOID(fileio::sync_dir(staging_));
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

// --- SlotStore --------------------------------------------------------------------------------

Result<SlotStore> SlotStore::open(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Errc::io, "cannot create ", dir.string(), ": ", ec.message());
  // Staging and trash are leftovers of an interrupted put or rm: neither is a stored file.
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(kStagingPrefix) || name.starts_with(kTrashPrefix)) {
      std::filesystem::remove_all(entry.path(), ec);
    }
  }
  return SlotStore(dir);
}

Result<SlotSetWriter> SlotStore::begin(std::uint32_t n, std::uint32_t block_size) {
  const std::filesystem::path staging = dir_ / (std::string(kStagingPrefix) + fileio::random_suffix());
  if (::mkdir(staging.c_str(), 0755) != 0) {
    return std::unexpected(fileio::errno_error("cannot create", staging, errno));
  }
  SlotSetWriter writer(dir_, staging, block_size);
  writer.slots_.resize(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    SlotSetWriter::Slot& s = writer.slots_[i];
    OB_TRY(s.blocks, fileio::open_fd(staging / blocks_name(i), O_WRONLY | O_CREAT | O_EXCL));
    OB_TRY(s.index, fileio::open_fd(staging / index_name(i), O_WRONLY | O_CREAT | O_EXCL));
    // Room for the header, written at commit when the count is known.
    if (::lseek(s.index.get(), kIndexHeaderSize, SEEK_SET) < 0) {
      return std::unexpected(fileio::errno_error("cannot seek", staging / index_name(i), errno));
    }
    s.index_buffer.reserve(kIndexFlushBytes + sizeof(merkle::Hash));
  }
  return writer;
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
