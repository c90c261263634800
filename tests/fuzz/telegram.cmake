# tests/fuzz/telegram.cmake - the Telegram Bot API fuzz target (fuzz_telegram.c, seeds in corpus/telegram/): getUpdates
# and error answers, answer_ok, command lines and the splitting of long texts, all from node/tg_proto.c.
# Always: replay_telegram runs every corpus file under ctest with the build's own flags (and sanitizers, with
# AC_SANITIZE). With -DAC_FUZZ=ON and clang: fuzz_telegram, the libFuzzer binary. node/tg_proto.c is compiled into it
# again with the fuzzer's instrumentation (ac_node_core itself is built without coverage); ac_policy supplies the
# allocator and the error table, jansson the JSON parser.
option(AC_FUZZ "Build libFuzzer targets (clang)" OFF)

add_executable(replay_telegram fuzz_telegram.c replay.c)
target_link_libraries(replay_telegram PRIVATE ac_node_core)
add_test(NAME fuzz_replay_telegram COMMAND replay_telegram ${CMAKE_CURRENT_SOURCE_DIR}/corpus/telegram)
set_tests_properties(fuzz_replay_telegram PROPERTIES TIMEOUT 120)

if(AC_FUZZ)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_telegram fuzz_telegram.c ${CMAKE_SOURCE_DIR}/node/tg_proto.c)
    target_compile_options(fuzz_telegram PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_telegram PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_telegram PRIVATE ac_policy PkgConfig::JANSSON)
  else()
    message(WARNING "AC_FUZZ needs clang (CMAKE_C_COMPILER=clang); fuzz_telegram is not built")
  endif()
endif()
