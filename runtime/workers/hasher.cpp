#include "runtime/workers/hasher.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>

#include "runtime/workers/mapped_file.hpp"
#include "runtime/workers/worker_pool.hpp"

namespace nodus::runtime::workers {

namespace {

constexpr std::array<std::string_view, 6> alg_names{"sha256", "sha512", "sha1",
                                                    "md5",    "blake2b512", "sha3-256"};
// OpenSSL 3 provider names, same order.
constexpr std::array<const char*, 6> openssl_names{"SHA256", "SHA512", "SHA1",
                                                   "MD5",    "BLAKE2B-512", "SHA3-256"};

[[noreturn]] void throw_openssl(const char* what) {
  std::string msg = what;
  if (unsigned long e = ERR_get_error(); e != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    msg += ": ";
    msg += buf.data();
  }
  ERR_clear_error();
  throw std::runtime_error(msg);
}

// Explicitly fetched digests, once per process: OpenSSL 3's implicit fetch (EVP_sha256()
// passed to DigestInit) looks the provider up on every init. Immutable after the first call.
const EVP_MD* fetched(digest_alg alg) {
  struct table {
    std::array<EVP_MD*, 6> mds{};
    table() {
      for (std::size_t i = 0; i < mds.size(); ++i) mds[i] = EVP_MD_fetch(nullptr, openssl_names[i], nullptr);
    }
    ~table() {
      for (auto* md : mds) EVP_MD_free(md);
    }
    table(const table&) = delete;
    table& operator=(const table&) = delete;
  };
  static const table t;
  const EVP_MD* md = t.mds[static_cast<std::size_t>(alg)];
  if (md == nullptr) throw_openssl("EVP_MD_fetch");
  return md;
}

EVP_MD_CTX* as_ctx(void* p) noexcept { return static_cast<EVP_MD_CTX*>(p); }

}  // namespace

std::optional<digest_alg> parse_digest_alg(std::string_view name) noexcept {
  for (std::size_t i = 0; i < alg_names.size(); ++i)
    if (alg_names[i] == name) return static_cast<digest_alg>(i);
  return std::nullopt;
}

std::string_view digest_alg_name(digest_alg alg) noexcept {
  return alg_names[static_cast<std::size_t>(alg)];
}

std::span<const std::string_view> supported_digest_algs() noexcept { return alg_names; }

std::optional<digest_encoding> parse_digest_encoding(std::string_view name) noexcept {
  if (name == "hex") return digest_encoding::hex;
  if (name == "base64") return digest_encoding::base64;
  return std::nullopt;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return out;
}

std::string to_base64(std::span<const std::uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + EVP_EncodeBlock's NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string encode_digest(std::span<const std::uint8_t> digest, digest_encoding enc) {
  return enc == digest_encoding::hex ? to_hex(digest) : to_base64(digest);
}

void hasher::ctx_deleter::operator()(void* ctx) const noexcept { EVP_MD_CTX_free(as_ctx(ctx)); }

hasher::hasher(digest_alg alg) : alg_(alg), ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) throw_openssl("EVP_MD_CTX_new");
  if (EVP_DigestInit_ex2(as_ctx(ctx_.get()), fetched(alg), nullptr) != 1) throw_openssl("EVP_DigestInit_ex2");
}

hasher::~hasher() = default;
hasher::hasher(hasher&&) noexcept = default;
hasher& hasher::operator=(hasher&&) noexcept = default;

void hasher::update(std::span<const std::byte> chunk) {
  if (chunk.empty()) return;
  if (EVP_DigestUpdate(as_ctx(ctx_.get()), chunk.data(), chunk.size()) != 1) throw_openssl("EVP_DigestUpdate");
  bytes_ += chunk.size();
}

void hasher::update(std::string_view chunk) { update(std::as_bytes(std::span(chunk))); }

std::vector<std::uint8_t> hasher::finish() {
  std::vector<std::uint8_t> out(digest_size());
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(as_ctx(ctx_.get()), out.data(), &n) != 1) throw_openssl("EVP_DigestFinal_ex");
  out.resize(n);
  return out;
}

std::size_t hasher::digest_size() const noexcept {
  return static_cast<std::size_t>(EVP_MD_get_size(fetched(alg_)));
}

// --- hash_file ---------------------------------------------------------------------------

namespace {
// pread size. A sweep of 64 KiB..1 MiB over a page-cached file here (the same loop): 512 KiB
// hashed ~1.6% faster than 128 KiB (fewer preads); keeping the piece in L2 bought nothing
// measurable. The buffer is per pool thread.
constexpr std::size_t file_piece_bytes = 512u << 10;
constexpr std::size_t file_step_bytes = 1u << 20;     // should_yield() is asked this often
}  // namespace

namespace {
// Whether `fd` has fewer than `offset` bytes now: it lost bytes already hashed (cut short
// while a job was yielded, or inside the last page a mapped read read).
bool shorter_than(int fd, std::uint64_t offset) {
  struct stat st = {};
  return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) < offset;
}
}  // namespace

file_hash_progress hash_file(hasher h, int fd, std::uint64_t offset, file_read how) {
  file_hash_progress r;
  struct stat st = {};
  if (::fstat(fd, &st) != 0) {
    r.error = errno;
    return r;
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (S_ISREG(st.st_mode) && size < offset) {
    r.shrunk = true;
    return r;
  }
  // Mapped: a regular file with at least one pread piece left (below that a mapping — mmap,
  // populate, munmap, a sigaction query — costs more than it saves), not sparse (fewer blocks
  // than bytes: holes read through a mapping become page-cache pages, on tmpfs memory that
  // stays as long as the file; a read copies them from the zero page).
  const bool map = how == file_read::mapped && S_ISREG(st.st_mode) && size - offset >= file_piece_bytes &&
                   static_cast<std::uint64_t>(st.st_blocks) * 512 >= size;
  if (map) {
    auto feed = [&h](std::span<const std::byte> step) {
      h.update(step);
      return !this_job::should_yield();
    };
    const map_read_result m = read_mapped(fd, offset, size - offset, file_step_bytes, feed);
    offset += m.bytes;
    r.mapped_bytes = m.bytes;
    switch (m.status) {
      case map_read_status::shrunk:
        r.shrunk = true;
        return r;
      case map_read_status::failed:
        r.error = m.error;
        return r;
      case map_read_status::stopped:
        r.bytes = h.bytes();
        r.h.emplace(std::move(h));
        return r;
      case map_read_status::done:  // on below, to the end of the file (it may have grown)
        if (shorter_than(fd, offset)) {
          r.shrunk = true;
          return r;
        }
        break;
      case map_read_status::unmappable:  // on below: the rest by pread
        break;
    }
  }
  thread_local std::vector<std::byte> buffer(file_piece_bytes);
  std::size_t step_got = 0;
  for (;;) {
    std::size_t got = 0;
    bool eof = false;
    while (got < buffer.size()) {
      const ssize_t n = ::pread(fd, buffer.data() + got, buffer.size() - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        r.error = errno;
        return r;
      }
      if (n == 0) {
        eof = true;
        break;
      }
      got += static_cast<std::size_t>(n);
    }
    h.update(std::span<const std::byte>(buffer.data(), got));
    offset += got;
    step_got += got;
    if (eof) {
      r.bytes = h.bytes();
      r.digest = h.finish();
      return r;
    }
    if (step_got >= file_step_bytes) {
      if (this_job::should_yield()) break;
      step_got = 0;
    }
  }
  r.bytes = h.bytes();
  r.h.emplace(std::move(h));
  return r;
}

}  // namespace nodus::runtime::workers
