#include "server/files/file_sender.hpp"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace asio = boost::asio;
namespace files = nodus::server::files;
using asio::ip::tcp;

namespace {

struct temp_data_file {
  std::filesystem::path path;
  std::string content;
  explicit temp_data_file(std::size_t size) {
    path = std::filesystem::temp_directory_path() /
           ("nodus-sender-" + std::to_string(::getpid()) + "-" + std::to_string(size));
    std::mt19937_64 rng(size);
    content.resize(size);
    for (auto& c : content) c = static_cast<char>(rng());
    std::ofstream(path, std::ios::binary) << content;
  }
  ~temp_data_file() { std::filesystem::remove(path); }
  files::unique_fd open() const { return files::unique_fd(::open(path.c_str(), O_RDONLY)); }
};

// A connected pair on loopback: `server` lives on `io`, `client` is a blocking socket.
struct connection {
  asio::io_context io;
  asio::io_context client_io;
  tcp::socket server{io};
  tcp::socket client{client_io};
  connection(int buffer_bytes = 0) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    if (buffer_bytes > 0) client.open(tcp::v4()), client.set_option(asio::socket_base::receive_buffer_size(buffer_bytes));
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    if (buffer_bytes > 0) server.set_option(asio::socket_base::send_buffer_size(buffer_bytes));
  }
};

std::string read_exactly(tcp::socket& s, std::size_t n) {
  std::string out(n, '\0');
  asio::read(s, asio::buffer(out));
  return out;
}

}  // namespace

TEST_CASE("a whole file arrives byte-exact", "[files][sendfile]") {
  temp_data_file file(3 * 1024 * 1024 + 17);
  connection c;
  std::string received;
  std::thread reader([&] { received = read_exactly(c.client, file.content.size()); });
  boost::system::error_code result = asio::error::would_block;
  std::uint64_t sent = 0;
  files::async_send_file(c.server, file.open(), 0, file.content.size(), {64 * 1024, std::chrono::seconds(10)},
                         [&](boost::system::error_code ec, std::uint64_t n) { result = ec, sent = n; });
  c.io.run();
  reader.join();
  CHECK_FALSE(result);
  CHECK(sent == file.content.size());
  CHECK(received == file.content);
}

TEST_CASE("a range is sent from its offset", "[files][sendfile]") {
  temp_data_file file(1000003);
  connection c;
  const std::uint64_t offset = 123457, length = 654321;
  std::string received;
  std::thread reader([&] { received = read_exactly(c.client, length); });
  boost::system::error_code result = asio::error::would_block;
  files::async_send_file(c.server, file.open(), offset, length, {},
                         [&](boost::system::error_code ec, std::uint64_t) { result = ec; });
  c.io.run();
  reader.join();
  CHECK_FALSE(result);
  CHECK(received == file.content.substr(offset, length));
}

TEST_CASE("a file truncated during the send ends the transfer with an error", "[files][sendfile]") {
  temp_data_file file(16 * 1024 * 1024);
  connection c(64 * 1024);
  boost::system::error_code result = asio::error::would_block;
  std::uint64_t sent = 0;
  files::async_send_file(c.server, file.open(), 0, file.content.size(), {64 * 1024, std::chrono::seconds(10)},
                         [&](boost::system::error_code ec, std::uint64_t n) { result = ec, sent = n; });
  // Let the socket buffers fill (the reader has not started), then truncate the file.
  asio::steady_timer truncate_timer(c.io, std::chrono::milliseconds(100));
  std::thread reader;
  truncate_timer.async_wait([&](boost::system::error_code) {
    std::filesystem::resize_file(file.path, 1024 * 1024);
    reader = std::thread([&] {
      boost::system::error_code ec;
      char buf[65536];
      while (!ec) c.client.read_some(asio::buffer(buf), ec);
    });
  });
  c.io.run_for(std::chrono::seconds(20));
  c.server.close();
  reader.join();
  CHECK(result == asio::error::eof);
  CHECK(sent <= 1024 * 1024);
}

TEST_CASE("a reader that stops reading times the transfer out", "[files][sendfile]") {
  temp_data_file file(16 * 1024 * 1024);
  connection c(64 * 1024);
  boost::system::error_code result = asio::error::would_block;
  files::async_send_file(c.server, file.open(), 0, file.content.size(),
                         {64 * 1024, std::chrono::milliseconds(200)},
                         [&](boost::system::error_code ec, std::uint64_t) { result = ec; });
  c.io.run_for(std::chrono::seconds(20));
  CHECK(result == asio::error::timed_out);
}

TEST_CASE("closing the socket aborts the transfer", "[files][sendfile]") {
  temp_data_file file(16 * 1024 * 1024);
  connection c(64 * 1024);
  boost::system::error_code result = asio::error::would_block;
  files::async_send_file(c.server, file.open(), 0, file.content.size(), {},
                         [&](boost::system::error_code ec, std::uint64_t) { result = ec; });
  asio::steady_timer close_timer(c.io, std::chrono::milliseconds(50));
  close_timer.async_wait([&](boost::system::error_code) { c.server.close(); });
  c.io.run_for(std::chrono::seconds(20));
  CHECK(result == asio::error::operation_aborted);
}
