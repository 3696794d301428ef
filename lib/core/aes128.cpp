#include "aes128.hpp"

namespace ubt {

namespace {

uint8_t xtime(uint8_t a) { return static_cast<uint8_t>((a << 1) ^ ((a & 0x80) ? 0x1b : 0x00)); }

// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
uint8_t gf_mul(uint8_t a, uint8_t b) {
    uint8_t product = 0;
    for (; b; b >>= 1, a = xtime(a)) {
        if (b & 1) product ^= a;
    }
    return product;
}

uint8_t rotl8(uint8_t x, int n) { return static_cast<uint8_t>((x << n) | (x >> (8 - n))); }

// The S-box from its definition (FIPS-197 5.1.1): the multiplicative inverse
// (x^254, 0 for 0) followed by the affine transformation.
struct SBox {
    std::array<uint8_t, 256> table{};
    SBox() {
        for (int x = 0; x < 256; ++x) {
            uint8_t inverse = 1;
            for (int i = 0; i < 254; ++i) inverse = gf_mul(inverse, static_cast<uint8_t>(x));
            if (x == 0) inverse = 0;
            table[x] = inverse ^ rotl8(inverse, 1) ^ rotl8(inverse, 2) ^ rotl8(inverse, 3) ^ rotl8(inverse, 4) ^ 0x63;
        }
    }
};

const std::array<uint8_t, 256>& sbox() {
    static const SBox s;
    return s.table;
}

// The 11 round keys, 16 bytes each (FIPS-197 5.2).
std::array<uint8_t, 176> expand_key(const Block128& key) {
    const auto& s = sbox();
    std::array<uint8_t, 176> w{};
    for (int i = 0; i < 16; ++i) w[i] = key[i];
    uint8_t rcon = 0x01;
    for (int i = 4; i < 44; ++i) {
        uint8_t t[4] = {w[4 * (i - 1)], w[4 * (i - 1) + 1], w[4 * (i - 1) + 2], w[4 * (i - 1) + 3]};
        if (i % 4 == 0) {
            uint8_t first = t[0];
            t[0] = static_cast<uint8_t>(s[t[1]] ^ rcon);
            t[1] = s[t[2]];
            t[2] = s[t[3]];
            t[3] = s[first];
            rcon = xtime(rcon);
        }
        for (int j = 0; j < 4; ++j) w[4 * i + j] = w[4 * (i - 4) + j] ^ t[j];
    }
    return w;
}

// The state as FIPS-197 lays it out: byte 4c + r is row r of column c.
void add_round_key(Block128& state, const std::array<uint8_t, 176>& w, int round) {
    for (int i = 0; i < 16; ++i) state[i] ^= w[16 * round + i];
}

void sub_bytes(Block128& state) {
    const auto& s = sbox();
    for (auto& b : state) b = s[b];
}

void shift_rows(Block128& state) {
    Block128 old = state;
    for (int c = 0; c < 4; ++c) {
        for (int r = 0; r < 4; ++r) state[4 * c + r] = old[4 * ((c + r) % 4) + r];
    }
}

void mix_columns(Block128& state) {
    for (int c = 0; c < 4; ++c) {
        uint8_t* a = &state[4 * c];
        uint8_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
        a[0] = xtime(a0) ^ (xtime(a1) ^ a1) ^ a2 ^ a3;
        a[1] = a0 ^ xtime(a1) ^ (xtime(a2) ^ a2) ^ a3;
        a[2] = a0 ^ a1 ^ xtime(a2) ^ (xtime(a3) ^ a3);
        a[3] = (xtime(a0) ^ a0) ^ a1 ^ a2 ^ xtime(a3);
    }
}

}  // namespace

Block128 aes128_encrypt(const Block128& key, const Block128& plaintext) {
    auto w = expand_key(key);
    Block128 state = plaintext;
    add_round_key(state, w, 0);
    for (int round = 1; round < 10; ++round) {
        sub_bytes(state);
        shift_rows(state);
        mix_columns(state);
        add_round_key(state, w, round);
    }
    sub_bytes(state);
    shift_rows(state);
    add_round_key(state, w, 10);
    return state;
}

}  // namespace ubt
