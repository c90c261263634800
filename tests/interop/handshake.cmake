# tests/interop/handshake.cmake - dist/ framing, flags and handshake: cmocka tests (memory buffers and a socketpair),
# and the interop scenario against real OTP 25 Erlang and Elixir 1.14 nodes through a private epmd on loopback.
ac_unit_test(test_dist_frame ${CMAKE_CURRENT_SOURCE_DIR}/test_dist_frame.c LIBS ac_dist)
ac_unit_test(test_dist_etf_check ${CMAKE_CURRENT_SOURCE_DIR}/test_dist_etf_check.c LIBS ac_dist)
ac_unit_test(test_dist_handshake ${CMAKE_CURRENT_SOURCE_DIR}/test_dist_handshake.c LIBS ac_dist)

# Test helper: our handshake against real nodes, registering with / looking up through EPMD itself (never installed).
add_executable(ac_dist_tool ${CMAKE_CURRENT_SOURCE_DIR}/dist_tool.c)
target_link_libraries(ac_dist_tool PRIVATE ac_dist)

ac_script_test(interop_handshake tests/interop/handshake.sh TIMEOUT 240)
set_property(TEST interop_handshake APPEND PROPERTY ENVIRONMENT "AC_DIST_TOOL=$<TARGET_FILE:ac_dist_tool>")
