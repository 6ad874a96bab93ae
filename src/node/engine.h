// The storage engine of one node: a file in, encrypted, erasure-coded and content-addressed;
// the file out again from any k of its n slots. This is where a reader following the data path
// from main() meets the disk:
//
//   store:    source -> StripeEncoder (encrypt, parity, block roots) -> SlotSetWriter (one file
//             per slot, staged) -> manifest -> commit slots -> manifest into the BlockStore
//   retrieve: BlockStore (manifest) -> SlotReader (verify index, one pread per block)
//             -> StripeDecoder (verify, rebuild, decrypt) -> sink
//   a file stored elsewhere (node/network.h): peers' blocks, checked on arrival, take the
//             SlotReaders' place through a StripeSource; nothing is written here
//
// Memory is bounded by one stripe (n * block_size) plus small windows, whatever the file size.
// A crash at any point leaves either the whole file stored or none of it: slots become visible
// in one rename before the manifest is written, and slots without a manifest are removed at open.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coding/manifest.h"
#include "core/cid.h"
#include "core/stream.h"
#include "node/home.h"
#include "store/block_store.h"
#include "store/slot_store.h"

namespace ob {

/// One stored file as `data ls` shows it.
struct FileEntry {
  Cid cid;
  std::string name;       ///< decrypted; empty if this master secret cannot open it
  std::string mime_type;  ///< decrypted; may be empty
  std::uint64_t size = 0;            ///< plaintext bytes
  CodingParams params;
  std::uint64_t stored_bytes = 0;    ///< bytes of slot data on disk (all slots)
};

/// The state of one slot after verify().
struct SlotHealth {
  enum class State { intact, missing, damaged };
  std::uint32_t slot = 0;
  State state = State::intact;
  std::uint64_t bad_blocks = 0;  ///< blocks that failed their check (damaged only)
  std::string detail;            ///< why it is missing or damaged
};

/// What verify() found.
struct VerifyReport {
  Cid cid;
  CodingParams params;
  std::vector<SlotHealth> slots;  ///< n entries, slot order
  std::uint64_t stripes = 0;
  bool recoverable = false;       ///< every stripe still has at least k intact blocks
  /// Slots that are fully intact.
  std::size_t intact_slots() const;
};

/// What retrieve() did beyond writing the bytes.
struct RetrieveReport {
  std::uint64_t bytes = 0;                   ///< plaintext bytes written to the sink
  std::vector<std::uint32_t> unusable_slots; ///< slots missing, or with an index that failed
  std::uint64_t rebuilt_stripes = 0;         ///< stripes that needed erasure decoding
};

class Engine;
class StripeDecoder;

/// Where a FileReader's encrypted blocks come from: this node's slots (Engine::begin_retrieve)
/// or peers (Network::open_reader). Used by one thread at a time.
class StripeSource {
 public:
  virtual ~StripeSource() = default;
  /// Puts the blocks of stripe `stripe` that it can get into `decoder` (reset by the caller) and
  /// accepts each only once it matched its root: at least k of them, or fewer when no more can
  /// be had (the reader then reports the stripe unrecoverable). Stripes are asked for in order,
  /// each once, from stripe 0 or from the `first` of the last seek(), and never at or past its
  /// `end`. Errors: the source's own (io, unrecoverable); the reader is then spent.
  virtual Result<void> fill(std::uint64_t stripe, StripeDecoder& decoder) = 0;
  /// Announces the stripes the next fill() calls ask for: first, first + 1, ..., end - 1 (end is
  /// at most the file's stripe count). A source that reads ahead (the network's) wants nothing
  /// at or past `end` and drops what it read ahead elsewhere, so a random read moves only the
  /// blocks of the stripes it touches. The default does nothing: local slots read each block
  /// when fill() asks for it. Errors: the source's own; the reader is then spent.
  virtual Result<void> seek(std::uint64_t first, std::uint64_t end) {
    (void)first;
    (void)end;
    return {};
  }
};

/// A file being stored, fed by pushes (an HTTP body, a socket) or by Engine::store's pull loop.
/// Bytes go straight into the stripe buffer; each full stripe is encoded and appended to the
/// staged slots. Nothing is visible until finish() succeeds; a writer destroyed before that,
/// or after an error, leaves nothing behind. Not thread-safe.
class FileWriter {
 public:
  FileWriter(FileWriter&&) noexcept;
  FileWriter& operator=(FileWriter&&) = delete;
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;
  ~FileWriter();

