# tests/interop/term_json.cmake - dist/term_json.c: the cmocka unit test (built terms, every refusal, hostile and
# truncated buffers) and the interop scenario with real erl and elixir as the oracle, driven through ac_term_tool.
ac_unit_test(test_dist_term_json ${CMAKE_CURRENT_SOURCE_DIR}/test_term_json.c LIBS ac_dist)

# Test helper: ETF (with the version byte) on stdin -> JSON on stdout, or `encode`: JSON -> ETF (never installed).
add_executable(ac_term_tool ${CMAKE_CURRENT_SOURCE_DIR}/term_tool.c)
target_link_libraries(ac_term_tool PRIVATE ac_dist)

ac_script_test(interop_term_json tests/interop/term_json.sh)
set_property(TEST interop_term_json APPEND PROPERTY ENVIRONMENT "AC_TERM_TOOL=$<TARGET_FILE:ac_term_tool>")
