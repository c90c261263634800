# tests/fuzz/cron.cmake - the cron expression fuzz target (fuzz_cron.c, seeds in corpus/cron/).
# Always: replay_cron runs every corpus file under ctest with the build's own flags (and sanitizers, with AC_SANITIZE).
# With -DAC_FUZZ=ON and clang: fuzz_cron, the libFuzzer binary. The module under test is compiled into it again with
# the fuzzer's instrumentation (ac_policy itself is built without coverage); its copy of the module's object wins over
# the archive's, and ac_policy supplies the rest (the error table).
option(AC_FUZZ "Build libFuzzer targets (clang)" OFF)

add_executable(replay_cron fuzz_cron.c replay.c)
target_link_libraries(replay_cron PRIVATE ac_policy)
add_test(NAME fuzz_replay_cron COMMAND replay_cron ${CMAKE_CURRENT_SOURCE_DIR}/corpus/cron)
set_tests_properties(fuzz_replay_cron PROPERTIES TIMEOUT 120)

if(AC_FUZZ)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_cron fuzz_cron.c ${CMAKE_SOURCE_DIR}/policy/cron.c)
    target_compile_options(fuzz_cron PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_cron PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_cron PRIVATE ac_policy)
  else()
    message(WARNING "AC_FUZZ needs clang (CMAKE_C_COMPILER=clang); fuzz_cron is not built")
  endif()
endif()
