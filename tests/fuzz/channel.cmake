# tests/fuzz/channel.cmake - the SkillAPI channel fuzz target (fuzz_channel.c, seeds in corpus/channel/): frames and
# messages from a sandboxed skill, skills/channel.c. Always: replay_channel runs every corpus file under ctest. With
# -DAC_FUZZ=ON and clang: fuzz_channel, the libFuzzer binary (skills/channel.c compiled again with instrumentation).
option(AC_FUZZ "Build libFuzzer targets (clang)" OFF)

add_executable(replay_channel fuzz_channel.c replay.c)
target_link_libraries(replay_channel PRIVATE ac_skills)
add_test(NAME fuzz_replay_channel COMMAND replay_channel ${CMAKE_CURRENT_SOURCE_DIR}/corpus/channel)
set_tests_properties(fuzz_replay_channel PROPERTIES TIMEOUT 120)

if(AC_FUZZ)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_channel fuzz_channel.c ${CMAKE_SOURCE_DIR}/skills/channel.c)
    target_compile_options(fuzz_channel PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_channel PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_channel PRIVATE ac_policy PkgConfig::JANSSON)
  else()
    message(WARNING "AC_FUZZ needs clang (CMAKE_C_COMPILER=clang); fuzz_channel is not built")
  endif()
endif()
