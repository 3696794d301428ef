// The event loop: a timer callback that throws goes to the error hook and the
// timers after it still run; an fd closed while its events wait in the same
// batch does not pass them to a new watch that reuses its number.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "core/event_loop.hpp"

using namespace ubt;

TEST_CASE("a timer that throws is reported to the hook and the loop goes on") {
    EventLoop loop;
    std::vector<std::string> seen;
    loop.set_timer_error_hook([&](const std::exception& e) { seen.push_back(std::string("error: ") + e.what()); });
    loop.start(std::chrono::milliseconds(0), [] { throw std::runtime_error("controller gone"); });
    loop.start(std::chrono::milliseconds(1), [&] {
        seen.push_back("next timer");
        loop.quit();
    });
    loop.run();
    CHECK(seen == std::vector<std::string>{"error: controller gone", "next timer"});
}

TEST_CASE("without a hook, a timer's exception ends run()") {
    EventLoop loop;
    loop.start(std::chrono::milliseconds(0), [] { throw std::runtime_error("boom"); });
    CHECK_THROWS_AS(loop.run(), std::runtime_error);
}

TEST_CASE("events of an fd closed in the same batch do not reach a new watch of its number") {
    EventLoop loop;
    int a[2], b[2];
    REQUIRE(::pipe(a) == 0);
    REQUIRE(::pipe(b) == 0);
    REQUIRE(::write(a[1], "x", 1) == 1);
    REQUIRE(::write(b[1], "x", 1) == 1);
    int fresh[2] = {-1, -1};
    int stale_calls = 0;
    bool replaced = false;
    // Whichever of the two readable pipes comes first closes the other and
    // opens a pipe that takes its number; the other's event is still in the batch.
    auto first = [&](int other) {
        if (replaced) return;
        replaced = true;
        loop.unwatch(other);
        ::close(other);
        REQUIRE(::pipe(fresh) == 0);
        CHECK(fresh[0] == other);
        loop.watch(fresh[0], EPOLLIN, [&](uint32_t) { ++stale_calls; });
    };
    loop.watch(a[0], EPOLLIN, [&](uint32_t) { first(b[0]); });
    loop.watch(b[0], EPOLLIN, [&](uint32_t) { first(a[0]); });
    loop.start(std::chrono::milliseconds(20), [&] { loop.quit(); });
    loop.run();
    CHECK(replaced);
    CHECK(stale_calls == 0);  // the new pipe never had data
    for (int fd : {a[0], a[1], b[0], b[1], fresh[0], fresh[1]}) ::close(fd);
}
