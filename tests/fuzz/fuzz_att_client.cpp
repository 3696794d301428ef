// libFuzzer target: the GATT client against a hostile server. The input
// interleaves gattc_* calls, next_request(), set_mtu(), fail_all() and
// server PDUs (raw, or shaped after the request in flight so the fuzzer gets
// past the opcode checks). The client must never send a request longer than
// its ATT_MTU, queue more than kMaxQueued procedures, report a value longer
// than 512 octets, or raise results out of order or for nothing it was asked.
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "att/att_protocol.hpp"
#include "core/bytes.hpp"
#include "core/error.hpp"
#include "gatt/client.hpp"

namespace {

using namespace ubt;
using namespace ubt::gatt;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

enum class Kind { Services, Characteristics, Descriptors, Read, Write, Mtu };

// What the client was asked, in order: its results must come in the same order.
struct Asked {
    Kind kind;
    uint16_t start = 0, end = 0;  // a discovery's range; a read's or write's handle in start
};

struct Model {
    std::deque<Asked> queue;
    uint16_t local_mtu = 23;

    // An MTU exchange may end silently (bad response, timeout): when anything
    // after it reports, it is gone.
    void drop_silent_mtu() {
        while (!queue.empty() && queue.front().kind == Kind::Mtu) queue.pop_front();
    }
    const Asked& front(Kind kind) {
        if (kind != Kind::Mtu) drop_silent_mtu();
        check(!queue.empty() && queue.front().kind == kind);
        return queue.front();
    }
    void done(Kind kind) {
        front(kind);
        queue.pop_front();
    }
    size_t at_least() const {
        size_t n = 0;
        for (const auto& a : queue) n += a.kind != Kind::Mtu;
        return n;
    }
};

ClientEvents events(Model& m) {
    ClientEvents e;
    e.service = [&m](uint16_t start, uint16_t end, const att::Uuid&) {
        m.front(Kind::Services);
        check(start != 0 && start <= end);
    };
    e.services_done = [&m](uint16_t) { m.done(Kind::Services); };
    e.characteristic = [&m](uint16_t end, uint16_t, uint8_t, const att::Uuid&) {
        const Asked& a = m.front(Kind::Characteristics);
        check(end >= a.start && end <= a.end);
    };
    e.characteristics_done = [&m](uint16_t) { m.done(Kind::Characteristics); };
    e.descriptor = [&m](uint16_t handle, const att::Uuid&) {
        const Asked& a = m.front(Kind::Descriptors);
        check(handle > a.start && handle <= a.end);
    };
    e.descriptors_done = [&m](uint16_t) { m.done(Kind::Descriptors); };
    e.read_result = [&m](uint16_t handle, ByteView value) {
        check(m.front(Kind::Read).start == handle);
        check(value.size() <= att::kMaxValueLength);
    };
    e.read_done = [&m](uint16_t handle, uint16_t) {
        check(m.front(Kind::Read).start == handle);
        m.done(Kind::Read);
    };
    e.write_done = [&m](uint16_t handle, uint16_t) {
        check(m.front(Kind::Write).start == handle);
        m.done(Kind::Write);
    };
    e.notified = [](uint16_t, ByteView value) { check(value.size() <= att::kMaxValueLength); };
    e.indicated = [](uint16_t, ByteView value) { check(value.size() <= att::kMaxValueLength); };
    e.mtu_exchanged = [&m](uint16_t mtu) {
        check(mtu >= att::kDefaultMtu && mtu <= m.local_mtu);
        m.done(Kind::Mtu);
    };
    return e;
}

struct Driver {
    Model model;
    Client client;
    ByteReader in;
    std::optional<Bytes> last;  // the request in flight
    bool mtu_asked = false;

    Driver(uint16_t local_mtu, ByteView data) : client(local_mtu, events(model)), in(data) {
        model.local_mtu = local_mtu;
    }

    // Queues one procedure; Busy exactly when kMaxQueued are waiting.
    // False when the client refused it.
    template <typename F>
    bool ask(Asked a, F&& call) {
        size_t before = model.queue.size();
        try {
            call();
        } catch (const BleError& e) {
            if (e.code() == ErrorCode::Busy) check(before >= Client::kMaxQueued);
            return false;
        }
        check(model.at_least() < Client::kMaxQueued);  // there was room
        model.queue.push_back(a);
        return true;
    }

