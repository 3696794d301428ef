#pragma once
// Links whose life a test can watch (a counter of those alive) and that
// keep what is sent on them.

#include <memory>
#include <vector>

#include "gap/link.hpp"

namespace ubt::test {

class FakeLink : public gap::Link {
public:
    explicit FakeLink(int& open_count) : open_count_(open_count) { ++open_count_; }
    ~FakeLink() override { --open_count_; }
    void send(ByteView pdu) override { sent.emplace_back(pdu.begin(), pdu.end()); }
    std::optional<gap::SecurityLevel> security() const override { return level; }
    // Records the request; false (already there) when `level` is that high.
    bool request_security(uint8_t wanted) override {
        requested.push_back(wanted);
        return level.level < wanted;
    }
    std::optional<LeAddress> peer_address() const override { return peer; }

    static std::unique_ptr<gap::Link> make(int& open_count) { return std::make_unique<FakeLink>(open_count); }

    std::vector<Bytes> sent;
    gap::SecurityLevel level;
    std::vector<uint8_t> requested;
    std::optional<LeAddress> peer;

private:
    int& open_count_;
};

}  // namespace ubt::test
