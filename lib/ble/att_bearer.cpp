#include "att_bearer.hpp"

#include <string>

#include "core/error.hpp"

namespace ubt::ble {

namespace {

// Server-bound PDUs: requests, commands and confirmations. The rest
// (responses, notifications, indications) are the client's.
bool for_server(uint8_t opcode) {
    switch (opcode) {
        case att::op::ErrorRsp:
        case att::op::ExchangeMtuRsp:
        case att::op::FindInformationRsp:
        case att::op::FindByTypeValueRsp:
        case att::op::ReadByTypeRsp:
        case att::op::ReadRsp:
        case att::op::ReadBlobRsp:
        case att::op::ReadMultipleRsp:
        case att::op::ReadByGroupTypeRsp:
        case att::op::WriteRsp:
        case att::op::PrepareWriteRsp:
        case att::op::ExecuteWriteRsp:
        case att::op::HandleValueNtf:
        case att::op::HandleValueInd:
        case att::op::ReadMultipleVariableRsp: return false;
        default: return true;  // unknown opcodes get the server's answer
    }
}

}  // namespace

AttBearer::AttBearer(uint16_t conn_handle, uint16_t local_mtu, Context context)
    : conn_handle_(conn_handle), local_mtu_(local_mtu), context_(std::move(context)) {
    make_server();
    EventQueue& q = context_.events;
    uint16_t c = conn_handle;
    client_ = std::make_unique<gatt::Client>(
        local_mtu,
        gatt::ClientEvents{
            [&q, c](uint16_t start, uint16_t end, const att::Uuid& u) { q.push(GattcServiceResult{c, start, end, u}); },
            [&q, c](uint16_t s) { q.push(GattcServiceDone{{c, s}}); },
            [&q, c](uint16_t end, uint16_t value, uint8_t props, const att::Uuid& u) {
                q.push(GattcCharacteristicResult{c, end, value, props, u});
            },
            [&q, c](uint16_t s) { q.push(GattcCharacteristicDone{{c, s}}); },
            [&q, c](uint16_t h, const att::Uuid& u) { q.push(GattcDescriptorResult{c, h, u}); },
            [&q, c](uint16_t s) { q.push(GattcDescriptorDone{{c, s}}); },
            [&q, c](uint16_t h, ByteView v) { q.push(GattcReadResult{{c, h, Bytes(v.begin(), v.end())}}); },
            [&q, c](uint16_t h, uint16_t s) { q.push(GattcReadDone{{c, h, s}}); },
            [&q, c](uint16_t h, uint16_t s) { q.push(GattcWriteDone{{c, h, s}}); },
            [&q, c](uint16_t h, ByteView v) { q.push(GattcNotify{{c, h, Bytes(v.begin(), v.end())}}); },
            [&q, c](uint16_t h, ByteView v) { q.push(GattcIndicate{{c, h, Bytes(v.begin(), v.end())}}); },
            [this, &q, c](uint16_t mtu) {
                server_->set_mtu(mtu);
                q.push(MtuExchanged{c, mtu});
            },
            [this](uint8_t att_error) { return context_.raise_security && context_.raise_security(att_error); },
        });
}

void AttBearer::security_changed() {
    client_->security_raised();
    flush();
}

void AttBearer::security_failed() {
    client_->security_failed();
    flush();
}

AttBearer::~AttBearer() {
    context_.timers.cancel(ask_timer_);
    context_.timers.cancel(response_timer_);
    context_.timers.cancel(confirmation_timer_);
}

void AttBearer::make_server() {
    EventQueue& q = context_.events;
    uint16_t c = conn_handle_;
    server_ = std::make_unique<gatt::Server>(
        context_.db, local_mtu_,
        gatt::ServerEvents{
            [&q, c](uint16_t h) { q.push(GattsWrite{{c, h}}); },
            [this, &q, c](uint16_t mtu) {
                client_->set_mtu(mtu);
                q.push(MtuExchanged{c, mtu});
            },
            [&q, c](uint16_t h, uint16_t s) { q.push(GattsIndicateDone{{c, h, s}}); },
        });
    server_->ask_before_reads(static_cast<bool>(asker_));
}

void AttBearer::send(ByteView pdu) {
    if (timed_out_) return;  // nothing more may go on this bearer
    if (!outbox_.empty() || !context_.send(pdu)) outbox_.emplace_back(pdu.begin(), pdu.end());
}

size_t AttBearer::waiting() const { return outbox_.size() + (context_.backlog ? context_.backlog() : 0); }

void AttBearer::link_attached() {
    while (!outbox_.empty() && context_.send(outbox_.front())) outbox_.pop_front();
}

void AttBearer::on_pdu(ByteView pdu) {
    if (pdu.empty() || timed_out_) return;
    // A peer that sends requests (or indications) faster than it takes our
    // answers would grow the queue without end: beyond the limit they go
    // unanswered, and the peer's own transaction timer ends the link.
    uint8_t opcode = pdu[0];
    bool needs_answer = !(opcode & att::op::CommandFlag) && opcode != att::op::HandleValueCfm &&
                        opcode != att::op::HandleValueNtf && (for_server(opcode) || opcode == att::op::HandleValueInd);
    if (needs_answer && waiting() >= kMaxAnswerBacklog) return;
    if (for_server(opcode)) {
        gatt::LinkSecurity security = context_.security ? context_.security() : gatt::LinkSecurity{};
        after_server(server_->handle(pdu, security));
        return;
    }
    if (auto confirmation = client_->handle(pdu)) send(*confirmation);
    flush();
}

void AttBearer::after_server(std::optional<Bytes> response) {
    if (response) send(*response);
    if (!server_->held_reads().empty() && awaited_answers_ == 0) ask_held_reads();
    // Each indication sent has its own 30 s for the confirmation.
    bool indicated = response && !response->empty() && (*response)[0] == att::op::HandleValueInd;
    arm(confirmation_timer_, server_->awaiting_confirmation(), indicated);
}

void AttBearer::ask_held_reads() {
    uint64_t ask = ++ask_;
    answers_.clear();
    // A copy: an answer given at once resumes the request, which clears the list.
    std::vector<uint16_t> handles = server_->held_reads();
    awaited_answers_ = handles.size();
    context_.timers.cancel(ask_timer_);
    ask_timer_ = context_.timers.start(kReadRequestTimeout, [this, ask] {
        ask_timer_ = 0;
        if (ask == ask_ && awaited_answers_ > 0) deny_unanswered();  // no answer in time
    });
    std::weak_ptr<AttBearer> self = weak_from_this();
    for (uint16_t handle : handles) {
        if (ask != ask_ || awaited_answers_ == 0) break;  // answered (or denied) already
        context_.events.push(GattsReadRequest{{conn_handle_, handle}});
        asker_(conn_handle_, handle, [self, ask, handle](uint32_t status) {
            if (auto bearer = self.lock()) bearer->answered(ask, handle, status);
        });
    }
}

void AttBearer::answered(uint64_t ask, uint16_t handle, uint32_t status) {
    if (ask != ask_ || awaited_answers_ == 0 || answers_.count(handle)) return;
    // An ATT error code denies; anything beyond one is not one.
    answers_[handle] = status <= 0xff ? static_cast<uint8_t>(status) : att::error::UnlikelyError;
    if (--awaited_answers_ == 0) resume_held();
}

void AttBearer::deny_unanswered() {
    for (uint16_t handle : server_->held_reads()) answers_.try_emplace(handle, att::error::UnlikelyError);
    resume_held();
}

void AttBearer::resume_held() {
    awaited_answers_ = 0;
    context_.timers.cancel(ask_timer_);
    ask_timer_ = 0;
    std::map<uint16_t, uint8_t> answers = std::move(answers_);
    answers_.clear();
    after_server(server_->resume(answers));
}

void AttBearer::set_read_asker(ReadRequestAsker asker) {
    if (!asker && awaited_answers_ > 0) {
        deny_unanswered();  // the handler goes away while it is asked
    }
    asker_ = std::move(asker);
    server_->ask_before_reads(static_cast<bool>(asker_));
}

void AttBearer::check_backlog() const {
    if (timed_out_) {
        throw BleError(ErrorCode::Failed, "this connection's ATT timed out: nothing more may be sent on it");
    }
    if (waiting() >= kMaxBacklog) {
        throw BleError(ErrorCode::Busy, std::to_string(waiting()) +
                                            " PDUs already wait to be sent on this connection: retry when they have gone");
    }
}

void AttBearer::notify(uint16_t value_handle, ByteView value) {
    check_backlog();
    send(server_->notification(value_handle, value));
}

void AttBearer::indicate(uint16_t value_handle, ByteView value) {
    auto pdu = server_->indicate(value_handle, value);
    after_server(std::move(pdu));
}

bool AttBearer::send_update(uint16_t value_handle, ByteView value) {
    uint16_t cccd = server_->subscription(value_handle);
    try {
        if (cccd & 0x0001) notify(value_handle, value);
        if (cccd & 0x0002) indicate(value_handle, value);
    } catch (const BleError&) {
        return false;  // this client's link is full or gone
    }
    return true;
}

void AttBearer::write_command(uint16_t value_handle, ByteView value) {
    Bytes pdu = client_->write_command(value_handle, value);
    check_backlog();
    send(pdu);
}

void AttBearer::flush() {
    bool sent = false;
    while (auto request = client_->next_request()) {
        send(*request);
        sent = true;
    }
    // Each request sent has its own 30 s for the response.
    arm(response_timer_, client_->awaiting_response(), sent);
}

void AttBearer::arm(Timers::Id& timer, bool wanted, bool restart) {
    if (wanted && timer != 0 && !restart) return;  // the same transaction: its timer runs on
    context_.timers.cancel(timer);
    timer = 0;
    if (!wanted) return;
    timer = context_.timers.start(kTransactionTimeout, [this, &timer] {
        timer = 0;
        timed_out();
    });
}

void AttBearer::timed_out() {
    // Vol 3 Part F 3.3.3: after a transaction timeout nothing more may be
    // sent on the bearer, so the link ends.
    timed_out_ = true;
    client_->fail_all(gatt::status::Timeout);
    server_->fail_indications(gatt::status::Timeout);
    context_.timers.cancel(response_timer_);
    context_.timers.cancel(confirmation_timer_);
    response_timer_ = confirmation_timer_ = 0;
    context_.disconnect();
}

void AttBearer::end() {
    client_->fail_all(gatt::status::NotConnected);
    server_->fail_indications(gatt::status::NotConnected);
}

void AttBearer::services_changing() {
    if (awaited_answers_ > 0) deny_unanswered();  // answered from the old services, while they last
    server_->fail_indications(gatt::status::NotConnected);
}

void AttBearer::services_changed() {
    uint16_t mtu = server_->mtu();
    make_server();
    server_->set_mtu(mtu);
    after_server(std::nullopt);
}

}  // namespace ubt::ble
