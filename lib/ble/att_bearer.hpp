#pragma once
// The ATT bearer of one connection: our GATT server and client side by side
// on the kernel's ATT channel. Routes each PDU from the peer to the side it
// belongs to, sends what they produce, runs the ATT timers (30 s for a
// response and for a confirmation), asks the application about reads, and
// raises the GATT IRQ events. Event-loop thread only.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "core/timers.hpp"
#include "event_queue.hpp"
#include "gatt/client.hpp"
#include "gatt/database.hpp"
#include "gatt/server.hpp"

namespace ubt::ble {

// Asks the application whether a client may read a value
// (_IRQ_GATTS_READ_REQUEST); answer() may be called later, or never.
using ReadRequestAsker =
    std::function<void(uint16_t conn_handle, uint16_t attr_handle, std::function<void(uint32_t status)> answer)>;

class AttBearer : public std::enable_shared_from_this<AttBearer> {
public:
    struct Context {
        gatt::Database& db;
        Timers& timers;
        EventQueue& events;
        // Sends a PDU on the connection's channel; false when the channel is
        // not there yet (the PDU is then kept until link_attached()).
        std::function<bool(ByteView pdu)> send;
        // Ends the connection: after an ATT timeout the bearer is unusable.
        std::function<void()> disconnect;
        // PDUs the channel has not handed to the kernel yet.
        std::function<size_t()> backlog;
        // What the link's encryption allows, for the security flags; empty:
        // the link counts as unencrypted.
        std::function<gatt::LinkSecurity()> security = {};
        // Our client's request was refused for want of security: raise it
        // (true when that started; security_changed() follows).
        std::function<bool(uint8_t att_error)> raise_security = {};
    };

    AttBearer(uint16_t conn_handle, uint16_t local_mtu, Context context);
    ~AttBearer();
    AttBearer(const AttBearer&) = delete;
    AttBearer& operator=(const AttBearer&) = delete;

    void on_pdu(ByteView pdu);
    // The channel is there: sends what waited for it.
    void link_attached();
    // The connection ended: what is pending ends with status NotConnected.
    void end();
    // The link's encryption changed: a client request held for it goes again.
    void security_changed();
    // Raising the link's security failed: a held client request ends.
    void security_failed();
    // The services are about to be registered again: a held read is denied
    // and indications end (status 7), on the old table.
    void services_changing();
    // They were: this client's server state (CCCDs, prepared writes) starts over.
    void services_changed();

    // Whether reads of application values are asked about, and how.
    void set_read_asker(ReadRequestAsker asker);

    // Notifications and write commands are refused with BleError(Busy)
    // while kMaxBacklog PDUs wait to be sent: the caller retries later,
    // nothing is dropped unseen.
    void notify(uint16_t value_handle, ByteView value);
    void indicate(uint16_t value_handle, ByteView value);
    // gatts_write(send_update=True): notifies or indicates as this client
    // subscribed; false when its link could not take it (Busy, timed out).
    bool send_update(uint16_t value_handle, ByteView value);

    // The client: queue a procedure, then flush() sends it when it can.
    gatt::Client& client() { return *client_; }
    void write_command(uint16_t value_handle, ByteView value);
    void flush();

    static constexpr std::chrono::seconds kTransactionTimeout{30};
    static constexpr size_t kMaxBacklog = 64;
    // Requests from the peer go unanswered while this many PDUs wait.
    static constexpr size_t kMaxAnswerBacklog = 256;
    // How long a read waits for the application's answer; then it is denied.
    static constexpr std::chrono::seconds kReadRequestTimeout{5};

private:
    void make_server();
    void send(ByteView pdu);
    // Throws BleError(Busy) while kMaxBacklog PDUs wait.
    void check_backlog() const;
    // PDUs not yet taken by the kernel.
    size_t waiting() const;
    // After the server handled something: ask about held reads, track confirmations.
    void after_server(std::optional<Bytes> response);
    void ask_held_reads();
    void answered(uint64_t ask, uint16_t handle, uint32_t status);
    void resume_held();
    // The held reads not answered yet are denied (Unlikely Error), and the request answered.
    void deny_unanswered();
    // Runs the ATT transaction timer while wanted; restart: a new transaction began.
    void arm(Timers::Id& timer, bool wanted, bool restart);
    void timed_out();

    uint16_t conn_handle_;
    uint16_t local_mtu_;
    Context context_;
    std::unique_ptr<gatt::Server> server_;
    std::unique_ptr<gatt::Client> client_;
    std::deque<Bytes> outbox_;  // PDUs waiting for the channel
    ReadRequestAsker asker_;
    // The held request being asked about: its number and the answers so far.
    uint64_t ask_ = 0;
    std::map<uint16_t, uint8_t> answers_;
    size_t awaited_answers_ = 0;
    Timers::Id ask_timer_ = 0;
    Timers::Id response_timer_ = 0;
    Timers::Id confirmation_timer_ = 0;
    bool timed_out_ = false;  // an ATT transaction timed out: the bearer is dead
};

}  // namespace ubt::ble
