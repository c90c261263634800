# tests/interop/epmd.cmake - EPMD (epmd/): the codec's unit tests, the daemon and client in one process, and the
# scenario against real `erl` nodes and Debian's `epmd -names` (tests/interop/epmd.sh, driven through ac_epmd_tool).
ac_unit_test(test_epmd_proto ${CMAKE_CURRENT_SOURCE_DIR}/test_epmd_proto.c LIBS ac_epmd)
ac_unit_test(test_epmd_server ${CMAKE_CURRENT_SOURCE_DIR}/test_epmd_server.c LIBS ac_epmd)

# Test driver (never installed): serve / epmd / register / port / names / ensure.
add_executable(ac_epmd_tool ${CMAKE_CURRENT_SOURCE_DIR}/epmd_tool.c)
target_link_libraries(ac_epmd_tool PRIVATE ac_epmd)

ac_script_test(interop_epmd tests/interop/epmd.sh)
set_property(TEST interop_epmd APPEND PROPERTY ENVIRONMENT "AC_EPMD_TOOL=$<TARGET_FILE:ac_epmd_tool>")
