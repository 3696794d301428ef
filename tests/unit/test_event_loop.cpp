// The event loop's timers: a callback that throws goes to the error hook,
// and the timers after it still run.
#include <catch2/catch.hpp>

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