  /// Appends bytes of the file. Errors (io, crypto); the writer is then unusable.
  Result<void> write(ByteView data);
  /// Zero-copy appending: where the next bytes go (never empty before finish) ...
  MutableByteView writable() noexcept;
  /// ... and how many of them were filled. Errors as write().
  Result<void> commit(std::size_t n);
  /// Plaintext bytes accepted so far.
  std::uint64_t bytes_written() const noexcept { return total_; }
  /// Encodes the last stripe, publishes the slots, then stores the manifest. Returns the file's
  /// CID. Errors (io, crypto, quota_exceeded), or (invalid_argument) after an earlier error.
  Result<Cid> finish();

 private:
  friend class Engine;
  struct State;
  explicit FileWriter(std::unique_ptr<State> state);
  Result<void> encode_stripe();
  std::unique_ptr<State> state_;
  std::uint64_t total_ = 0;
};

/// A stored file being read back one stripe at a time: the pull counterpart of FileWriter, for
/// callers driven by their consumer (an HTTP response body asks for more when the socket can
/// take it). Every block is checked before use; missing or damaged slots are rebuilt from
/// parity. Holds one stripe of memory and two descriptors per slot. Not thread-safe.
class FileReader {
 public:
  FileReader(FileReader&&) noexcept;
  FileReader& operator=(FileReader&&) = delete;
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  ~FileReader();

  /// Plaintext bytes of the whole file.
  std::uint64_t size() const noexcept;
  /// The file's name and media type, decrypted from its manifest.
  const FileMetadata& metadata() const noexcept;
  /// Plaintext bytes handed to sinks so far.
  std::uint64_t bytes_read() const noexcept { return report_.bytes; }
  /// True when every stripe has been read.
  bool done() const noexcept;
  /// Decodes the next stripe and hands its plaintext to `sink` (one call per data block; the
  /// last is cut to the file's size). Errors (unrecoverable): the stripe has fewer than k
  /// intact blocks; (invalid_argument) called when done(); the sink's errors; (corrupt, crypto).
  /// After an error the reader is spent: drop it.
  Result<void> read_stripe(const ByteSink& sink);
  /// Random access (issue 13): hands the plaintext bytes [offset, offset + length), cut at
  /// size(), to `sink`, decoding only the stripes they touch: each one's k blocks are read
  /// (local slots) or fetched (peers), checked, rebuilt if need be and decrypted, and no other
  /// stripe's. A read that goes on where the last one ended is taken as sequential: the
  /// network source then reads ahead, as far as the sequential run is long (bounded by its
  /// window). The last stripe decoded is kept: reads within it decode nothing again.
  /// Returns the bytes handed to the sink: 0 at or past the end. Does not move
  /// read_stripe()'s position (which is then found again with one seek). Errors as
  /// read_stripe's; after an error the reader is spent.
  Result<std::uint64_t> read_at(std::uint64_t offset, std::uint64_t length, const ByteSink& sink);
  /// Slots found unusable when the file was opened, and stripes rebuilt so far.
  const RetrieveReport& report() const noexcept { return report_; }

 private:
  friend class Engine;
  struct State;
  explicit FileReader(std::unique_ptr<State> state, RetrieveReport report);
  /// Decodes stripe `stripe` into the decoder, seeking the source first unless it is
  /// positioned there; `ahead` is where the source may read up to (exclusive).
  Result<void> decode(std::uint64_t stripe, std::uint64_t ahead);
  std::unique_ptr<State> state_;
  RetrieveReport report_;
};

/// One per home and process (the block store's lock enforces it).
///
/// Thread-safe: any of its operations may run concurrently from several threads (the daemon
/// serves each HTTP request on its own). The engine's own state is fixed at open and only read
/// afterwards; the BlockStore is thread-safe; every store and retrieve owns its stripe buffers,
/// descriptors and staging directory; a new file's slots appear by one rename. Operations on
/// the same file race only as files do: a remove during a retrieve of that file can make the
/// retrieve fail, never yield wrong bytes (every block is checked). FileWriter and FileReader
/// objects are single-threaded.
class Engine {
 public:
  /// Opens the stores under `home` and removes what an interrupted put or rm left behind.
  /// Errors (io): a store cannot be opened (e.g. another process holds it).
  static Result<std::unique_ptr<Engine>> open(const Home& home);

