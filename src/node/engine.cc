#include "node/engine.h"

#include <algorithm>
#include <cstring>

#include "coding/block.h"
#include "coding/stripe.h"

namespace ob {

std::size_t VerifyReport::intact_slots() const {
  return static_cast<std::size_t>(std::ranges::count_if(
      slots, [](const SlotHealth& s) { return s.state == SlotHealth::State::intact; }));
}

Engine::Engine(const Home& home, std::unique_ptr<BlockStore> blocks, SlotStore slots)
    : home_(home), blocks_(std::move(blocks)), slots_(std::move(slots)) {}

Result<std::unique_ptr<Engine>> Engine::open(const Home& home) {
  OB_TRY(std::unique_ptr<BlockStore> blocks,
         BlockStore::open(home.blocks_dir(), {home.config().quota_bytes, home.config().sync}));
  OB_TRY(SlotStore slots, SlotStore::open(home.slots_dir()));
  // Slots whose manifest never made it (a crash between the two steps of store) or whose
  // manifest was removed (a crash inside remove) belong to no file: reclaim them.
  for (const Cid& file : slots.list()) {
    OB_TRY(bool has_manifest, blocks->has(file));
    if (!has_manifest) OB_TRY_VOID(slots.remove(file));
  }
  return std::unique_ptr<Engine>(new Engine(home, std::move(blocks), std::move(slots)));
}

struct FileWriter::State {
  Engine& engine;
  FileMetadata metadata;
  CodingParams params;
  crypto::Key file_key;
  KeyWrap wrap;
  StripeEncoder encoder;
  SlotSetWriter slots;
  std::vector<merkle::RootBuilder> slot_trees;
  std::uint64_t stripe = 0;  // index of the stripe being filled
  std::size_t filled = 0;    // plaintext bytes in it so far
  bool failed = false;
};

FileWriter::FileWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}
FileWriter::FileWriter(FileWriter&&) noexcept = default;
FileWriter::~FileWriter() = default;

MutableByteView FileWriter::writable() noexcept {
  const std::size_t chunk = state_->params.chunk_size();
  const std::size_t d = state_->filled / chunk;
  return state_->encoder.plaintext(d).subspan(state_->filled % chunk);
}

Result<void> FileWriter::commit(std::size_t n) {
  if (state_->failed) return fail(Errc::invalid_argument, "this upload already failed");
  if (n > writable().size()) return fail(Errc::internal, "committed more bytes than were writable");
  state_->filled += n;
  total_ += n;
  if (state_->filled == state_->params.stripe_plaintext_size()) return encode_stripe();
  return {};
}

Result<void> FileWriter::write(ByteView data) {
  while (!data.empty()) {
    const MutableByteView space = writable();
    const std::size_t n = std::min(space.size(), data.size());
    std::memcpy(space.data(), data.data(), n);
    OB_TRY_VOID(commit(n));
    data = data.subspan(n);
  }
  return {};
}

Result<void> FileWriter::encode_stripe() {
  State& st = *state_;
  // The tail of the last stripe is zeros: encrypted like data, cut off by original_size.
  const std::size_t chunk = st.params.chunk_size();
  for (std::size_t pos = st.filled; pos < st.params.stripe_plaintext_size();) {
    const MutableByteView rest = st.encoder.plaintext(pos / chunk).subspan(pos % chunk);
    std::memset(rest.data(), 0, rest.size());
    pos += rest.size();
  }
  auto done = [&]() -> Result<void> {
    OB_TRY_VOID(st.encoder.encode(st.stripe));
    for (std::uint32_t i = 0; i < st.params.n(); ++i) {
      OB_TRY_VOID(st.slots.append(i, st.encoder.block(i), st.encoder.root(i)));
      st.slot_trees[i].add(st.encoder.root(i));
    }
    return {};
  }();
  if (!done) {
    st.failed = true;
    return done;
  }
  ++st.stripe;
  st.filled = 0;
  return {};
}

