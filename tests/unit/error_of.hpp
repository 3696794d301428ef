#pragma once
// The ErrorCode of the BleError a call throws; fails the test if it throws none.

#include <catch2/catch.hpp>

#include <functional>

#include "core/error.hpp"

namespace ubt::test {

inline ErrorCode error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const BleError& e) {
        return e.code();
    }
    FAIL("expected a BleError");
    return ErrorCode::Failed;
}

}  // namespace ubt::test
