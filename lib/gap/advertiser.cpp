#include "advertiser.hpp"

#include <string>

#include "core/error.hpp"

namespace ubt::gap {

namespace {
[[noreturn]] void invalid(const std::string& message) { throw BleError(ErrorCode::InvalidArgs, message); }
}  // namespace

void Advertiser::advertise(const AdvertiseRequest& request, const LeAddress& own) {
    uint32_t units = request.interval_us / 625;  // rounded down, as ubluetooth documents
    if (units < kMinUnits || units > kMaxUnits) {
        invalid("interval_us must be between 20000 and 10240000, not " + std::to_string(request.interval_us));
    }
    const Bytes& adv = request.adv_data ? *request.adv_data : adv_data_;
    const Bytes& resp = request.resp_data ? *request.resp_data : resp_data_;
    bool extended = features_.extended();
    bool legacy_pdu = adv.size() <= hci::kLegacyAdvDataMax && resp.size() <= hci::kLegacyAdvDataMax;
    if (resp.size() > hci::kLegacyAdvDataMax) invalid("resp_data is longer than 31 bytes");
    if (!legacy_pdu && !extended) {
        invalid("adv_data is longer than 31 bytes, and this controller has no extended advertising");
    }
    if (adv.size() > hci::kExtAdvDataMax) invalid("adv_data is longer than 251 bytes");
    if (!legacy_pdu && !resp.empty()) {
        invalid("adv_data longer than 31 bytes needs extended advertising, which carries no scan response");
    }

    hci::AdvParameters params;
    params.interval = units;
    params.connectable = request.connectable;
    // Extended (non-legacy) PDUs cannot be connectable and scannable at once.
    params.scannable = legacy_pdu ? (request.connectable || !resp.empty()) : false;
    params.own_address_type = own.type;

    disable();
    try {
        if (extended) {
            hci_.checked(hci::le_set_ext_adv_parameters(params, legacy_pdu), "LE Set Extended Advertising Parameters");
            if (own.type == 1) set_random_address(own.address);
            hci_.checked(hci::le_set_ext_adv_data(adv), "LE Set Extended Advertising Data");
            if (params.scannable) hci_.checked(hci::le_set_ext_scan_rsp_data(resp), "LE Set Extended Scan Response Data");
        } else {
            if (own.type == 1) set_random_address(own.address);
            hci_.checked(hci::le_set_adv_parameters(params), "LE Set Advertising Parameters");
            hci_.checked(hci::le_set_adv_data(adv), "LE Set Advertising Data");
            hci_.checked(hci::le_set_scan_rsp_data(resp), "LE Set Scan Response Data");
        }
        enable();
    } catch (const BleError&) {
        disable();
        throw;
    }
    adv_data_ = adv;
    resp_data_ = resp;
    advertising_ = true;
}

void Advertiser::set_random_address(const Address& random) {
    if (features_.extended()) {
        hci_.checked(hci::le_set_adv_set_random_address(random), "LE Set Advertising Set Random Address");
    } else {
        hci_.checked(hci::le_set_random_address(random), "LE Set Random Address");
    }
}

void Advertiser::enable() {
    if (features_.extended()) {
        hci_.checked(hci::le_set_ext_adv_enable(true), "LE Set Extended Advertising Enable");
    } else {
        hci_.checked(hci::le_set_adv_enable(true), "LE Set Advertising Enable");
    }
}

void Advertiser::change_address(const Address& random) {
    if (!advertising_) return;
    disable();
    set_random_address(random);
    enable();
    advertising_ = true;
}

void Advertiser::stop() {
    if (!advertising_) return;
    disable();
}

void Advertiser::disable() {
    advertising_ = false;
    // Best effort: disabling what is off is refused by some controllers.
    try {
        hci_.command(features_.extended() ? hci::le_set_ext_adv_enable(false) : hci::le_set_adv_enable(false));
    } catch (const std::exception&) {
    }
}

void Advertiser::on_le_meta(const hci::LeMeta& meta) {
    if (meta.subevent == hci::le_ev::AdvSetTerminated) {
        advertising_ = false;
    } else if (auto c = hci::decode_connection_complete(meta)) {
        // A central connected: the controller has stopped advertising.
        if (c->status == 0 && c->role == 1) advertising_ = false;
    }
}

}  // namespace ubt::gap
