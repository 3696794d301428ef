#include <catch2/catch.hpp>

#include "ble/event_queue.hpp"

using namespace ubt;
using namespace ubt::ble;

namespace {
ScanResult result_with(size_t data_bytes) { return {0, Address{}, 0, -40, Bytes(data_bytes, 0xab)}; }
}  // namespace

TEST_CASE("the event queue holds what rxbuf allows, drops and counts the rest") {
    EventQueue q(100);
    CHECK(EventQueue::cost(result_with(20)) == 36);  // 16-byte header + data
    CHECK(q.push(result_with(20)));
    CHECK(q.push(result_with(20)));
    CHECK(q.used() == 72);
    CHECK_FALSE(q.push(result_with(20)));  // 108 > 100
    CHECK(q.dropped() == 1);
    CHECK(q.push(ScanDone{}));  // state events always go in
    CHECK(q.used() == 88);

    auto first = q.pop();
    REQUIRE(first);
    CHECK(std::get<ScanResult>(*first).adv_data.size() == 20);
    CHECK(q.used() == 52);
    q.pop();
    CHECK(std::holds_alternative<ScanDone>(*q.pop()));
    CHECK_FALSE(q.pop());
    CHECK(q.used() == 0);
}

TEST_CASE("a smaller rxbuf applies to what comes next") {
    EventQueue q(1000);
    q.set_capacity(30);
    CHECK_FALSE(q.push(result_with(20)));
    CHECK(q.push(result_with(10)));
    CHECK(q.dropped() == 1);
}