Result<Cid> FileWriter::finish() {
  State& st = *state_;
  if (st.failed) return fail(Errc::invalid_argument, "this upload already failed");
  // A partial stripe, or the single all-padding stripe of an empty file.
  if (st.filled > 0 || st.stripe == 0) OB_TRY_VOID(encode_stripe());

  Manifest manifest;
  manifest.original_size = total_;
  manifest.params = st.params;
  manifest.key = std::move(st.wrap);
  for (const merkle::RootBuilder& tree : st.slot_trees) {
    OB_TRY(merkle::Hash root, tree.root());
    manifest.slot_roots.push_back(root);
  }
  OB_TRY(manifest.encrypted_metadata, seal_metadata(st.file_key, st.metadata));
  const Bytes encoded = manifest.encode();
  const Cid cid = Manifest::cid_of(encoded);
  st.failed = true;  // whatever happens next, this writer is spent
  OB_TRY_VOID(st.slots.commit(cid));
  if (auto ok = st.engine.blocks_->put(cid, encoded); !ok) {
    (void)st.engine.slots_.remove(cid);  // best effort; Engine::open reclaims it otherwise
    return std::unexpected(ok.error());
  }
  return cid;
}

Result<FileWriter> Engine::begin_store(const FileMetadata& metadata, const CodingParams& params) {
  OB_TRY_VOID(params.validate());
  if (metadata.name.size() > protocol::kMaxFileNameSize) {
    return fail(Errc::invalid_argument, "file name longer than ", protocol::kMaxFileNameSize, " bytes");
  }
  OB_TRY(auto key_and_wrap, new_file_key(home_.master_secret()));
  auto& [file_key, wrap] = key_and_wrap;
  OB_TRY(StripeEncoder encoder, StripeEncoder::make(params, file_key));
  OB_TRY(SlotSetWriter slots, slots_.begin(params.n(), params.block_size));
  return FileWriter(std::unique_ptr<FileWriter::State>(new FileWriter::State{
      *this, metadata, params, file_key, std::move(wrap), std::move(encoder), std::move(slots),
      std::vector<merkle::RootBuilder>(params.n())}));
}

Result<Cid> Engine::store(const ByteSource& source, const FileMetadata& metadata,
                          const CodingParams& params, const Progress& progress) {
  OB_TRY(FileWriter writer, begin_store(metadata, params));
  // Read straight into the stripe buffer: the pull path makes no copy at all.
  for (;;) {
    OB_TRY(std::size_t n, source(writer.writable()));
    if (n == 0) break;
    OB_TRY_VOID(writer.commit(n));
    if (progress) progress(writer.bytes_written(), 0);
  }
  return writer.finish();
}

Result<std::pair<Manifest, crypto::Key>> Engine::open_file(const Cid& cid) {
  if (cid.codec() != protocol::kCodecManifest) {
    return fail(Errc::invalid_argument, cid.to_string(), " is not an Open Bucket file ID (its codec is 0x",
                to_hex(Bytes{static_cast<std::uint8_t>(cid.codec())}), ", not a manifest)");
  }
  auto encoded = blocks_->get(cid);
  if (!encoded) {
    if (encoded.error().code == Errc::not_found) {
      return fail(Errc::not_found, "file ", cid.to_string(), " is not stored here");
    }
    return std::unexpected(encoded.error());
  }
  // The block store checked the bytes when they were put; check again for disk corruption.
  if (auto ok = check_block(cid, *encoded); !ok) {
    return fail(Errc::corrupt, "the manifest of ", cid.to_string(), " is damaged on disk");
  }
  OB_TRY(Manifest manifest, Manifest::decode(*encoded));
  OB_TRY(crypto::Key key, unwrap_file_key(home_.master_secret(), manifest.key));
  return std::pair{std::move(manifest), key};
}

Result<Manifest> Engine::manifest(const Cid& cid) {
  OB_TRY(auto opened, open_file(cid));
  return std::move(opened.first);
}

namespace {

// Opens slot i and checks it against the manifest; a reason string when it cannot be used.
Result<SlotReader> open_checked_slot(const SlotStore& slots, const Cid& cid, const Manifest& manifest,
                                     std::uint32_t i) {
  OB_TRY(SlotReader reader, slots.open_slot(cid, i));
  if (reader.block_size() != manifest.params.block_size || reader.block_count() != manifest.stripe_count()) {
    return fail(Errc::corrupt, "slot ", i, " has ", reader.block_count(), " blocks of ", reader.block_size(),
                " bytes, the manifest says ", manifest.stripe_count(), " of ", manifest.params.block_size);
  }
  OB_TRY_VOID(reader.verify_index(manifest.slot_roots[i]));
  return reader;
}

}  // namespace

