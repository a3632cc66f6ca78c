#pragma once
// nodus_process: runs the real `nodus` binary (env NODUS_BIN) for integration tests.
//
//   nodus_process p({"--port", "0", "--idle-timeout", "0.5"});
//   const auto port = p.wait_listening();      // parses "nodus listening on http://HOST:PORT"
//   ... talk to 127.0.0.1:port ...
//   p.signal(SIGTERM);
//   CHECK(p.wait_exit(10s) == 0);
//
// stdout and stderr are collected by reader threads, so waits are bounded and a chatty
// process never blocks on a full pipe. The destructor kills (SIGKILL) and reaps a process
// still running. Header-only; later issues' tests reuse it.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace nodus::testing {

using namespace std::chrono_literals;

// Waits are generous: the machine running the tests may be busy (2 cores, sanitizers).
inline constexpr std::chrono::milliseconds default_wait{15000};

class nodus_process {
 public:
  explicit nodus_process(std::vector<std::string> args, std::string binary = bin_path()) {
    std::signal(SIGPIPE, SIG_IGN);  // tests write to sockets the server may have closed
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    std::vector<char*> argv;
    argv.push_back(binary.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
      ::close(out[0]);
      ::close(err[0]);
      throw std::runtime_error("cannot start " + binary);
    }
    out_reader_ = std::thread([this, fd = out[0]] { collect(fd, out_); });
    err_reader_ = std::thread([this, fd = err[0]] { collect(fd, err_); });
  }

  nodus_process(const nodus_process&) = delete;
  nodus_process& operator=(const nodus_process&) = delete;

  ~nodus_process() {
    if (!exit_code_) {
      ::kill(pid_, SIGKILL);
      wait_exit(default_wait);
    }
    if (out_reader_.joinable()) out_reader_.join();
    if (err_reader_.joinable()) err_reader_.join();
  }

  static std::string bin_path() {
    const char* bin = std::getenv("NODUS_BIN");
    if (bin == nullptr || *bin == '\0') throw std::runtime_error("NODUS_BIN is not set");
    return bin;
  }

  // Port from the listening line; throws if it does not appear in time.
  std::uint16_t wait_listening(std::chrono::milliseconds timeout = default_wait) {
    constexpr std::string_view prefix = "nodus listening on http://";
    if (!wait_for_stdout(prefix, timeout)) {
      throw std::runtime_error("no listening line; stderr: " + stderr_text());
    }
    std::string line;
    if (!wait_for_stdout("\n", timeout)) throw std::runtime_error("listening line incomplete");
    {
      std::lock_guard lock(mutex_);
      const auto start = out_.find(prefix);
      line = out_.substr(start, out_.find('\n', start) - start);
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
    return port_;
  }

  std::uint16_t port() const noexcept { return port_; }
  pid_t pid() const noexcept { return pid_; }

  void signal(int sig) { ::kill(pid_, sig); }

  // The exit code (128 + signal when killed by one), or nullopt if still running.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = default_wait) {
    if (exit_code_) return exit_code_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_code_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(10ms);
    }
  }

  bool wait_for_stdout(std::string_view needle, std::chrono::milliseconds timeout = default_wait) {
    return wait_for(out_, needle, timeout);
  }
  bool wait_for_stderr(std::string_view needle, std::chrono::milliseconds timeout = default_wait) {
    return wait_for(err_, needle, timeout);
  }
  // Waits until both pipes are closed (the process exited) or the timeout.
  bool wait_output_closed(std::chrono::milliseconds timeout = default_wait) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return closed_pipes_ == 2; });
  }

  std::string stdout_text() const {
    std::lock_guard lock(mutex_);
    return out_;
  }
  std::string stderr_text() const {
    std::lock_guard lock(mutex_);
    return err_;
  }

 private:
  void collect(int fd, std::string& into) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      std::lock_guard lock(mutex_);
      into.append(buf, static_cast<std::size_t>(n));
      changed_.notify_all();
    }
    ::close(fd);
    std::lock_guard lock(mutex_);
    ++closed_pipes_;
    changed_.notify_all();
  }

  bool wait_for(const std::string& text, std::string_view needle,
                std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      return text.find(needle) != std::string::npos || closed_pipes_ == 2;
    }) && text.find(needle) != std::string::npos;
  }

  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::optional<int> exit_code_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_, err_;
  int closed_pipes_ = 0;
  std::thread out_reader_, err_reader_;
};

}  // namespace nodus::testing
