#include "server/body_reader.hpp"

#include <boost/system/errc.hpp>

namespace nodus::server {

void body_reader::read(read_handler done) {
  if (!source_) {
    return done(make_error_code(boost::system::errc::operation_not_supported), {});
  }
  source_->read_body(seq_, std::move(done));
}

void body_reader::read_into(std::span<char> dst, fill_handler done) {
  if (!source_) {
    return done(make_error_code(boost::system::errc::operation_not_supported), 0);
  }
  source_->read_body_into(seq_, dst, std::move(done));
}

}  // namespace nodus::server
