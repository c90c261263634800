# tests/fuzz/serve.cmake - the distribution node's handlers fuzz target (fuzz_serve.c, seeds in corpus/serve/): frames
# from an authenticated peer through ac_dist_node__on_frame (dist/node_serve.c, node_call.c) on a node with no
# sockets. replay_serve runs the corpus under ctest, and serve_seeds checks what named seeds must do; with
# -DAC_FUZZ=ON and clang, fuzz_serve (the handlers and the parsers they use compiled again with instrumentation; the
# rest of the node comes from ac_dist).
option(AC_FUZZ "Build libFuzzer targets (clang)" OFF)

add_executable(replay_serve fuzz_serve.c replay.c)
target_link_libraries(replay_serve PRIVATE ac_dist)
add_test(NAME fuzz_replay_serve COMMAND replay_serve ${CMAKE_CURRENT_SOURCE_DIR}/corpus/serve)
set_tests_properties(fuzz_replay_serve PROPERTIES TIMEOUT 120)

add_executable(serve_seeds serve_seeds.c fuzz_serve.c)
target_link_libraries(serve_seeds PRIVATE ac_dist)
add_test(NAME fuzz_serve_seeds COMMAND serve_seeds ${CMAKE_CURRENT_SOURCE_DIR}/corpus/serve)
set_tests_properties(fuzz_serve_seeds PROPERTIES TIMEOUT 60)

if(AC_FUZZ)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_serve fuzz_serve.c
      ${CMAKE_SOURCE_DIR}/dist/node_serve.c ${CMAKE_SOURCE_DIR}/dist/node_call.c ${CMAKE_SOURCE_DIR}/dist/node_conn.c
      ${CMAKE_SOURCE_DIR}/dist/ctrl.c ${CMAKE_SOURCE_DIR}/dist/etf_check.c ${CMAKE_SOURCE_DIR}/dist/term_json.c)
    target_compile_options(fuzz_serve PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_serve PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_serve PRIVATE ac_dist)
  else()
    message(WARNING "AC_FUZZ needs clang (CMAKE_C_COMPILER=clang); fuzz_serve is not built")
  endif()
endif()