namespace {

// The blocks of a file stored here: one pread a block from each usable slot, data slots first
// (when they are all intact no decoding is needed), each checked against the slot's index.
class LocalSlots final : public StripeSource {
 public:
  explicit LocalSlots(std::vector<std::optional<SlotReader>> readers) : readers_(std::move(readers)) {}
  Result<void> fill(std::uint64_t stripe, StripeDecoder& decoder) override {
    for (std::uint32_t i = 0; i < readers_.size() && !decoder.enough(); ++i) {
      if (!readers_[i]) continue;
      auto root = readers_[i]->root_at(stripe);
      if (!root || !readers_[i]->read_block(stripe, decoder.block(i))) continue;
      (void)decoder.accept(i, *root);  // a block that fails its check is simply not used
    }
    return {};
  }

 private:
  std::vector<std::optional<SlotReader>> readers_;  // n entries; empty where unusable
};

}  // namespace

struct FileReader::State {
  Cid cid;
  Manifest manifest;
  FileMetadata metadata;
  std::unique_ptr<StripeSource> source;
  StripeDecoder decoder;
  std::uint64_t stripe = 0;     // next stripe read_stripe() reads
  std::uint64_t remaining = 0;  // plaintext bytes read_stripe() has not handed out
  std::uint64_t source_next = 0;  // the stripe the source gives next without a seek
  std::uint64_t source_end = 0;   // ... and the end of the range it was told of
  std::uint64_t run = 0;          // stripes read_at() decoded in order, without a seek
  std::optional<std::uint64_t> decoded;  // the stripe whose plaintext the decoder holds
};

FileReader::FileReader(std::unique_ptr<State> state, RetrieveReport report)
    : state_(std::move(state)), report_(std::move(report)) {}
FileReader::FileReader(FileReader&&) noexcept = default;
FileReader::~FileReader() = default;

std::uint64_t FileReader::size() const noexcept { return state_->manifest.original_size; }

const FileMetadata& FileReader::metadata() const noexcept { return state_->metadata; }

bool FileReader::done() const noexcept { return state_->stripe >= state_->manifest.stripe_count(); }

Result<void> FileReader::decode(std::uint64_t stripe, std::uint64_t ahead) {
  State& st = *state_;
  // Small reads in one stripe (a mount's windows, a reader's 4 KiB) decode it once.
  if (st.decoded == stripe) return {};
  st.decoded.reset();
  if (stripe != st.source_next || stripe >= st.source_end) {
    OB_TRY_VOID(st.source->seek(stripe, ahead));
    st.source_end = ahead;
  } else if (ahead > st.source_end) {
    OB_TRY_VOID(st.source->seek(stripe, ahead));  // the same place: only the end moves
    st.source_end = ahead;
  }
  StripeDecoder& decoder = st.decoder;
  decoder.reset();
  st.source_next = stripe + 1;
  OB_TRY_VOID(st.source->fill(stripe, decoder));
  if (!decoder.enough()) {
    return fail(Errc::unrecoverable, "stripe ", stripe, " of ", st.cid.to_string(), " has only ",
                decoder.present_count(), " intact blocks, need ", st.manifest.params.k);
  }
  OB_TRY(bool rebuilt, decoder.decode(stripe));
  if (rebuilt) ++report_.rebuilt_stripes;
  st.decoded = stripe;
  return {};
}

Result<void> FileReader::read_stripe(const ByteSink& sink) {
  State& st = *state_;
  if (done()) return fail(Errc::invalid_argument, "the whole file has been read");
  const CodingParams& params = st.manifest.params;
  OB_TRY_VOID(decode(st.stripe, st.manifest.stripe_count()));
  for (std::size_t d = 0; d < params.k && st.remaining > 0; ++d) {
    const ByteView plain = st.decoder.plaintext(d);
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(plain.size(), st.remaining));
    OB_TRY_VOID(sink(plain.first(n)));
    st.remaining -= n;
    report_.bytes += n;
  }
  ++st.stripe;
  return {};
}

