#pragma once
// A linker that records the connects asked of it and hands out links whose
// life the test can watch.

#include <functional>
#include <memory>
#include <vector>

#include "gap/link.hpp"

namespace ubt::test {

class FakeLink : public gap::Link {
public:
    explicit FakeLink(int& open_count) : open_count_(open_count) { ++open_count_; }
    ~FakeLink() override { --open_count_; }

private:
    int& open_count_;
};

class FakeLinker : public gap::Linker {
public:
    struct Call {
        LeAddress local;
        LeAddress peer;
        std::function<void()> on_failed;
    };

    std::unique_ptr<gap::Link> connect(const LeAddress& local, const LeAddress& peer,
                                       std::function<void()> on_failed) override {
        calls.push_back({local, peer, std::move(on_failed)});
        return std::make_unique<FakeLink>(open);
    }
    std::unique_ptr<gap::Link> incoming() { return std::make_unique<FakeLink>(open); }

    std::vector<Call> calls;
    int open = 0;  // links alive now
};

}  // namespace ubt::test
