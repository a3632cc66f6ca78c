#include "server/responder.hpp"

#include "server/body_writer.hpp"

namespace nodus::server {

responder& responder::operator=(responder&& other) noexcept {
  if (this != &other) {
    if (sink_) sink_->abandon(seq_);
    sink_ = std::move(other.sink_);
    seq_ = other.seq_;
  }
  return *this;
}

responder::~responder() {
  if (sink_) sink_->abandon(seq_);
}

void responder::send(response&& res) {
  if (!sink_) return;
  auto sink = std::move(sink_);
  sink->complete(seq_, std::move(res));
}

void responder::send(response_header&& header, std::unique_ptr<body_writer> body) {
  if (!sink_) return;
  auto sink = std::move(sink_);
  sink->complete_streamed(seq_, std::move(header), std::move(body));
}

bool responder::connection_alive() const noexcept { return sink_ && sink_->alive(seq_); }

void responder::on_cancel(std::function<void()> cb) {
  if (sink_) sink_->set_cancel(seq_, std::move(cb));
}

}  // namespace nodus::server
