# tests/fuzz/handshake.cmake - the distribution handshake and framing fuzz target (fuzz_handshake.c, seeds in
# corpus/handshake/).
# Always: replay_handshake runs every corpus file under ctest with the build's own flags (and sanitizers, with
# AC_SANITIZE). With -DAC_FUZZ=ON and clang: fuzz_handshake, the libFuzzer binary. dist/handshake.c, frame.c and
# flags.c are compiled into it again with the fuzzer's instrumentation; ac_node_core supplies the rest (log, error
# table, OpenSSL-backed crypto helpers).
option(AC_FUZZ "Build libFuzzer targets (clang)" OFF)

add_executable(replay_handshake fuzz_handshake.c replay.c)
target_link_libraries(replay_handshake PRIVATE ac_dist)
add_test(NAME fuzz_replay_handshake COMMAND replay_handshake ${CMAKE_CURRENT_SOURCE_DIR}/corpus/handshake)
set_tests_properties(fuzz_replay_handshake PROPERTIES TIMEOUT 120)

if(AC_FUZZ)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_handshake fuzz_handshake.c ${CMAKE_SOURCE_DIR}/dist/handshake.c
                   ${CMAKE_SOURCE_DIR}/dist/frame.c ${CMAKE_SOURCE_DIR}/dist/flags.c)
    target_compile_options(fuzz_handshake PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_handshake PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_handshake PRIVATE ac_node_core)
  else()
    message(WARNING "AC_FUZZ needs clang (CMAKE_C_COMPILER=clang); fuzz_handshake is not built")
  endif()
endif()
