# tests/fuzz/llm_wire.cmake - the LLM wire formats fuzz target (fuzz_llm_wire.c, seeds in corpus/llm_wire/): provider
# responses, prompts and hosts, skills/llm_wire.c. Always: replay_llm_wire runs every corpus file under ctest. With
# -DAC_FUZZ=ON and clang: fuzz_llm_wire, the libFuzzer binary (skills/llm_wire.c compiled again with instrumentation).
option(AC_FUZZ "Build libFuzzer targets (clang)" OFF)

add_executable(replay_llm_wire fuzz_llm_wire.c replay.c)
target_link_libraries(replay_llm_wire PRIVATE ac_skills)
add_test(NAME fuzz_replay_llm_wire COMMAND replay_llm_wire ${CMAKE_CURRENT_SOURCE_DIR}/corpus/llm_wire)
set_tests_properties(fuzz_replay_llm_wire PROPERTIES TIMEOUT 120)

if(AC_FUZZ)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_llm_wire fuzz_llm_wire.c ${CMAKE_SOURCE_DIR}/skills/llm_wire.c)
    target_compile_options(fuzz_llm_wire PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_llm_wire PRIVATE -fsanitize=fuzzer,address,undefined)
    # PQ for its headers: llm_wire.h includes skills/http.h, which includes skills/skill.h (libpq-fe.h)
    target_link_libraries(fuzz_llm_wire PRIVATE ac_policy PkgConfig::JANSSON PkgConfig::PQ)
  else()
    message(WARNING "AC_FUZZ needs clang (CMAKE_C_COMPILER=clang); fuzz_llm_wire is not built")
  endif()
endif()
