#!/bin/bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a
# bounded time. Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET] (default 20)
# Findings (crash-*, leak-*) are left in $UBT_FUZZ_OUT (default build/fuzz).
set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-20}
out=${UBT_FUZZ_OUT:-$source_dir/build/fuzz}
mkdir -p "$out"

flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I"$source_dir/lib")
core="lib/core/bytes.cpp lib/core/address.cpp lib/core/error.cpp"
declare -A sources=(
    [fuzz_mgmt]="$core lib/mgmt/mgmt_protocol.cpp lib/mgmt/mgmt_codec.cpp lib/mgmt/mgmt_client.cpp"
    [fuzz_hci]="$core lib/hci/hci_codec.cpp lib/hci/hci_client.cpp lib/gap/le_features.cpp lib/gap/scanner.cpp lib/gap/advertiser.cpp lib/gap/connections.cpp"
    [fuzz_att_server]="$core lib/att/uuid.cpp lib/gatt/database.cpp lib/gatt/server.cpp"
    [fuzz_att_client]="$core lib/att/uuid.cpp lib/gatt/client.cpp"
    [fuzz_l2cap_channels]="$core lib/att/uuid.cpp lib/ble/event_queue.cpp lib/l2cap/channel.cpp lib/ble/l2cap_channels.cpp"
    [fuzz_bond]="$core lib/sm/bond.cpp lib/sm/key_file.cpp"
    [fuzz_identity]="$core lib/sm/key_file.cpp lib/sm/local_identity.cpp"
)
# Extra compiler flags and libraries by target: Debian's spdlog is a shared
# library built with an external fmt.
declare -A extra_flags=(
    [fuzz_l2cap_channels]="$(pkg-config --cflags spdlog 2>/dev/null || echo -DSPDLOG_SHARED_LIB -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL)"
)
declare -A libs=(
    [fuzz_l2cap_channels]="$(pkg-config --libs spdlog 2>/dev/null || echo -lspdlog -lfmt)"
)
for target in "${!sources[@]}"; do
    files=()
    for f in ${sources[$target]}; do files+=("$source_dir/$f"); done
    # shellcheck disable=SC2086 # word splitting of the extra flags is wanted
    clang++ "${flags[@]}" ${extra_flags[$target]:-} "${files[@]}" "$source_dir/tests/fuzz/$target.cpp" \
        -o "$out/$target" ${libs[$target]:-}
    mkdir -p "$out/$target-corpus"
    # Seed inputs, when the target has some (valid files the fuzzer would take long to find).
    if [ -d "$source_dir/tests/fuzz/seeds/$target" ]; then cp -n "$source_dir/tests/fuzz/seeds/$target"/* "$out/$target-corpus/"; fi
    echo "fuzz: $target for $seconds s"
    (cd "$out" && "./$target" -max_total_time="$seconds" -print_final_stats=1 "$target-corpus" 2>&1 | tail -12)
done