  /// Starts storing a new file; bytes are pushed into the returned writer.
  /// Errors (invalid_argument): invalid params or a name over 4096 bytes; (io, crypto).
  Result<FileWriter> begin_store(const FileMetadata& metadata, const CodingParams& params);

  /// Stores everything `source` yields as a new file. Returns its CID (the manifest's).
  /// Errors (invalid_argument): invalid params or a name over 4096 bytes; the source's own
  /// errors; (io, crypto). On error nothing is stored.
  Result<Cid> store(const ByteSource& source, const FileMetadata& metadata,
                    const CodingParams& params, const Progress& progress = {});

  /// Writes the file's plaintext to `sink`, verifying every block it reads and rebuilding
  /// stripes from parity where slots are missing or damaged. Errors (not_found): no such file;
  /// (invalid_argument): the CID is not a file's; (corrupt): the manifest is damaged or not this
  /// owner's; (unrecoverable): some stripe has fewer than k intact blocks; the sink's errors; (io).
  /// The sink may already have received bytes when an error is returned.
  Result<RetrieveReport> retrieve(const Cid& cid, const ByteSink& sink, const Progress& progress = {});

  /// Opens a file for reading with FileReader: reads and checks the manifest, unwraps the file
  /// key, opens every slot and checks its index against the manifest. Errors as retrieve's
  /// before the first byte, including (unrecoverable) fewer than k usable slots.
  Result<FileReader> begin_retrieve(const Cid& cid);

  /// Opens a file that is not stored here for reading from `source` (Network::open_reader):
  /// `manifest_bytes` is its manifest, already checked against `cid` by whoever fetched it. The
  /// file key is unwrapped with this node's master secret, so only the owner gets a reader,
  /// unless `file_key` is given (a share token's): then it must open the file's metadata.
  /// Errors (corrupt): the manifest does not decode, or the file is not this owner's (the key
  /// given does not open it); (crypto).
  Result<FileReader> open_reader(const Cid& cid, ByteView manifest_bytes, std::unique_ptr<StripeSource> source,
                                 const crypto::Key* file_key = nullptr);

  /// The stored files, sorted by CID; a file whose manifest cannot be opened is listed with its
  /// CID and stored bytes only. Errors (io).
  Result<std::vector<FileEntry>> list();
  /// Whether `cid` is stored here: its manifest and its slot directory exist. Cheap (no decoding,
  /// no key); says nothing of the file's health, which retrieve and verify check. Errors (io).
  Result<bool> has(const Cid& cid);
  /// One file's entry, with its decrypted name. Errors as retrieve's before the first byte.
  Result<FileEntry> stat(const Cid& cid);
  /// The decoded manifest of `cid`. Errors as retrieve's before the first byte.
  Result<Manifest> manifest(const Cid& cid);
  /// Removes a file: manifest first, then its slots. Errors (not_found, io).
  Result<void> remove(const Cid& cid);
  /// Checks every block of every slot against the manifest and names damaged slots.
  /// Errors (not_found, invalid_argument, corrupt, io) about the file itself; damage is reported.
  Result<VerifyReport> verify(const Cid& cid, const Progress& progress = {});
  /// Test aid: deletes (or corrupts one byte of) slot `slot` of a stored file.
  /// Errors (not_found) no such file or slot; (invalid_argument) slot >= n; (io).
  Result<void> damage(const Cid& cid, std::uint32_t slot, bool corrupt);

  BlockStore& blocks() noexcept { return *blocks_; }
  SlotStore& slots() noexcept { return slots_; }

 private:
  friend class FileWriter;
  Engine(const Home& home, std::unique_ptr<BlockStore> blocks, SlotStore slots);
  Result<std::pair<Manifest, crypto::Key>> open_file(const Cid& cid);
  Result<FileReader> make_reader(const Cid& cid, Manifest manifest, const crypto::Key& file_key,
                                 std::unique_ptr<StripeSource> source, RetrieveReport report);
  const Home& home_;
  std::unique_ptr<BlockStore> blocks_;
  SlotStore slots_;
};

}  // namespace ob