    void send_next() {
        bool awaiting = client.awaiting_response();
        auto request = client.next_request();
        if (!request) return;
        check(!awaiting);  // one outstanding request at a time
        check(!request->empty() && request->size() <= client.mtu());
        check(client.awaiting_response());
        last = request;
    }

    void feed(const Bytes& pdu) {
        auto reply = client.handle(pdu);
        if (reply) check(*reply == Bytes{att::op::HandleValueCfm} && pdu[0] == att::op::HandleValueInd);
    }

    Bytes payload(size_t n) {
        ByteView b = in.bytes(n < in.remaining() ? n : in.remaining());
        return Bytes(b.begin(), b.end());
    }

    // A well-formed answer to the request in flight, its entries placed by
    // input octets: mostly inside the range asked, sometimes not.
    Bytes plausible(const Bytes& request) {
        ByteReader req(ByteView(request).subspan(1));
        uint8_t opcode = request[0];
        ByteWriter w;
        w.u8(static_cast<uint8_t>(opcode + 1));
        uint32_t at = req.u16le();
        size_t entries = 1 + in.u8() % 3;
        switch (opcode) {
            case att::op::ExchangeMtuReq: w.u16le(in.u16le()); break;
            case att::op::ReadByGroupTypeReq:
            case att::op::FindByTypeValueReq:
                if (opcode == att::op::ReadByGroupTypeReq) w.u8(6);
                for (size_t i = 0; i < entries; ++i) {
                    at += in.u8() % 4;
                    uint32_t end = std::min<uint32_t>(at + in.u8(), 0xffff);
                    if (in.u8() == 0xff) end = 0xffff;
                    w.u16le(static_cast<uint16_t>(at)).u16le(static_cast<uint16_t>(end));
                    if (opcode == att::op::ReadByGroupTypeReq) w.u16le(0x1800);
                    at = end + 1;
                }
                break;
            case att::op::ReadByTypeReq:
                w.u8(7);
                for (size_t i = 0; i < entries; ++i) {
                    at += in.u8() % 4;
                    w.u16le(static_cast<uint16_t>(at)).u8(in.u8()).u16le(static_cast<uint16_t>(at + 1)).u16le(in.u16le());
                    at += 2;
                }
                break;
            case att::op::FindInformationReq:
                w.u8(1);
                for (size_t i = 0; i < entries; ++i) {
                    at += in.u8() % 3;
                    w.u16le(static_cast<uint16_t>(at)).u16le(0x2902);
                    ++at;
                }
                break;
            case att::op::ReadReq:
            case att::op::ReadBlobReq: {
                size_t n = in.u8() & 1 ? client.mtu() - 1u : in.u8() % client.mtu();
                for (size_t i = 0; i < n; ++i) w.u8(static_cast<uint8_t>(i));
                break;
            }
            case att::op::PrepareWriteReq: {  // the echo
                Bytes echo = request;
                echo[0] = att::op::PrepareWriteRsp;
                return echo;
            }
            default: break;  // Write and Execute Write Responses have no parameters
        }
        return w.take();
    }

    // A handle range: mostly a valid one, sometimes any two handles.
    std::pair<uint16_t, uint16_t> range(uint8_t op) {
        uint16_t s = in.u16le();
        if (op & 0x40) return {s, in.u16le()};
        return {s, static_cast<uint16_t>(std::min(s + in.u8(), 0xffff))};
    }

