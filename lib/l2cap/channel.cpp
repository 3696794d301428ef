#include "channel.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"

namespace ubt::l2cap {

Channel::Channel(ChannelInfo info, std::unique_ptr<Socket> socket, ChannelEvents events, size_t buffer_limit)
    : info_(info),
      socket_(std::move(socket)),
      events_(std::move(events)),
      buffer_limit_(std::max<size_t>(buffer_limit, info.our_mtu)) {
    socket_->start({[this] { readable(); }, [this] { writable(); }, [this] { end(); }});
}

bool Channel::send(ByteView sdu) {
    if (ended_) throw BleError(ErrorCode::NotFound, "the channel has disconnected");
    if (sdu.empty()) throw BleError(ErrorCode::InvalidArgs, "l2cap_send needs at least one byte");
    if (sdu.size() > info_.peer_mtu || sdu.size() > 2u * info_.our_mtu) {
        throw BleError(ErrorCode::InvalidArgs,
                       "l2cap_send takes at most the peer's MTU (" + std::to_string(info_.peer_mtu) +
                           ") and twice ours (" + std::to_string(2 * info_.our_mtu) + "), not " +
                           std::to_string(sdu.size()) + " bytes");
    }
    if (unsent_) {
        throw BleError(ErrorCode::Busy, "the channel is stalled: wait for L2capSendReady before sending again");
    }
    switch (socket_->send(sdu)) {
        case Socket::Sent::Yes: return true;
        case Socket::Sent::NoRoom:
            // Taken all the same; it goes when the peer grants credits.
            unsent_.emplace(sdu.begin(), sdu.end());
            socket_->watch_writable(true);
            return false;
        case Socket::Sent::Failed: break;
    }
    throw BleError(ErrorCode::Failed, "the kernel refused the data: the channel is closing");
}

void Channel::writable() {
    if (ended_) return;
    if (!unsent_) {
        socket_->watch_writable(false);
        return;
    }
    Socket::Sent sent = socket_->send(*unsent_);
    if (sent == Socket::Sent::NoRoom) return;  // not yet
    unsent_.reset();
    socket_->watch_writable(false);
    // Failed: the SDU is lost and the application must send it again (status 1).
    if (events_.send_ready) events_.send_ready(sent == Socket::Sent::Yes ? 0 : 1);
}

void Channel::readable() {
    if (!ended_) fill(false);
}

void Channel::end() {
    if (ended_) return;
    ended_ = true;
    unsent_.reset();  // never sent: the channel is gone (DISCONNECT, not SEND_READY)
    // What the peer sent before the end stays readable; the kernel's queue
    // is bounded by the socket's small receive buffer.
    fill(true);
    if (events_.disconnected) events_.disconnected();  // last: the owner may forget the channel
}

void Channel::fill(bool all) {
    bool was_empty = buffered_ == 0;
    while (all || buffered_ < buffer_limit_) {
        auto sdu = socket_->receive();
        if (!sdu) break;
        buffered_ += sdu->size();
        received_.push_back(std::move(*sdu));
    }
    // A full buffer stops reading: the rest waits in the kernel, not here.
    bool want = !ended_ && buffered_ < buffer_limit_;
    if (want != reading_) {
        reading_ = want;
        socket_->watch_readable(want);
    }
    if (was_empty && buffered_ > 0 && events_.received) events_.received();
}

Bytes Channel::receive(size_t max) {
    Bytes out;
    while (out.size() < max && !received_.empty()) {
        const Bytes& front = received_.front();
        size_t n = std::min(max - out.size(), front.size() - read_offset_);
        out.insert(out.end(), front.begin() + static_cast<std::ptrdiff_t>(read_offset_),
                   front.begin() + static_cast<std::ptrdiff_t>(read_offset_ + n));
        read_offset_ += n;
        if (read_offset_ == front.size()) {
            received_.pop_front();
            read_offset_ = 0;
        }
    }
    buffered_ -= out.size();
    if (!ended_ && !reading_ && buffered_ < buffer_limit_) fill(false);  // room again: read what the kernel kept
    return out;
}

std::pair<int, Bytes> Channel::release() {
    if (ended_) throw BleError(ErrorCode::NotFound, "the channel has disconnected");
    if (unsent_) {
        throw BleError(ErrorCode::Busy, "the channel is stalled: wait for L2capSendReady, then hand it over");
    }
    ended_ = true;  // first: draining must not read more from the socket
    Bytes pending = receive(buffered_);
    return {socket_->release(), std::move(pending)};
}

}  // namespace ubt::l2cap
