#include "channel.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"

namespace ubt::l2cap {

Channel::Channel(ChannelInfo info, std::unique_ptr<Socket> socket, ChannelEvents events, size_t buffer_limit)
    : info_(info),
      socket_(std::move(socket)),
      events_(std::move(events)),
      buffer_limit_(std::max<size_t>(buffer_limit, info.our_mtu)) {}

bool Channel::send(ByteView sdu) {
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
    throw BleError(ErrorCode::Failed, "the channel is closing: the data was not sent");
}

void Channel::writable() {
    if (!unsent_) {
        socket_->watch_writable(false);
        return;
    }
    Socket::Sent sent = socket_->send(*unsent_);
    if (sent == Socket::Sent::NoRoom) return;  // not yet
    unsent_.reset();
    socket_->watch_writable(false);
    if (events_.send_ready) events_.send_ready(sent == Socket::Sent::Yes ? 0 : 1);
}

void Channel::readable() { fill(); }

void Channel::fill() {
    bool was_empty = buffered_ == 0;
    while (buffered_ < buffer_limit_) {
        auto sdu = socket_->receive();
        if (!sdu) break;
        buffered_ += sdu->size();
        received_.push_back(std::move(*sdu));
    }
    // A full buffer stops reading: the rest waits in the kernel, not here.
    bool want = buffered_ < buffer_limit_;
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
    if (!reading_ && buffered_ < buffer_limit_) fill();  // room again: read what the kernel kept
    return out;
}

}  // namespace ubt::l2cap