    void step() {
        uint8_t op = in.u8();
        switch (op % 18) {
            case 0: ask({Kind::Services}, [&] { client.discover_services(std::nullopt); }); break;
            case 1: {
                auto u = att::Uuid::from16(in.u16le());
                ask({Kind::Services}, [&] { client.discover_services(u); });
                break;
            }
            case 2: {
                auto u = att::Uuid::from_att(in.bytes(16));
                if (u) ask({Kind::Services}, [&] { client.discover_services(u); });
                break;
            }
            case 3: {
                auto [s0, e0] = range(op);
                uint16_t s = s0, e = e0;
                std::optional<att::Uuid> u;
                if (op & 0x10) u = att::Uuid::from16(in.u16le());
                ask({Kind::Characteristics, s, e}, [&] { client.discover_characteristics(s, e, u); });
                break;
            }
            case 4: {
                auto [s0, e0] = range(op);
                uint16_t s = s0, e = e0;
                ask({Kind::Descriptors, s, e}, [&] { client.discover_descriptors(s, e); });
                break;
            }
            case 5: {
                uint16_t h = in.u16le();
                ask({Kind::Read, h}, [&] { client.read(h); });
                break;
            }
            case 6: {
                uint16_t h = in.u16le();
                Bytes value;
                size_t n = in.u16le() % 600;
                for (size_t i = 0; i < n; ++i) value.push_back(static_cast<uint8_t>(op + i));
                ask({Kind::Write, h}, [&] { client.write(h, value); });
                break;
            }
            case 7: {
                // Once per connection: InProgress after the first, even when
                // that one is over.
                bool in_progress = false;
                bool queued = ask({Kind::Mtu}, [&] {
                    try {
                        client.exchange_mtu();
                    } catch (const BleError& e) {
                        in_progress = e.code() == ErrorCode::InProgress;
                        throw;
                    }
                });
                check(!queued || !mtu_asked);
                check(in_progress == mtu_asked);
                mtu_asked = mtu_asked || queued;
                break;
            }
            case 8: {
                uint16_t h = in.u16le();
                Bytes value(in.u8() * 3u, 0x5a);
                try {
                    Bytes pdu = client.write_command(h, value);
                    check(pdu.size() <= client.mtu() && pdu.size() == value.size() + 3);
                } catch (const BleError&) {
                    check(h == 0 || value.size() > client.mtu() - 3u);
                }
                break;
            }
            case 9: {
                // The server side exchanged: an MTU between 23 and ours.
                client.set_mtu(static_cast<uint16_t>(att::kDefaultMtu + in.u16le() % (model.local_mtu - 22)));
                break;
            }
            case 10: send_next(); break;
            case 11: {  // any PDU
                Bytes pdu = payload(in.u16le() % 700);
                if (!pdu.empty()) feed(pdu);
                break;
            }
            case 12: {  // a response to the request in flight: well-formed, or any parameters
                if (!last) break;
                if (op & 0x20) {
                    feed(plausible(*last));
                    break;
                }
                Bytes pdu = payload(in.u16le() % 600);
                pdu.insert(pdu.begin(), static_cast<uint8_t>((*last)[0] + 1));
                feed(pdu);
                break;
            }
            case 13: {  // an Error Response to the request in flight
                if (!last) break;
                uint16_t h = in.u16le();
                feed({att::op::ErrorRsp, (*last)[0], static_cast<uint8_t>(h), static_cast<uint8_t>(h >> 8), in.u8()});
                break;
            }
            case 14: {  // the transaction timer expired, or the link went down
                static constexpr uint16_t statuses[] = {status::NotConnected, status::BadData, status::Timeout, 0x10e};
                client.fail_all(statuses[in.u8() % 4]);
                check(!client.awaiting_response());
                model.drop_silent_mtu();
                check(model.queue.empty());  // every procedure got its result
                check(!client.next_request());
                break;
            }
            case 15: {  // a notification or an indication
                Bytes pdu = payload(in.u16le() % 600);
                pdu.insert(pdu.begin(), (op & 0x10) ? att::op::HandleValueInd : att::op::HandleValueNtf);
                feed(pdu);
                break;
            }
            case 16: {  // many reads at once, until the queue is full
                size_t n = in.u8() % 80;
                for (size_t i = 0; i < n; ++i) {
                    auto h = static_cast<uint16_t>(i + 1);
                    if (!ask({Kind::Read, h}, [&] { client.read(h); })) break;
                }
                break;
            }
            case 17: {  // the client's next request answered at once, plausibly
                send_next();
                if (last && client.awaiting_response()) feed(plausible(*last));
                break;
            }
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    // The first two octets: config('mtu'), 23 to 517 as the adapter allows.
    auto local_mtu = static_cast<uint16_t>(att::kDefaultMtu + (data[0] | data[1] << 8) % 495);
    Driver d(local_mtu, ByteView(data + 2, size - 2));
    while (d.in.remaining() > 0) d.step();
    d.client.fail_all(status::NotConnected);
    d.model.drop_silent_mtu();
    check(d.model.queue.empty());
    return 0;
}
