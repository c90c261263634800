# Dynamic skills through the node's modules (loader, SkillAPI server, audit) and the real sandbox helper.
ac_unit_test(test_dynskills ${CMAKE_CURRENT_SOURCE_DIR}/test_dynskills.c LIBS ac_node_engine FIXTURES pg)
target_compile_definitions(test_dynskills PRIVATE AC_HOSTILE_DIR="${CMAKE_SOURCE_DIR}/tests/hostile")
set_property(TEST test_dynskills APPEND PROPERTY ENVIRONMENT "AC_SANDBOX_BIN=$<TARGET_FILE:alexclaw-sandbox>")
set_tests_properties(test_dynskills PROPERTIES TIMEOUT 600)
add_dependencies(test_dynskills alexclaw-sandbox)
