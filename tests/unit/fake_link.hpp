#pragma once
// Links whose life a test can watch: a counter of those alive.

#include <memory>

#include "gap/link.hpp"

namespace ubt::test {

class FakeLink : public gap::Link {
public:
    explicit FakeLink(int& open_count) : open_count_(open_count) { ++open_count_; }
    ~FakeLink() override { --open_count_; }

    static std::unique_ptr<gap::Link> make(int& open_count) { return std::make_unique<FakeLink>(open_count); }

private:
    int& open_count_;
};

}  // namespace ubt::test
