# tests/fuzz/ctrl.cmake - the distribution frame fuzz target (fuzz_ctrl.c, seeds in corpus/ctrl/): the bounded term
# walk and the control-message split. replay_ctrl runs the corpus under ctest; with -DAC_FUZZ=ON and clang, fuzz_ctrl.
option(AC_FUZZ "Build libFuzzer targets (clang)" OFF)

add_executable(replay_ctrl fuzz_ctrl.c replay.c)
target_link_libraries(replay_ctrl PRIVATE ac_dist)
add_test(NAME fuzz_replay_ctrl COMMAND replay_ctrl ${CMAKE_CURRENT_SOURCE_DIR}/corpus/ctrl)
set_tests_properties(fuzz_replay_ctrl PROPERTIES TIMEOUT 120)

if(AC_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  add_executable(fuzz_ctrl fuzz_ctrl.c ${CMAKE_SOURCE_DIR}/dist/ctrl.c ${CMAKE_SOURCE_DIR}/dist/etf_check.c)
  target_compile_options(fuzz_ctrl PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
  target_link_options(fuzz_ctrl PRIVATE -fsanitize=fuzzer,address,undefined)
  target_include_directories(fuzz_ctrl PRIVATE ${EI_INCLUDE_DIR})
  target_link_libraries(fuzz_ctrl PRIVATE ac_policy ${EI_LIBRARY} Threads::Threads)
endif()
