#include "server/files/mime_types.hpp"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using nodus::server::files::mime_types;

TEST_CASE("types come from the system mime.types", "[files][mime]") {
  const mime_types types;
  CHECK(types.size() > 500);  // Debian's media-types lists well over a thousand
  CHECK(types.lookup("index.html") == "text/html; charset=utf-8");
  CHECK(types.lookup("dir/photo.JPG") == "image/jpeg");
  CHECK(types.lookup("a.png") == "image/png");
  CHECK(types.lookup("data.json") == "application/json");
  CHECK(types.lookup("archive.tar.gz") == "application/gzip");
  CHECK(types.lookup("README") == "application/octet-stream");
  CHECK(types.lookup("trailing.") == "application/octet-stream");
  CHECK(types.lookup("x.unknown-ext") == "application/octet-stream");
}

TEST_CASE("a custom mime.types file is parsed with comments", "[files][mime]") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("nodus-mime-" + std::to_string(::getpid()));
  std::ofstream(path) << "# comment\napplication/x-nodus\tndx nd2 # trailing\n\ntext/x-note note\n";
  const mime_types types(path.string());
  CHECK(types.lookup("a.ndx") == "application/x-nodus");
  CHECK(types.lookup("a.nd2") == "application/x-nodus");
  CHECK(types.lookup("a.note") == "text/x-note; charset=utf-8");
  CHECK(types.lookup("a.html") == "text/html; charset=utf-8");  // built-in fallback
  std::filesystem::remove(path);
}