Result<std::uint64_t> FileReader::read_at(std::uint64_t offset, std::uint64_t length, const ByteSink& sink) {
  State& st = *state_;
  const std::uint64_t size = st.manifest.original_size;
  if (offset >= size || length == 0) return 0;
  const std::uint64_t end = offset + std::min(length, size - offset);
  const CodingParams& params = st.manifest.params;
  const std::uint64_t stripe_bytes = params.stripe_plaintext_size();
  const std::uint64_t chunk = params.chunk_size();
  const std::uint64_t first = offset / stripe_bytes;
  const std::uint64_t last = (end - 1) / stripe_bytes;
  // In order since the last read: read ahead as far as the run so far (at least the stripes
  // asked for); elsewhere: exactly the stripes asked for.
  st.run = first == st.source_next ? st.run + (last - first + 1) : last - first + 1;
  const std::uint64_t ahead = std::min(st.manifest.stripe_count(), last + 1 + (first == st.source_next ? st.run : 0));
  for (std::uint64_t s = first; s <= last; ++s) {
    OB_TRY_VOID(decode(s, ahead));
    const std::uint64_t stripe_start = s * stripe_bytes;
    for (std::uint32_t d = 0; d < params.k; ++d) {
      const std::uint64_t block_start = stripe_start + d * chunk;
      const std::uint64_t from = std::max(offset, block_start);
      const std::uint64_t to = std::min(end, block_start + chunk);
      if (from >= to) continue;
      OB_TRY_VOID(sink(st.decoder.plaintext(d).subspan(from - block_start, to - from)));
    }
  }
  return end - offset;
}

Result<FileReader> Engine::make_reader(const Cid& cid, Manifest manifest, const crypto::Key& file_key,
                                       std::unique_ptr<StripeSource> source, RetrieveReport report) {
  OB_TRY(FileMetadata metadata, open_metadata(file_key, manifest.encrypted_metadata));
  OB_TRY(StripeDecoder decoder, StripeDecoder::make(manifest.params, file_key));
  const std::uint64_t size = manifest.original_size;
  const std::uint64_t stripes = manifest.stripe_count();
  return FileReader(std::unique_ptr<FileReader::State>(new FileReader::State{
                        cid, std::move(manifest), std::move(metadata), std::move(source), std::move(decoder), 0, size,
                        0, stripes, 0, std::nullopt}),
                    std::move(report));
}

Result<FileReader> Engine::begin_retrieve(const Cid& cid) {
  OB_TRY(auto opened, open_file(cid));
  auto& [manifest, file_key] = opened;
  const CodingParams params = manifest.params;
  RetrieveReport report;

  std::vector<std::optional<SlotReader>> readers(params.n());
  std::vector<std::string> problems;
  for (std::uint32_t i = 0; i < params.n(); ++i) {
    auto reader = open_checked_slot(slots_, cid, manifest, i);
    if (reader) {
      readers[i] = std::move(*reader);
    } else {
      report.unusable_slots.push_back(i);
      problems.push_back(reader.error().message);
    }
  }
  if (params.n() - report.unusable_slots.size() < params.k) {
    std::string detail;
    for (const std::string& p : problems) detail += (detail.empty() ? "" : "; ") + p;
    return fail(Errc::unrecoverable, "only ", params.n() - report.unusable_slots.size(), " of ", params.n(),
                " slots are usable, need ", params.k, " (", detail, ")");
  }
  return make_reader(cid, std::move(manifest), file_key, std::make_unique<LocalSlots>(std::move(readers)),
                     std::move(report));
}

Result<FileReader> Engine::open_reader(const Cid& cid, ByteView manifest_bytes, std::unique_ptr<StripeSource> source,
                                      const crypto::Key* shared_key) {
  OB_TRY(Manifest manifest, Manifest::decode(manifest_bytes));
  if (shared_key != nullptr) {
    // make_reader opens the metadata first: a key that does not open it opens nothing.
    auto reader = make_reader(cid, std::move(manifest), *shared_key, std::move(source), {});
    if (!reader) return fail(Errc::corrupt, "the share token's key does not open file ", cid.to_string());
    return reader;
  }
  auto file_key = unwrap_file_key(home_.master_secret(), manifest.key);
  if (!file_key) {
    return fail(Errc::corrupt, "file ", cid.to_string(), " was not put by this node's owner: its key does not open (",
                file_key.error().message, ")");
  }
  return make_reader(cid, std::move(manifest), *file_key, std::move(source), {});
}

