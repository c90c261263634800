# tests/fuzz/wf_import.cmake - the workflow import fuzz target (fuzz_wf_import.c, seeds in corpus/wf_import/):
# documents through ac_node_wf_import_check (node/wf_io.c), without a database. replay_wf_import runs the corpus
# under ctest; with -DAC_FUZZ=ON and clang, fuzz_wf_import (node/wf_io.c and policy/cron.c compiled again with
# instrumentation; the rest comes from ac_node_engine).
option(AC_FUZZ "Build libFuzzer targets (clang)" OFF)

add_executable(replay_wf_import fuzz_wf_import.c replay.c)
target_link_libraries(replay_wf_import PRIVATE ac_node_engine)
add_test(NAME fuzz_replay_wf_import COMMAND replay_wf_import ${CMAKE_CURRENT_SOURCE_DIR}/corpus/wf_import)
set_tests_properties(fuzz_replay_wf_import PROPERTIES TIMEOUT 120)

if(AC_FUZZ)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_wf_import fuzz_wf_import.c ${CMAKE_SOURCE_DIR}/node/wf_io.c ${CMAKE_SOURCE_DIR}/policy/cron.c)
    target_compile_options(fuzz_wf_import PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_wf_import PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_wf_import PRIVATE ac_node_engine)
  else()
    message(WARNING "AC_FUZZ needs clang (CMAKE_C_COMPILER=clang); fuzz_wf_import is not built")
  endif()
endif()
