// The object store and the heap debug endpoints over real HTTP: documents on the managed heap,
// cross-loop ids, paging, bad input, heap exhaustion (507 with every stored document intact).
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <map>
#include <set>
#include <string>

#include "tests/integration/test_support.hpp"

using namespace nodus::testing;
namespace json = boost::json;

namespace {

json::value body_json(const http_response& res) { return json::parse(res.body()); }


std::uint64_t post_doc(http_client& c, const std::string& doc) {
  const auto res = c.request(http::verb::post, "/objects", doc, {{"Content-Type", "application/json"}});
  REQUIRE(res.result() == http::status::created);
  const auto id = body_json(res).at("id").as_int64();
  CHECK(res[http::field::location] == "/objects/" + std::to_string(id));
  return id;
}

std::string doc_of_size(int i, std::size_t bytes) {
  json::object o{{"i", i}, {"name", "doc-" + std::to_string(i)}, {"tags", json::array{"a", i % 2 == 0, nullptr}}};
  o["pad"] = std::string(bytes, static_cast<char>('a' + i % 26));
  return json::serialize(o);
}

const json::object& loop_entry(const json::value& v, std::size_t k = 0) {
  return v.at("loops").as_array().at(k).as_object();
}

}  // namespace

TEST_CASE("POST/GET/PUT/DELETE /objects round-trip documents exactly", "[integration][objects]") {
  running_nodus n;
  http_client c(n.port);
  const std::string doc = R"({"user":{"name":"Ada","langs":["c++","js"]},"n":42,"pi":3.25,"ok":true,"none":null})";
  const auto id = post_doc(c, doc);
  auto got = c.get("/objects/" + std::to_string(id));
  REQUIRE(got.result() == http::status::ok);
  CHECK(got[http::field::content_type] == "application/json");
  CHECK(got.body() == doc + "\n");

  const std::string replacement = R"([1,"two",{"three":3}])";
  auto put = c.request(http::verb::put, "/objects/" + std::to_string(id), replacement);
  REQUIRE(put.result() == http::status::ok);
  CHECK(static_cast<std::uint64_t>(body_json(put).at("id").as_int64()) == id);
  CHECK(c.get("/objects/" + std::to_string(id)).body() == replacement + "\n");

  CHECK(c.request(http::verb::delete_, "/objects/" + std::to_string(id)).result() == http::status::no_content);
  auto gone = c.get("/objects/" + std::to_string(id));
  CHECK(gone.result() == http::status::not_found);
  CHECK(json_error(gone.body()) == "not_found");
  CHECK(c.request(http::verb::delete_, "/objects/" + std::to_string(id)).result() == http::status::not_found);
  CHECK(c.request(http::verb::put, "/objects/" + std::to_string(id), "{}").result() == http::status::not_found);
}