Result<RetrieveReport> Engine::retrieve(const Cid& cid, const ByteSink& sink, const Progress& progress) {
  OB_TRY(FileReader reader, begin_retrieve(cid));
  while (!reader.done()) {
    OB_TRY_VOID(reader.read_stripe(sink));
    if (progress) progress(reader.bytes_read(), reader.size());
  }
  return reader.report();
}

Result<bool> Engine::has(const Cid& cid) {
  OB_TRY(bool manifest, blocks_->has(cid));
  return manifest && slots_.has_file(cid);
}

Result<FileEntry> Engine::stat(const Cid& cid) {
  OB_TRY(auto opened, open_file(cid));
  const auto& [manifest, file_key] = opened;
  OB_TRY(FileMetadata metadata, open_metadata(file_key, manifest.encrypted_metadata));
  return FileEntry{cid, std::move(metadata.name), std::move(metadata.mime_type), manifest.original_size,
                   manifest.params, slots_.file_bytes(cid)};
}

Result<std::vector<FileEntry>> Engine::list() {
  OB_TRY(std::vector<Cid> cids, blocks_->list(protocol::kCodecManifest));
  std::vector<FileEntry> entries;
  entries.reserve(cids.size());
  for (const Cid& cid : cids) {
    auto entry = stat(cid);
    if (entry) {
      entries.push_back(std::move(*entry));
    } else if (entry.error().code == Errc::io) {
      return std::unexpected(entry.error());
    } else {
      entries.push_back(FileEntry{cid, {}, {}, 0, {}, slots_.file_bytes(cid)});
    }
  }
  return entries;
}

Result<void> Engine::remove(const Cid& cid) {
  OB_TRY(bool removed, blocks_->remove(cid));
  OB_TRY(bool had_slots, slots_.remove(cid));
  if (!removed && !had_slots) return fail(Errc::not_found, "file ", cid.to_string(), " is not stored here");
  return {};
}

Result<VerifyReport> Engine::verify(const Cid& cid, const Progress& progress) {
  OB_TRY(auto opened, open_file(cid));
  const Manifest& manifest = opened.first;
  const CodingParams& params = manifest.params;
  VerifyReport report{cid, params, {}, manifest.stripe_count(), false};
  // Intact blocks per stripe: one byte a stripe (n <= 255), to decide recoverability.
  std::vector<std::uint8_t> intact(report.stripes, 0);
  Bytes block(params.block_size);
  const std::uint64_t total_blocks = report.stripes * params.n();
  std::uint64_t checked = 0;

  for (std::uint32_t i = 0; i < params.n(); ++i) {
    SlotHealth health{i, SlotHealth::State::intact, 0, {}};
    auto reader = open_checked_slot(slots_, cid, manifest, i);
    if (!reader) {
      health.state = reader.error().code == Errc::not_found ? SlotHealth::State::missing
                                                             : SlotHealth::State::damaged;
      health.bad_blocks = report.stripes;
      if (health.state == SlotHealth::State::damaged) health.detail = reader.error().message;
      checked += report.stripes;
    } else {
      for (std::uint64_t j = 0; j < report.stripes; ++j, ++checked) {
        auto root = reader->root_at(j);
        const bool ok = root && reader->read_block(j, block) && merkle::block_root(block) == *root;
        if (ok) {
          ++intact[j];
        } else {
          ++health.bad_blocks;
        }
        if (progress && (j & 63) == 0) progress(checked, total_blocks);
      }
      if (health.bad_blocks > 0) {
        health.state = SlotHealth::State::damaged;
        health.detail = std::to_string(health.bad_blocks) + " of " + std::to_string(report.stripes) +
                        " blocks fail their check";
      }
    }
    report.slots.push_back(std::move(health));
  }
  report.recoverable = std::ranges::all_of(intact, [&](std::uint8_t c) { return c >= params.k; });
  if (progress) progress(total_blocks, total_blocks);
  return report;
}

Result<void> Engine::damage(const Cid& cid, std::uint32_t slot, bool corrupt) {
  OB_TRY(Manifest manifest, this->manifest(cid));
  if (slot >= manifest.params.n()) {
    return fail(Errc::invalid_argument, "slot ", slot, " does not exist: the file has slots 0..",
                manifest.params.n() - 1);
  }
  return slots_.damage(cid, slot, corrupt);
}

}  // namespace ob
