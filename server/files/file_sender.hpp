#pragma once
// Streams a byte range of a file to a TCP socket with sendfile(2): zero-copy, in chunks,
// each next chunk only when the socket is writable again (an async wait, never a blocking
// loop), so per-connection memory is O(1) whatever the file size and a slow reader paces
// the sender. Runs on the socket's executor (the loop thread).
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "server/files/path_resolver.hpp"

namespace nodus::server::files {

struct file_send_options {
  std::uint64_t chunk_bytes = 512 * 1024;  // per sendfile call, then back to the loop
  // A wait for writability longer than this ends the transfer with timed_out.
  std::chrono::milliseconds stall_timeout{30000};
};

// Called once: ec is empty on success; `sent` counts bytes written to the socket.
// Errors: the socket's own, timed_out (stalled reader), or errc::file_too_large /
// "end of file" when the file shrank under the transfer (the caller must close the
// connection: the response cannot be completed).
using file_send_handler = std::function<void(boost::system::error_code ec, std::uint64_t sent)>;

// Sends [offset, offset + length) of `file`. The socket must stay open until `done` runs;
// closing it cancels the transfer (done gets operation_aborted).
void async_send_file(boost::asio::ip::tcp::socket& socket, unique_fd file, std::uint64_t offset,
                     std::uint64_t length, const file_send_options& options,
                     file_send_handler done);

}  // namespace nodus::server::files
