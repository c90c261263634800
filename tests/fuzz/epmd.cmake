# tests/fuzz/epmd.cmake - the EPMD protocol fuzz target (fuzz_epmd.c, seeds in corpus/epmd/).
# Always: replay_epmd runs every corpus file under ctest with the build's own flags (and sanitizers, with AC_SANITIZE).
# With -DAC_FUZZ=ON and clang: fuzz_epmd, the libFuzzer binary. The codec is compiled into it again with the fuzzer's
# instrumentation (ac_epmd itself is built without coverage); its copy of proto.c wins over the archive's, and
# ac_policy supplies the rest (the error table).
option(AC_FUZZ "Build libFuzzer targets (clang)" OFF)

add_executable(replay_epmd fuzz_epmd.c replay.c ${CMAKE_SOURCE_DIR}/epmd/proto.c)
target_link_libraries(replay_epmd PRIVATE ac_policy)
add_test(NAME fuzz_replay_epmd COMMAND replay_epmd ${CMAKE_CURRENT_SOURCE_DIR}/corpus/epmd)
set_tests_properties(fuzz_replay_epmd PROPERTIES TIMEOUT 120)

if(AC_FUZZ)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_epmd fuzz_epmd.c ${CMAKE_SOURCE_DIR}/epmd/proto.c)
    target_compile_options(fuzz_epmd PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_epmd PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_epmd PRIVATE ac_policy)
  else()
    message(WARNING "AC_FUZZ needs clang (CMAKE_C_COMPILER=clang); fuzz_epmd is not built")
  endif()
endif()
