# tests/fuzz/term_json.cmake - the term <-> JSON fuzz target (fuzz_term_json.c, seeds in corpus/term_json/).
# Always: replay_term_json runs every corpus file under ctest with the build's own flags (and sanitizers, with
# AC_SANITIZE). With -DAC_FUZZ=ON and clang: fuzz_term_json, the libFuzzer binary. dist/term_json.c is compiled into
# it again with the fuzzer's instrumentation (ac_dist itself is built without coverage); ac_policy supplies the error
# table, jansson and libei the rest.
option(AC_FUZZ "Build libFuzzer targets (clang)" OFF)

add_executable(replay_term_json fuzz_term_json.c replay.c)
target_link_libraries(replay_term_json PRIVATE ac_dist)
add_test(NAME fuzz_replay_term_json COMMAND replay_term_json ${CMAKE_CURRENT_SOURCE_DIR}/corpus/term_json)
set_tests_properties(fuzz_replay_term_json PROPERTIES TIMEOUT 120)

if(AC_FUZZ)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_term_json fuzz_term_json.c ${CMAKE_SOURCE_DIR}/dist/term_json.c)
    target_compile_options(fuzz_term_json PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_term_json PRIVATE -fsanitize=fuzzer,address,undefined)
    target_include_directories(fuzz_term_json PRIVATE ${EI_INCLUDE_DIR})
    target_link_libraries(fuzz_term_json PRIVATE ac_policy PkgConfig::JANSSON ${EI_LIBRARY} Threads::Threads m)
  else()
    message(WARNING "AC_FUZZ needs clang (CMAKE_C_COMPILER=clang); fuzz_term_json is not built")
  endif()
endif()
