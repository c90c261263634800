# tests/fuzz/html_text.cmake - the web page text extractor fuzz target (fuzz_html_text.c, seeds in corpus/html_text/):
# skills/html_text.c. replay_html_text runs the corpus under ctest; with -DAC_FUZZ=ON and clang, fuzz_html_text
# (skills/html_text.c compiled again with instrumentation; the rest comes from ac_skills).
option(AC_FUZZ "Build libFuzzer targets (clang)" OFF)

add_executable(replay_html_text fuzz_html_text.c replay.c)
target_link_libraries(replay_html_text PRIVATE ac_skills)
add_test(NAME fuzz_replay_html_text COMMAND replay_html_text ${CMAKE_CURRENT_SOURCE_DIR}/corpus/html_text)
set_tests_properties(fuzz_replay_html_text PROPERTIES TIMEOUT 120)

if(AC_FUZZ)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_html_text fuzz_html_text.c ${CMAKE_SOURCE_DIR}/skills/html_text.c)
    target_compile_options(fuzz_html_text PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_html_text PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_html_text PRIVATE ac_skills)
  else()
    message(WARNING "AC_FUZZ needs clang (CMAKE_C_COMPILER=clang); fuzz_html_text is not built")
  endif()
endif()
