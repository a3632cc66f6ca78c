#pragma once
// hasher: an incremental OpenSSL EVP digest, fed chunk by chunk (POST /hash feeds request-body
// chunks to it on the worker pool, in order, one at a time). Not thread-safe: one owner at a
// time; moving it between pool threads between update() calls is fine (the pool's queue
// hand-off orders the calls).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nodus::runtime::workers {

enum class digest_alg : std::uint8_t { sha256, sha512, sha1, md5, blake2b512, sha3_256 };
enum class digest_encoding : std::uint8_t { hex, base64 };

// "sha256" → sha256, ...; nullopt for anything else (the caller answers 400).
std::optional<digest_alg> parse_digest_alg(std::string_view name) noexcept;
std::string_view digest_alg_name(digest_alg alg) noexcept;
// The accepted names, in the order above, for the 400 message.
std::span<const std::string_view> supported_digest_algs() noexcept;

std::optional<digest_encoding> parse_digest_encoding(std::string_view name) noexcept;
std::string to_hex(std::span<const std::uint8_t> bytes);
std::string to_base64(std::span<const std::uint8_t> bytes);  // EVP_EncodeBlock: padded, no newlines
std::string encode_digest(std::span<const std::uint8_t> digest, digest_encoding enc);

class hasher {
 public:
  // Throws std::runtime_error if OpenSSL cannot provide the digest (never with the default
  // provider of OpenSSL 3, which has all of digest_alg).
  explicit hasher(digest_alg alg);
  ~hasher();
  hasher(hasher&&) noexcept;
  hasher& operator=(hasher&&) noexcept;
  hasher(const hasher&) = delete;
  hasher& operator=(const hasher&) = delete;

  // Feeds the next chunk. Must not be called after finish().
  void update(std::span<const std::byte> chunk);
  void update(std::string_view chunk);
  // The digest of everything fed. Call once.
  std::vector<std::uint8_t> finish();

  digest_alg alg() const noexcept { return alg_; }
  std::uint64_t bytes() const noexcept { return bytes_; }  // fed so far
  std::size_t digest_size() const noexcept;

 private:
  struct ctx_deleter {
    void operator()(void* ctx) const noexcept;
  };
  digest_alg alg_;
  std::uint64_t bytes_ = 0;
  std::unique_ptr<void, ctx_deleter> ctx_;  // EVP_MD_CTX, kept out of this header
};

// What hash_file() got through: the digest at the end of the file, or the hasher back when it
// stopped early to hand its pool thread back (feed on from offset `bytes`), or a read error, or
// a file cut short under a mapped read.
struct file_hash_progress {
  std::optional<hasher> h;           // set: not at the end yet
  std::vector<std::uint8_t> digest;  // set at the end of the file
  std::uint64_t bytes = 0;           // hashed so far: the offset to go on from
  int error = 0;                     // errno of a failed read (then none of the above)
  bool shrunk = false;               // the file lost bytes already read: nothing to answer with
  std::uint64_t mapped_bytes = 0;    // of what this call hashed, read through a mapping
};

// How hash_file reads. `mapped` (GET /hash/files) hashes the bytes in place through a mapping
// (mapped_file.hpp), falling back to pread where the file cannot be mapped; `pread` copies
// them into a per-thread 512 KiB buffer first. Both are kept tested; the benchmark compares them.
enum class file_read : std::uint8_t { mapped, pread };

// Feeds `fd` (a regular file) from `offset` to `h` in 1 MiB steps, to the end of the file (a
// pread that returns 0, so a file that grew meanwhile is read to its new end), which finishes
// the digest. `h` must have been fed the file's first `offset` bytes: `bytes` in the result is
// h.bytes(). Inside a pool job it stops after any step at which this_job::should_yield() says
// so; elsewhere it runs to the end. A file found shorter than what was hashed (cut while
// mapped, or below `offset` between jobs) is `shrunk`. GET /hash/files's job, and its
// benchmark.
file_hash_progress hash_file(hasher h, int fd, std::uint64_t offset, file_read how = file_read::mapped);

}  // namespace nodus::runtime::workers