TEST_CASE("bad documents and ids get 400/404 JSON errors and the server keeps serving", "[integration][objects]") {
  running_nodus n;
  http_client c(n.port);
  const auto id = post_doc(c, R"({"keep":"me"})");
  const std::map<std::string, std::string> bad_bodies{
      {"{\"a\":", "invalid_json"},
      {"", "invalid_json"},
      {"[1,2,]", "invalid_json"},
      {std::string(257, '[') + std::string(257, ']'), "too_deep"},
      {std::string(500'000, '['), "too_deep"},  // no stack overflow in the parser
      {std::string(100'000, '{') , "invalid_json"},
  };
  for (const auto& [body, error] : bad_bodies) {
    auto res = c.request(http::verb::post, "/objects", body);
    CHECK(res.result() == http::status::bad_request);
    CHECK(json_error(res.body()) == error);
  }
  auto bad_put = c.request(http::verb::put, "/objects/" + std::to_string(id), "{oops}");
  CHECK(bad_put.result() == http::status::bad_request);
  CHECK(c.get("/objects/" + std::to_string(id)).body() == "{\"keep\":\"me\"}\n");  // untouched

  for (const char* target : {"/objects/abc", "/objects/-1", "/objects/1x", "/objects/99999999999999999999999"}) {
    auto res = c.get(target);
    CHECK(res.result() == http::status::bad_request);
    CHECK(json_error(res.body()) == "bad_id");
  }
  CHECK(c.get("/objects/123456").result() == http::status::not_found);
  CHECK(c.get("/objects?limit=0").result() == http::status::bad_request);
  CHECK(c.get("/objects?limit=5000").result() == http::status::bad_request);
  CHECK(c.get("/objects?after=x").result() == http::status::bad_request);
  CHECK(c.get("/health").result() == http::status::ok);
}

TEST_CASE("ids route to the owning loop, paging walks every loop's ids in order", "[integration][objects]") {
  running_nodus n({"--loops", "2"});
  std::map<std::uint64_t, std::string> docs;
  std::set<unsigned> loops_seen;
  // New connections are spread over both loops by SO_REUSEPORT.
  for (int i = 0; i < 40 && (loops_seen.size() < 2 || docs.size() < 40); ++i) {
    http_client c(n.port);
    const std::string doc = doc_of_size(i, 16);
    auto res = c.request(http::verb::post, "/objects", doc);
    REQUIRE(res.result() == http::status::created);
    const auto v = body_json(res);
    const auto id = v.at("id").as_int64();
    const auto loop = v.at("loop").as_int64();
    CHECK(id % 2 == loop);
    loops_seen.insert(loop);
    docs[id] = doc;
  }
  REQUIRE(loops_seen.size() == 2);
  http_client c(n.port);
  for (const auto& [id, doc] : docs) CHECK(c.get("/objects/" + std::to_string(id)).body() == doc + "\n");

  std::vector<std::uint64_t> listed;
  std::string target = "/objects?limit=7";
  for (int pages = 0; pages < 20; ++pages) {
    const auto page = body_json(c.get(target));
    for (const auto& id : page.at("ids").as_array()) listed.push_back(id.as_int64());
    if (page.at("next").is_null()) break;
    target = "/objects?limit=7&after=" + std::to_string(page.at("next").as_int64());
  }
  std::vector<std::uint64_t> expected;
  for (const auto& [id, doc] : docs) expected.push_back(id);
  CHECK(listed == expected);

  // A document on the other loop can be replaced and deleted from this connection.
  for (const auto& [id, doc] : docs) {
    CHECK(c.request(http::verb::put, "/objects/" + std::to_string(id), "[\"replaced\"]").result() == http::status::ok);
    CHECK(c.get("/objects/" + std::to_string(id)).body() == "[\"replaced\"]\n");
    CHECK(c.request(http::verb::delete_, "/objects/" + std::to_string(id)).result() == http::status::no_content);
  }
  CHECK(body_json(c.get("/objects")).at("ids").as_array().empty());
}

TEST_CASE("heap exhausted: POST gets 507, stored documents stay intact, deleting frees room", "[integration][objects]") {
  running_nodus n({"--max-old-space-size", "8", "--max-body", "1m"});
  http_client c(n.port);
  std::map<std::uint64_t, std::string> stored;
  bool refused = false;
  for (int i = 0; i < 400 && !refused; ++i) {
    const std::string doc = doc_of_size(i, 64 * 1024);
    auto res = c.request(http::verb::post, "/objects", doc);
    if (res.result() == http::status::insufficient_storage) {
      CHECK(json_error(res.body()) == "heap_limit");
      refused = true;
    } else {
      REQUIRE(res.result() == http::status::created);
      stored[body_json(res).at("id").as_int64()] = doc;
    }
  }
  REQUIRE(refused);
  REQUIRE(stored.size() > 10);
  // PUT of a bigger document to an existing id is refused too, leaving the old one.
  const auto first = stored.begin()->first;
  auto put = c.request(http::verb::put, "/objects/" + std::to_string(first), doc_of_size(1, 900 * 1024));
  CHECK(put.result() == http::status::insufficient_storage);
  for (const auto& [id, doc] : stored) {
    auto res = c.get("/objects/" + std::to_string(id));
    REQUIRE(res.result() == http::status::ok);
    CHECK(res.body() == doc + "\n");
  }
  CHECK(c.get("/health").result() == http::status::ok);
  const auto heap = body_json(c.get("/debug/heap"));
  CHECK(loop_entry(heap).at("object_store").at("rejected_heap_full").as_int64() >= 2);
  // Deleting half makes room again (the next allocation failure runs a full GC first).
  int deleted = 0;
  for (auto it = stored.begin(); it != stored.end(); ++it, ++deleted) {
    if (deleted % 2 == 0) CHECK(c.request(http::verb::delete_, "/objects/" + std::to_string(it->first)).result() == http::status::no_content);
  }
  CHECK(c.request(http::verb::post, "/objects", doc_of_size(7, 64 * 1024)).result() == http::status::created);
}

TEST_CASE("/debug/heap, /debug/heap/spaces and /debug/gc report the heap in Node's shapes", "[integration][objects][debug]") {
  running_nodus n({"--loops", "2"});
  http_client c(n.port);
  const auto heap = body_json(c.get("/debug/heap"));
  REQUIRE(heap.at("loops").as_array().size() == 2);
  const auto& h0 = loop_entry(heap);
  for (const char* field : {"total_heap_size", "total_heap_size_executable", "total_physical_size",
                            "total_available_size", "used_heap_size", "heap_size_limit", "malloced_memory",
                            "peak_malloced_memory", "does_zap_garbage", "number_of_native_contexts",
                            "number_of_detached_contexts", "total_global_handles_size",
                            "used_global_handles_size", "external_memory"}) {
    CHECK(h0.contains(field));
  }
  CHECK(h0.at("objects_by_kind").as_object().contains("string"));
  CHECK(body_json(c.get("/debug/heap?loop=1")).at("loops").as_array().size() == 1);
  CHECK(c.get("/debug/heap?loop=2").result() == http::status::bad_request);

  const auto spaces = body_json(c.get("/debug/heap/spaces?loop=0"));
  std::set<std::string> names;
  for (const auto& s : loop_entry(spaces).at("spaces").as_array()) names.insert(std::string(s.at("space_name").as_string()));
  CHECK(names == std::set<std::string>{"new_space", "old_space", "large_object_space"});

  auto minor = c.request(http::verb::post, "/debug/gc?kind=minor&loop=0");
  REQUIRE(minor.result() == http::status::ok);
  CHECK(loop_entry(body_json(minor)).at("event").at("kind") == "minor");
  CHECK(loop_entry(body_json(minor)).at("event").at("reason") == "testing");
  auto major = c.request(http::verb::post, "/debug/gc?kind=major");
  REQUIRE(body_json(major).at("loops").as_array().size() == 2);
  CHECK(loop_entry(body_json(major), 1).at("event").at("kind") == "major");
  CHECK(c.request(http::verb::post, "/debug/gc?kind=full").result() == http::status::bad_request);

  const auto gc = body_json(c.get("/debug/gc?loop=0"));
  const auto& g0 = loop_entry(gc);
  CHECK(g0.at("totals").at("minor").at("count").as_int64() >= 1);
  CHECK(g0.at("totals").at("major").at("count").as_int64() >= 1);
  CHECK(g0.at("recent").as_array().size() >= 2);
}

TEST_CASE("stored documents are promoted, request temporaries die young", "[integration][objects][gc]") {
  running_nodus n({"--semi-space-size", "1", "--max-semi-space-size", "1"});
  http_client c(n.port);
  std::vector<std::uint64_t> kept;
  for (int i = 0; i < 600; ++i) {
    const auto id = post_doc(c, doc_of_size(i, 1024));
    if (i % 10 == 0) {
      kept.push_back(id);
    } else {
      CHECK(c.request(http::verb::delete_, "/objects/" + std::to_string(id)).result() == http::status::no_content);
    }
  }
  // Two scavenges: whatever is still reachable has survived twice and is now in old space.
  c.request(http::verb::post, "/debug/gc?kind=minor");
  c.request(http::verb::post, "/debug/gc?kind=minor");
  const auto gc = body_json(c.get("/debug/gc"));
  const auto& minor = loop_entry(gc).at("totals").at("minor");
  CHECK(minor.at("count").as_int64() >= 2);
  const auto promoted = minor.at("promoted_bytes").as_int64();
  const auto freed = minor.at("freed_bytes").as_int64();
  CHECK(promoted > 60 * 1024);  // the 60 kept documents (~1 KiB each) reached old space
  CHECK(freed > 4 * promoted);  // most of what requests allocated died young
  for (auto id : kept) CHECK(c.get("/objects/" + std::to_string(id)).result() == http::status::ok);
}
